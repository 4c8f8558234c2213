"""A region's run (issue 17, part 3): on random regions of two or three councils sharing a market
(some vacancies one council's own, the rest the region's), the region's proposal never places
fewer of a council's young people (urgency-weighted) than that council's own proven optimum on
its own share; every council's placements pass the independent checker under that council's own
policy and area, and no bed is given twice across councils."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from matching import checker, measures
from matching.instance import Instance
from matching.policy import Policy
from matching.region import GuaranteeUnmet, Member, match_region, own_share
from matching.scoring import score
from test_checker import MEDWAY, make_instance, referral, vacancy
from test_engine import FAST, random_instance

KENT = "E10000016"
BEXLEY = "E09000004"
COUNCILS = [MEDWAY, KENT, BEXLEY]
POLICY = Policy(solver=FAST)


def region(seed: int, members: int, n_ref: int, n_vac: int) -> list[Member]:
    """``members`` councils, each with its own queue, on one market of ``n_vac`` vacancies of
    which about a third are one council's own (invisible to the others)."""
    rng = np.random.default_rng(seed)
    market = random_instance(seed, n_ref=1, n_vac=n_vac)
    vac = market.vacancies
    owner = {v: (COUNCILS[int(rng.integers(members))] if rng.random() < 0.35 else None) for v in vac["vacancy_id"]}
    out = []
    for k, council in enumerate(COUNCILS[:members]):
        queue = random_instance(seed * 7 + k + 1, n_ref=n_ref, n_vac=1).referrals.copy()
        queue["referral_id"] = [f"{council[-3:]}-{r}" for r in queue["referral_id"]]
        queue["sibling_group"] = [f"{council[-3:]}-{g}" if isinstance(g, str) else g for g in queue["sibling_group"]]
        visible = vac[[owner[v] in (None, council) for v in vac["vacancy_id"]]].reset_index(drop=True)
        instance = Instance(panel_date=market.panel_date, placing_authority=council, referrals=queue,
                            vacancies=visible, residents=market.residents)
        out.append(Member(council, instance, POLICY,
                          own_vacancies=frozenset(v for v, c in owner.items() if c == council)))
    return out


def weighted(pairs: pd.DataFrame) -> int:
    return measures.of(score(pairs, POLICY))["placed"] if len(pairs) else 0


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), members=st.integers(2, 3), n_ref=st.integers(3, 8), n_vac=st.integers(3, 9))
def test_no_council_places_fewer_than_alone_and_every_placement_is_its_councils_to_make(seed, members, n_ref, n_vac):
    councils = region(seed, members, n_ref, n_vac)
    out = match_region(councils, POLICY)
    chosen = out.result.matches
    for m in councils:
        alone = out.own[m.council]
        assert alone.status == "OPTIMAL"  # the council's separate optimum, proven
        mine = chosen[chosen["referral_id"].isin(m.instance.referrals["referral_id"])]
        # The guarantee, against the council's own optimum, in the region's weighing.
        assert weighted(mine) >= weighted(alone.matches) == out.floors[m.council]
        # Each placement allowed under the council's own policy, area and market.
        pairs = list(zip(mine["referral_id"], mine["vacancy_id"], strict=True))
        assert checker.check(pairs, m.instance, m.policy) == []
        # Its own run used only its own share.
        share = set(own_share(m).vacancies["vacancy_id"])
        assert set(alone.matches["vacancy_id"]) <= share
    beds = dict(zip(councils[0].instance.vacancies["vacancy_id"], councils[0].instance.vacancies["beds"]))
    for m in councils[1:]:
        beds |= dict(zip(m.instance.vacancies["vacancy_id"], m.instance.vacancies["beds"]))
    assert all(n <= beds[v] for v, n in Counter(chosen["vacancy_id"]).items())
    assert sum(out.placed_people.values()) == len(chosen)
    assert out.gain == len(chosen) - sum(len(r.matches) for r in out.own.values())


def test_the_region_places_a_young_person_neither_council_could_alone():
    """Medway's young person could live in either home; Kent's only in the self-contained one,
    which is in Medway's area. Alone, Medway takes the self-contained home (its own share) and
    Kent, whose share is the shared home in Maidstone, places nobody. Together, Medway's young
    person moves to Maidstone and Kent's takes the self-contained home: both placed, and Medway
    still places as many as it would alone."""
    flat = vacancy("VM", miles_east=1.0, la_code=MEDWAY, service_type="supported_tenancy", setting="self_contained")
    shared = vacancy("VK", miles_east=8.0, la_code="E07000110")  # Maidstone: Kent's area
    medway = make_instance([referral("M1", urgency="today")], [flat, shared])
    kent = dataclasses.replace(make_instance([referral("K1", urgency="today", living_with="solo")], [flat, shared]),
                               placing_authority=KENT)
    out = match_region([Member(MEDWAY, medway, POLICY), Member(KENT, kent, POLICY)], POLICY)
    assert out.alone_people == {MEDWAY: 1, KENT: 0}
    assert out.placed_people == {MEDWAY: 1, KENT: 1} and out.gain == 1
    assert dict(zip(out.result.matches["referral_id"], out.result.matches["vacancy_id"])) == {"M1": "VK", "K1": "VM"}


