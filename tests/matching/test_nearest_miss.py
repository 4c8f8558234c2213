"""The nearest miss of a young person left unplaced: the one change that would place them, each
checked here again by re-running the queue with the change made by hand; and never a rule
that protects them."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from test_checker import PANEL, make_instance, referral, vacancy

from matching import nearest_miss
from matching.engine import match
from matching.explain import UNPLACED_COLUMNS, explain
from matching.nearest_miss import NOT_RELAXED, RELAXABLE, nearest_misses
from matching.policy import Policy, SolverSettings
from matching.rules import RULES

POLICY = Policy(solver=SolverSettings(time_limit_seconds=5.0, workers=0))
NEAR = Policy(distance_cap_miles=20, solver=POLICY.solver)


def placements(result) -> dict[str, str]:
    return dict(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))


def miss_of(instance, policy, rid):
    result = match(instance, policy)
    assert rid in result.unplaced
    return result, nearest_misses(result, instance, policy)[rid]


def with_beds(instance, vacancy_id, extra=1):
    vacancies = instance.vacancies.copy()
    vacancies.loc[vacancies["vacancy_id"] == vacancy_id, "beds"] += extra
    return dataclasses.replace(instance, vacancies=vacancies)


def test_every_rule_is_either_relaxable_or_kept_with_a_reason():
    assert set(RELAXABLE) | set(NOT_RELAXED) == set(RULES) and not set(RELAXABLE) & set(NOT_RELAXED)
    assert all(NOT_RELAXED[r] for r in NOT_RELAXED) and all(RELAXABLE.values())
    for protective in ("risk_excluded", "sex_restricted", "under_16_in_supported_accommodation",
                       "unregistered_for_under_18", "inside_exclusion_zone"):
        assert protective not in RELAXABLE


def test_a_full_bed_is_the_nearest_miss_and_one_more_bed_places_them():
    inst = make_instance([referral("R1", urgency="today"), referral("R2", urgency="over_5_days")],
                         [vacancy("V1", miles_east=2.0)])
    result, miss = miss_of(inst, POLICY, "R2")
    assert placements(result) == {"R1": "V1"}
    assert (miss.kind, miss.checked, miss.vacancy_id, miss.moved) == ("bed", True, "V1", [])
    assert miss.words.startswith("One more bed at home P1 (vacancy V1, now taken by R1) would place them")
    # Independently: the same queue with one more bed at V1 places R2 and keeps R1 placed.
    again = match(with_beds(inst, "V1"), POLICY)
    assert placements(again) == {"R1": "V1", "R2": "V1"}


def test_no_bed_is_suggested_when_the_young_person_has_no_home_at_all():
    # Refused pair of the test above: R2 cannot live at V1 (a risk it cannot manage), so a
    # second bed there would not place them.
    inst = make_instance([referral("R1", urgency="today"), referral("R2", risks_to_self=["self_harm"])],
                         [vacancy("V1", excludes_risks=["self_harm"])])
    _, miss = miss_of(inst, POLICY, "R2")
    assert miss.kind == "none" and "bed" not in miss.words


def test_a_home_just_beyond_the_distance_limit_is_the_miss_and_that_many_miles_more_places_them():
    inst = make_instance([referral("R1")], [vacancy("V1", miles_east=26.0), vacancy("V2", miles_east=23.0)])
    _, miss = miss_of(inst, NEAR, "R1")
    assert (miss.kind, miss.checked, miss.vacancy_id) == ("rule", True, "V2")
    assert "23.0 miles from home and 3.0 miles beyond the 20-mile distance limit" in miss.words
    assert miss.words.endswith("would place them, and no one else would move")
    # Raising the limit by the stated 3 miles places them there; by less does not.
    assert placements(match(inst, NEAR.model_copy(update={"distance_cap_miles": 23.0}))) == {"R1": "V2"}
    assert match(inst, NEAR.model_copy(update={"distance_cap_miles": 22.9})).unplaced == ["R1"]


def test_a_bed_free_a_few_days_too_late_is_the_miss():
    late = pd.Timestamp(PANEL) + pd.Timedelta(days=10)  # within_5_days: needed by the panel day + 5
    inst = make_instance([referral("R1")], [vacancy("V1", available_from=late)])
    _, miss = miss_of(inst, POLICY, "R1")
    assert (miss.kind, miss.checked) == ("rule", True)
    assert miss.words.startswith("Waiting 5 days for vacancy V1 at home P1 (free on 3 December 2026; "
                                 "they need a bed by 28 November 2026) would place them")


def test_a_safeguarding_rule_is_never_suggested_even_when_it_is_the_only_blocker():
    inst = make_instance(
        [referral("R1", risks_to_others=["fire_setting"]), referral("R2", sex="male")],
        [vacancy("V1", excludes_risks=["to_others:fire_setting"], sex="male"), vacancy("V2", sex="female",
                                                                                     excludes_risks=["to_others:fire_setting"])])
    result = match(inst, POLICY)
    assert set(result.unplaced) == {"R1"}
    miss = nearest_misses(result, inst, POLICY)["R1"]
    assert miss.kind == "none" and miss.words.startswith("No single change would place them")
    assert "a risk the home cannot manage" in miss.words and "_" not in miss.words


def test_a_safeguarding_rule_together_with_a_relaxable_one_is_not_a_single_change():
    # Refused: 23 miles away AND a risk the home cannot manage. Allowed (control): 23 miles alone.
    risky = vacancy("V1", miles_east=23.0, excludes_risks=["self_harm"])
    refused = make_instance([referral("R1", risks_to_self=["self_harm"])], [risky])
    assert miss_of(refused, NEAR, "R1")[1].kind == "none"
    allowed = make_instance([referral("R1", risks_to_self=["self_harm"])], [vacancy("V1", miles_east=23.0)])
    assert miss_of(allowed, NEAR, "R1")[1].kind == "rule"


def test_the_panels_own_ban_is_the_miss_and_lifting_it_places_them():
    inst = make_instance([referral("R1")], [vacancy("V1")], bans=[("R1", "V1")])
    _, miss = miss_of(inst, POLICY, "R1")
    assert (miss.kind, miss.checked, miss.vacancy_id) == ("panel", True, "V1")
    assert miss.words.startswith("Lifting the panel's ban on vacancy V1 (home P1) for them would place them")
    assert placements(match(dataclasses.replace(inst, bans=[]), POLICY)) == {"R1": "V1"}


def test_a_lock_on_someone_else_is_a_candidate_after_the_bed_which_moves_nobody():
    # R1 is locked to V1, the only home R2 (male) could have; R1 could live at V2 (female only).
    inst = make_instance([referral("R1"), referral("R2", sex="male", urgency="today")],
                         [vacancy("V1"), vacancy("V2", miles_east=5.0, sex="female")], locks=[("R1", "V1")])
    result, miss = miss_of(inst, POLICY, "R2")
    assert (miss.kind, miss.moved) == ("bed", [])  # one more bed moves nobody: it comes first
    changes, _ = nearest_miss._Finder(result, inst, POLICY, None, True).candidates("R2")
    lock = next(c for c in changes if c.kind == "panel")
    assert lock.what == "Lifting the panel's lock of R1 on vacancy V1 (home P1)"
    # Lifting the lock instead places R2 there and moves R1 to V2.
    assert placements(match(dataclasses.replace(inst, locks=[]), POLICY)) == {"R1": "V2", "R2": "V1"}


def test_the_intensive_cap_of_a_shared_home_is_the_miss():
    residents = [{"property_id": "P1", "tier": "intensive", "risks": []},
                 {"property_id": "P1", "tier": "intensive", "risks": []}]
    inst = make_instance([referral("R1", tier="intensive")], [vacancy("V1")], residents=residents)
    _, miss = miss_of(inst, POLICY, "R1")
    assert (miss.kind, miss.checked) == ("side constraint", True)
    assert miss.words.startswith("Room for one more young person needing intensive support at home P1 "
                                 "(its limit of 2 is reached) would place them")
    assert placements(match(inst, POLICY.model_copy(update={"max_intensive_per_shared_home": 3}))) == {"R1": "V1"}


def test_a_clash_with_a_resident_is_named_and_not_relaxed():
    residents = [{"property_id": "P1", "tier": "standard", "risks": ["to_others:sexual"]}]
    inst = make_instance([referral("R1", risks_to_self=["sexual_exploitation"])], [vacancy("V1")],
                         residents=residents)
    _, miss = miss_of(inst, POLICY, "R1")
    assert miss.kind == "none" and "a current resident's risks clash with theirs" in miss.words


def test_above_the_checked_size_the_nearest_candidate_is_reported_not_checked(monkeypatch):
    monkeypatch.setattr(nearest_miss, "CHECK_PAIRS", -1)  # every queue is "too large"
    inst = make_instance([referral("R1")], [vacancy("V1", miles_east=23.0)])
    result = match(inst, NEAR)
    miss = nearest_misses(result, inst, NEAR)["R1"]
    assert (miss.kind, miss.checked) == ("rule", False) and miss.words.endswith("could place them")


def test_unplaced_csv_carries_the_nearest_miss_in_plain_words_and_the_same_each_run():
    inst = make_instance([referral("R1", urgency="today"), referral("R2", urgency="over_5_days"), referral("R3")],
                         [vacancy("V1", miles_east=2.0), vacancy("V2", miles_east=22.0, sex="male")])
    result = match(inst, NEAR)
    first = explain(result, inst, NEAR).unplaced
    assert list(first.columns) == UNPLACED_COLUMNS
    assert set(first["nearest_miss_kind"]) <= set(nearest_miss.KINDS)
    assert set(first["nearest_miss_checked"]) <= {"yes", "no"}
    for words in first["nearest_miss"]:
        assert words and "_" not in words and not any(w in words.lower() for w in ("point", "penalty", "objective"))
    pd.testing.assert_frame_equal(first, explain(match(inst, NEAR), inst, NEAR).unplaced)


@pytest.mark.parametrize("mode", ["lexicographic", "weighted"])
def test_both_modes_find_the_bed(mode):
    policy = Policy(mode=mode, solver=POLICY.solver)
    inst = make_instance([referral("R1", urgency="today"), referral("R2", urgency="over_5_days")],
                         [vacancy("V1", miles_east=2.0)])
    _, miss = miss_of(inst, policy, "R2")
    assert miss.kind == "bed" and miss.checked


def test_summary_counts_the_nearest_misses_by_kind():
    from matching.output import summary

    inst = make_instance([referral("R1", urgency="today"), referral("R2", urgency="over_5_days"),
                          referral("R3", sex="male")], [vacancy("V1", sex="female")])
    result = match(inst, POLICY)
    s = summary(result, explain(result, inst, POLICY))
    assert s["nearest_misses"] == {"by_kind": {"bed": 1, "none": 1}, "checked": 1, "not_checked": 1}