def test_a_guarantee_the_panels_choices_make_impossible_names_the_council():
    """Kent's panel locks its young person into the one bed of Medway's share: Medway, who would
    place its own young person there alone, cannot be given as many, and is named."""
    home = vacancy("VM", miles_east=1.0, la_code=MEDWAY)
    medway = make_instance([referral("M1", urgency="today")], [home])
    kent = dataclasses.replace(make_instance([referral("K1", urgency="today")], [home], locks=[("K1", "VM")]),
                               placing_authority=KENT)
    with pytest.raises(GuaranteeUnmet, match=MEDWAY):
        match_region([Member(MEDWAY, medway, POLICY), Member(KENT, kent, POLICY)], POLICY)


def test_two_councils_sibling_groups_of_the_same_name_are_not_one_group():
    """Medway's sibling pair S1 and Kent's sibling pair S1 are two families: each pair lives
    together, but the two pairs need not share a home (there is none for four)."""
    homes = [vacancy("VA", miles_east=1.0, property_id="PA", beds=2), vacancy("VB", miles_east=2.0, property_id="PB",
                                                                                beds=2)]
    medway = make_instance([referral("M1", sibling_group="S1"), referral("M2", sibling_group="S1")], homes)
    kent = dataclasses.replace(make_instance([referral("K1", sibling_group="S1"), referral("K2", sibling_group="S1")],
                                             homes), placing_authority=KENT)
    out = match_region([Member(MEDWAY, medway, POLICY), Member(KENT, kent, POLICY)], POLICY)
    where = dict(zip(out.result.matches["referral_id"], out.result.matches["property_id"]))
    assert len(where) == 4 and where["M1"] == where["M2"] and where["K1"] == where["K2"] != where["M1"]


# Regions whose best proposal with no guarantee leaves a council short: with the weights found
# (25, 30, 32, 35) and not (27, 33: the constrained search then takes over).
SHORT_REGIONS = [25, 27, 30, 32, 33, 35]


@pytest.mark.parametrize("seed", SHORT_REGIONS)
def test_the_guarantee_holds_when_it_is_kept_by_weighting_the_short_councils_up(seed, monkeypatch):
    """Above the whole-model size the region keeps the guarantee by weighting up the young people
    of a council left short (matching.region._with_multipliers) before anything else: made to do
    so here on small regions, every floor still holds and every placement is allowed."""
    import matching.region as region_module

    monkeypatch.setattr(region_module, "FULL_MODEL_PAIRS", 0)
    councils = region(seed, 3, 8, 5)
    out = match_region(councils, POLICY)
    chosen = out.result.matches
    for m in councils:
        mine = chosen[chosen["referral_id"].isin(m.instance.referrals["referral_id"])]
        assert weighted(mine) >= out.floors[m.council]
        assert checker.check(list(zip(mine["referral_id"], mine["vacancy_id"], strict=True)), m.instance, m.policy) == []


def test_each_councils_part_is_explained_against_what_the_others_leave_it():
    """A council's part is explained, and its nearest misses checked, on the market the other
    councils' proposals leave: their beds taken, their young people living where proposed. The
    part itself fits what is left (the independent checker, with the others as residents)."""
    from matching.explain import explain
    from matching.region import left_for

    checked = 0
    for seed in range(6):
        councils = region(seed, 3, 6, 5)
        out = match_region(councils, POLICY)
        chosen = out.result.matches
        for m in councils:
            left = left_for(m, out, councils)
            theirs = chosen[~chosen["referral_id"].isin(m.instance.referrals["referral_id"])]
            taken = Counter(theirs["vacancy_id"])
            for v, before, after in zip(m.instance.vacancies["vacancy_id"], m.instance.vacancies["beds"],
                                        left.vacancies["beds"], strict=True):
                assert after == max(0, before - taken.get(v, 0))
            assert len(left.residents) == len(m.instance.residents) + len(theirs)
            part = out.part(m)
            pairs = list(zip(part.matches["referral_id"], part.matches["vacancy_id"], strict=True))
            assert checker.check(pairs, left, m.policy) == []
            unplaced = explain(part, left, m.policy).unplaced
            checked += int((unplaced["nearest_miss_checked"] == "yes").sum()) if len(unplaced) else 0
    assert checked > 0  # nearest misses are checked in a region's run, not only reported
