"""Eligibility: the hard rules, the funnel and the long table of eligible pairs.

Every rule has a refused/allowed pair that differ in one field; the vectorised engine is
compared with a row-by-row Python reading of the rules written here (hypothesis, small random
instances, the funnel's first-rule counts too); chunking and spatial pruning must not change
the answer; and the demo council gives most of its queue something to consider.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.eligibility import (
    PAIR_COLUMNS,
    RULES,
    Eligibility,
    broken_rules,
    eligible_pairs,
)
from matching.instance import REFERRAL_COLUMNS, VACANCY_COLUMNS, Instance
from matching.policy import Policy
from models.db import transaction
from providers.authorities import default_authorities
from providers.geography import pl_distance_miles

PANEL = dt.date(2026, 11, 23)
MEDWAY = "E06000035"
# Real grid references (ONS postcode directory).
CHATHAM = (575850.0, 167644.0)  # ME4 4AA, Medway
GILLINGHAM = (577071.0, 168623.0)  # ME7 1HG, Medway
MAIDSTONE = (575313.0, 154316.0)  # ME15 6AA, Maidstone: Kent, which adjoins Medway
LAMBETH = (530625.0, 179850.0)  # SE1 7PB, Lambeth: at a distance
BRIGHTON = (531040.0, 104624.0)  # BN1 1AA, Brighton and Hove: about 48 miles from Chatham
NAN = float("nan")
METRES_PER_MILE = 1609.3  # PL_DISTANCE: km / 1.6093


def day(offset: int) -> pd.Timestamp:
    return pd.Timestamp(PANEL + dt.timedelta(days=offset))


def referral(**changes) -> dict:
    """An 18-year-old at enhanced tier, needed within 5 days, living in Chatham."""
    row = dict(
        referral_id="R1", date_of_birth=pd.Timestamp("2008-05-01"), sex="male", legal_status="former_relevant",
        tier="enhanced", urgency="within_5_days", referred_on=day(-7), home_postcode="ME4 4AA",
        home_e=CHATHAM[0], home_n=CHATHAM[1], home_la=MEDWAY, edu_e=NAN, edu_n=NAN, pref_e=NAN, pref_n=NAN,
        needs=["mental_health"], risks_to_self=["self_harm"], risks_to_others=[], living_with="no_preference",
        type_suitability={"supported_accommodation": "preferred"}, avoid_e=[], avoid_n=[],
        avoid_radius_miles=NAN, sibling_group=None, deprivation_of_liberty=False,
    )
    row.update(changes)
    return row


def vacancy(**changes) -> dict:
    """A registered, well-graded shared home in Gillingham, free in two days, standard and
    enhanced support on offer."""
    row = dict(
        vacancy_id="V1", property_id="P1", provider_id="PRV1", beds=1, available_from=day(2), reserved_for=None,
        postcode="ME7 1HG", easting=GILLINGHAM[0], northing=GILLINGHAM[1], la_code=MEDWAY,
        service_type="supported_accommodation", setting="shared_care_experienced", ofsted_registered=True,
        ofsted_grade="good", sex="any", age_min=16, age_max=25, accepts_needs=["autism_adhd", "mental_health"],
        excludes_risks=["to_others:fire_setting"], price_standard=1200.0, price_enhanced=1800.0,
        price_intensive=NAN,
    )
    row.update(changes)
    return row


def make(referrals=None, vacancies=None, bans=(), panel=PANEL, answers=()) -> Instance:
    return Instance(
        panel_date=panel, placing_authority=MEDWAY,
        referrals=pd.DataFrame(referrals if referrals is not None else [referral()], columns=REFERRAL_COLUMNS),
        vacancies=pd.DataFrame(vacancies if vacancies is not None else [vacancy()], columns=VACANCY_COLUMNS),
        bans=list(bans), answers=list(answers),
    )


def declined(referral_id: str, provider_id: str) -> dict:
    """A provider's answer declining a young person (providers.offers.answers_for_run's shape)."""
    return {"referral_id": referral_id, "provider_id": provider_id, "vacancy_id": None, "tier": None,
            "weekly_price": None, "start": None}


def offered(referral_id: str, provider_id: str, vacancy_id: str, tier: str, price: float, start) -> dict:
    return {"referral_id": referral_id, "provider_id": provider_id, "vacancy_id": vacancy_id, "tier": tier,
            "weekly_price": price, "start": pd.Timestamp(start).date()}


def one_pair(case: dict) -> tuple[Instance, Policy]:
    instance = make([referral(**case.get("referral", {}))], [vacancy(**case.get("vacancy", {}))], case.get("bans", ()),
                    answers=case.get("answers", ()))
    return instance, Policy(**case.get("policy", {}))


def merged(a: dict, b: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for k, v in b.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


# (rule, what makes the base pair break it, the one field that then lets it pass)
AGE_15, AGE_17 = pd.Timestamp("2011-01-01"), pd.Timestamp("2009-06-01")
RULE_CASES = [
    ("banned_by_panel", {"bans": [("R1", "V1")]}, {"bans": [("R1", "V9")]}),
    ("beyond_distance_cap", {"vacancy": {"easting": BRIGHTON[0], "northing": BRIGHTON[1]},
                             "policy": {"distance_cap_miles": 20.0}}, {"policy": {"distance_cap_miles": 60.0}}),
    ("declined_by_provider", {"answers": [declined("R1", "PRV1")]}, {"answers": [declined("R1", "PRV2")]}),
    ("not_available_in_time", {"vacancy": {"available_from": day(6)}}, {"vacancy": {"available_from": day(5)}}),
    ("tier_not_offered", {"referral": {"tier": "intensive"}}, {"vacancy": {"price_intensive": 3600.0}}),
    ("age_out_of_range", {"vacancy": {"age_max": 17}}, {"vacancy": {"age_max": 18}}),
    ("under_16_in_supported_accommodation", {"referral": {"date_of_birth": AGE_15}, "vacancy": {"age_min": 14}},
     {"vacancy": {"service_type": "childrens_home"}}),
    ("unregistered_for_under_18", {"referral": {"date_of_birth": AGE_17}, "vacancy": {"ofsted_registered": False}},
     {"vacancy": {"ofsted_registered": True}}),
    ("sex_restricted", {"vacancy": {"sex": "female"}}, {"referral": {"sex": "female"}}),
    ("need_not_met", {"referral": {"needs": ["bsl", "mental_health"]}},
     {"vacancy": {"accepts_needs": ["autism_adhd", "bsl", "mental_health"]}}),
    ("risk_excluded", {"referral": {"risks_to_others": ["fire_setting"]}}, {"vacancy": {"excludes_risks": []}}),
    ("type_unsuitable", {"referral": {"type_suitability": {"supported_accommodation": "unsuitable"}}},
     {"referral": {"type_suitability": {"supported_accommodation": "suitable"}}}),
    ("dol_in_registered_supported_accommodation", {"referral": {"deprivation_of_liberty": True}},
     {"vacancy": {"ofsted_registered": False}}),
    ("inside_exclusion_zone", {"referral": {"avoid_e": [GILLINGHAM[0] + 1000.0], "avoid_n": [GILLINGHAM[1]],
                                            "avoid_radius_miles": 1.0}},  # 0.6 miles away
     {"referral": {"avoid_radius_miles": 0.5}}),
    ("grade_below_good", {"vacancy": {"ofsted_grade": "requires_improvement"}},
     {"policy": {"require_good_grade": False}}),
    ("emergency_for_under_18", {"referral": {"date_of_birth": AGE_17}, "vacancy": {"service_type": "emergency"}},
     {"referral": {"date_of_birth": pd.Timestamp("2008-06-01")}}),
    ("staying_put_not_reserved", {"vacancy": {"service_type": "staying_put"}}, {"vacancy": {"reserved_for": "R1"}}),
    ("solo_needs_self_contained", {"referral": {"living_with": "solo"}}, {"vacancy": {"setting": "self_contained"}}),
]


def test_the_base_pair_is_eligible():
    e = eligible_pairs(*one_pair({}))
    assert len(e.pairs) == 1
    assert broken_rules(*one_pair({}), [("R1", "V1")]) == {("R1", "V1"): []}


def test_every_rule_has_a_case_and_the_funnel_order_is_the_documented_one():
    assert RULES == [case[0] for case in RULE_CASES]


@pytest.mark.parametrize("code, refuse, allow", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_rule_refuses_and_one_field_allows(code, refuse, allow):
    instance, policy = one_pair(refuse)
    e = eligible_pairs(instance, policy)
    assert e.pairs.empty
    assert e.funnel.loc["R1", code] == 1 and e.funnel.loc["R1", "eligible"] == 0
    assert broken_rules(instance, policy, [("R1", "V1")]) == {("R1", "V1"): [code]}

    instance, policy = one_pair(merged(refuse, allow))
    e = eligible_pairs(instance, policy)
    assert list(e.pairs["vacancy_id"]) == ["V1"]
    assert e.funnel.loc["R1", RULES].sum() == 0
    assert broken_rules(instance, policy, [("R1", "V1")]) == {("R1", "V1"): []}


# --- rule details ----------------------------------------------------------------------------


@pytest.mark.parametrize("miles, allowed", [(60.0, True), (60.04, True), (60.05, False), (60.06, False), (61.0, False)])
def test_the_cap_compares_pl_distance_rounded_to_a_tenth(miles, allowed):
    e_, n_ = CHATHAM[0] + miles * METRES_PER_MILE, CHATHAM[1]
    instance = make(vacancies=[vacancy(easting=e_, northing=n_)])
    assert pl_distance_miles(*CHATHAM, e_, n_) == pytest.approx(round(miles + 1e-9, 1))
    e = eligible_pairs(instance, Policy(distance_cap_miles=60.0))
    assert len(e.pairs) == int(allowed)
    assert e.funnel.loc["R1", "beyond_distance_cap"] == int(not allowed)


def test_an_unknown_distance_is_not_within_the_cap():
    instance = make(vacancies=[vacancy(easting=NAN, northing=NAN)])
    assert eligible_pairs(instance, Policy(distance_cap_miles=60.0)).funnel.loc["R1", "beyond_distance_cap"] == 1
    e = eligible_pairs(instance, Policy(distance_cap_miles=None))
    assert len(e.pairs) == 1 and np.isnan(e.pairs.loc[0, "miles_from_home"])


def test_age_is_taken_on_the_start_date():
    # 18 on 1 December 2026: a bed for 18+ free before then is not yet theirs, one free on the day is.
    born = pd.Timestamp("2008-12-01")
    for free, allowed in ((day(6), False), (pd.Timestamp("2026-12-01"), True)):
        instance = make([referral(date_of_birth=born, urgency="over_5_days")], [vacancy(age_min=18, available_from=free)])
        assert len(eligible_pairs(instance, Policy()).pairs) == int(allowed)
    # A bed already free starts on the panel date.
    instance = make([referral(date_of_birth=pd.Timestamp("2008-11-23"))], [vacancy(age_min=18, available_from=day(-30))])
    e = eligible_pairs(instance, Policy())
    assert e.pairs.loc[0, "start_date"] == pd.Timestamp(PANEL)


def test_a_29_february_birthday_counts_from_1_march():
    leapling = pd.Timestamp("2008-02-29")
    for panel, age in ((dt.date(2026, 2, 28), 17), (dt.date(2026, 3, 1), 18)):
        instance = make([referral(date_of_birth=leapling)], [vacancy(age_min=18, available_from=pd.Timestamp(panel))],
                        panel=panel)
        assert len(eligible_pairs(instance, Policy()).pairs) == int(age >= 18)


def test_under_16s_may_go_to_foster_care_but_no_kind_of_supported_accommodation():
    young = referral(date_of_birth=AGE_15, type_suitability={})
    kinds = ["supported_accommodation", "supported_tenancy", "floating_support", "supported_lodgings",
             "staying_put", "foster_care", "childrens_home"]
    vacs = [vacancy(vacancy_id=f"V{i}", service_type=k, age_min=14, reserved_for="R1") for i, k in enumerate(kinds)]
    e = eligible_pairs(make([young], vacs), Policy())
    assert sorted(e.pairs["service_type"]) == ["childrens_home", "foster_care"]
    assert e.funnel.loc["R1", "under_16_in_supported_accommodation"] == 5


def test_risks_to_others_and_to_self_are_not_confused():
    # 'sexual' (to others) is not 'sexual_exploitation' (to self), and a property excluding
    # a risk to others names it with the prefix.
    r = referral(risks_to_self=["sexual_exploitation"], risks_to_others=["sexual"])
    allowed = make([r], [vacancy(excludes_risks=["sexual", "to_others:sexual_exploitation"])])
    assert len(eligible_pairs(allowed, Policy()).pairs) == 1
    for excluded in (["to_others:sexual"], ["sexual_exploitation"]):
        refused = make([r], [vacancy(excludes_risks=excluded)])
        assert broken_rules(refused, Policy(), [("R1", "V1")]) == {("R1", "V1"): ["risk_excluded"]}


@pytest.mark.parametrize("grade, allowed", [("outstanding", True), ("good", True), (None, True),
                                            ("requires_improvement", False), ("inadequate", False)])
def test_only_good_or_better_or_ungraded_providers(grade, allowed):
    assert len(eligible_pairs(make(vacancies=[vacancy(ofsted_grade=grade)]), Policy()).pairs) == int(allowed)


def test_a_staying_put_vacancy_is_only_for_the_young_person_named_on_it():
    vacs = [vacancy(vacancy_id="V1", service_type="staying_put", reserved_for="R2")]
    e = eligible_pairs(make([referral(), referral(referral_id="R2")], vacs), Policy())
    assert list(e.pairs["referral_id"]) == ["R2"]
    assert e.funnel.loc["R1", "staying_put_not_reserved"] == 1


def test_an_exclusion_zone_is_around_any_of_the_points_and_inclusive():
    far, near = (LAMBETH[0], LAMBETH[1]), (GILLINGHAM[0], GILLINGHAM[1] + 2.0 * METRES_PER_MILE)  # 2.0 miles
    r = referral(avoid_e=[far[0], near[0]], avoid_n=[far[1], near[1]], avoid_radius_miles=2.0)
    assert broken_rules(make([r]), Policy(), [("R1", "V1")])[("R1", "V1")] == ["inside_exclusion_zone"]
    r["avoid_radius_miles"] = 1.9
    assert broken_rules(make([r]), Policy(), [("R1", "V1")])[("R1", "V1")] == []


@pytest.mark.parametrize("need, offered, tier, over, cost", [
    ("standard", {"price_standard": 1000.0, "price_enhanced": 1800.0, "price_intensive": 3600.0}, "standard", 0, 1000.0),
    ("standard", {"price_standard": NAN, "price_enhanced": 1800.0, "price_intensive": 3600.0}, "enhanced", 1, 1800.0),
    ("standard", {"price_standard": NAN, "price_enhanced": NAN, "price_intensive": 3600.0}, "intensive", 2, 3600.0),
    ("enhanced", {"price_standard": 1000.0, "price_enhanced": NAN, "price_intensive": 3600.0}, "intensive", 1, 3600.0),
    ("enhanced", {"price_standard": 1000.0, "price_enhanced": 1800.0, "price_intensive": NAN}, "enhanced", 0, 1800.0),
])
def test_the_lowest_offered_tier_at_or_above_the_need_and_its_price(need, offered, tier, over, cost):
    e = eligible_pairs(make([referral(tier=need)], [vacancy(**offered)]), Policy())
    row = e.pairs.iloc[0]
    assert (row["tier"], row["need_tier"], row["over_provision"], row["weekly_cost"]) == (tier, need, over, cost)


# --- the output table and the funnel ---------------------------------------------------------


def small_queue() -> Instance:
    refs = [
        referral(referral_id="R1", edu_e=MAIDSTONE[0], edu_n=MAIDSTONE[1], pref_e=CHATHAM[0], pref_n=CHATHAM[1],
                 sibling_group="S1"),
        referral(referral_id="R2", tier="intensive", living_with="solo", sibling_group="S1"),
        referral(referral_id="R3", sex="female", urgency="today", date_of_birth=AGE_17),
    ]
    vacs = [
        vacancy(vacancy_id="V1"),
        vacancy(vacancy_id="V2", property_id="P2", easting=MAIDSTONE[0], northing=MAIDSTONE[1], la_code="E07000110",
                setting="self_contained", price_intensive=3900.0, available_from=day(0)),
        vacancy(vacancy_id="V3", property_id="P3", easting=LAMBETH[0], northing=LAMBETH[1], la_code="E09000022",
                service_type="supported_tenancy", price_standard=NAN, available_from=day(-3)),
        vacancy(vacancy_id="V4", property_id="P4", la_code=None, sex="female", ofsted_grade="outstanding",
                available_from=day(0)),
        vacancy(vacancy_id="V5", property_id="P5", service_type="emergency", ofsted_registered=False,
                ofsted_grade=None, available_from=day(0)),
    ]
    return make(refs, vacs, bans=[("R1", "V5")])


def test_pairs_have_the_contract_columns_sorted_and_typed():
    e = eligible_pairs(small_queue(), Policy())
    pairs = e.pairs
    assert list(pairs.columns) == PAIR_COLUMNS
    assert list(zip(pairs.referral_id, pairs.vacancy_id)) == sorted(zip(pairs.referral_id, pairs.vacancy_id))
    for col in ("in_area", "adjoining", "at_a_distance", "out_of_area", "shared_home", "outside_preferred", "emergency"):
        assert pairs[col].dtype == bool, col
    assert pd.api.types.is_integer_dtype(pairs["over_provision"])
    # Labels many pairs share are category codes (a byte or two per pair), in sorted order.
    for col in ("referral_id", "vacancy_id", "property_id", "tier", "need_tier", "la_code", "service_type",
                "setting", "suitability", "urgency", "sibling_group"):
        assert isinstance(pairs[col].dtype, pd.CategoricalDtype), col
        assert list(pairs[col].cat.categories) == sorted(pairs[col].cat.categories), col
    assert pairs["weekly_cost"].dtype == float and pairs["miles_from_home"].dtype == float
    assert list(e.funnel.columns) == [*RULES, "considered", "eligible"]
    assert list(e.funnel.index) == ["R1", "R2", "R3"] and e.funnel.index.name == "referral_id"
    assert e.seconds >= 0

    got = {(r.referral_id, r.vacancy_id): r for r in pairs.itertuples()}
    assert set(got) == {("R1", "V1"), ("R1", "V2"), ("R1", "V3"), ("R2", "V2"), ("R3", "V2"), ("R3", "V3"), ("R3", "V4")}
    r1v2 = got[("R1", "V2")]
    assert r1v2.miles_from_home == pl_distance_miles(*CHATHAM, *MAIDSTONE) == 8.3
    assert r1v2.miles_from_education == 0.0 and r1v2.outside_preferred
    assert (r1v2.in_area, r1v2.adjoining, r1v2.at_a_distance, r1v2.out_of_area) == (False, True, False, True)
    assert r1v2.sibling_group == "S1" and r1v2.urgency == "within_5_days" and r1v2.shared_home is False
    r1v1 = got[("R1", "V1")]
    assert (r1v1.in_area, r1v1.out_of_area, r1v1.shared_home, r1v1.suitability) == (True, False, True, "preferred")
    assert not r1v1.outside_preferred and r1v1.miles_from_home == 1.0  # the preferred postcode is home
    r1v3 = got[("R1", "V3")]
    assert (r1v3.at_a_distance, r1v3.tier, r1v3.suitability, r1v3.start_date) == (True, "enhanced", "suitable", day(0))
    r3v4 = got[("R3", "V4")]  # no authority known: not in the area, and not near it either
    assert (r3v4.in_area, r3v4.adjoining, r3v4.at_a_distance, r3v4.out_of_area) == (False, False, True, True)
    assert pd.isna(r3v4.sibling_group) and np.isnan(r3v4.miles_from_education)
    assert got[("R2", "V2")].tier == "intensive" and got[("R2", "V2")].weekly_cost == 3900.0


def test_the_funnel_adds_up_and_counts_each_pair_under_its_first_rule():
    instance = small_queue()
    e = eligible_pairs(instance, Policy())
    f = e.funnel
    assert (f["considered"] == 5).all()
    assert (f["considered"] == f["eligible"] + f[RULES].sum(axis=1)).all()
    assert f["eligible"].tolist() == e.pairs.groupby("referral_id").size().reindex(f.index, fill_value=0).tolist()
    every = broken_rules(instance, Policy(), [(r, v) for r in f.index for v in instance.vacancies.vacancy_id])
    first = pd.DataFrame(0, index=f.index, columns=RULES)
    for (r, _), broken in every.items():
        if broken:
            first.loc[r, broken[0]] += 1
    pd.testing.assert_frame_equal(f[RULES], first, check_dtype=False)
    # V5 is an unregistered B&B: R3 (17) breaks two rules there, and counts under the first.
    assert every[("R3", "V5")] == ["unregistered_for_under_18", "emergency_for_under_18"]
    assert f.loc["R3", "unregistered_for_under_18"] == 1 and f.loc["R3", "emergency_for_under_18"] == 0
    assert e.rule_totals().to_dict() == f[RULES].sum().to_dict()
    assert e.rule_totals().sum() + f["eligible"].sum() == 15


def test_broken_rules_lists_every_rule_a_lock_breaks():
    instance = small_queue()
    got = broken_rules(instance, Policy(), [("R1", "V5"), ("R3", "V3"), ("R2", "V2"), ("RX", "V1"), ("R1", "VX"),
                                            ("RX", "VX")])
    assert got == {
        ("R1", "V5"): ["banned_by_panel"],  # otherwise fine: an 18-year-old may use an ungraded B&B
        ("R3", "V3"): [],
        ("R2", "V2"): [],
        ("RX", "V1"): ["unknown_referral"],
        ("R1", "VX"): ["unknown_vacancy"],
        ("RX", "VX"): ["unknown_referral", "unknown_vacancy"],
    }
    assert list(got) == [("R1", "V5"), ("R3", "V3"), ("R2", "V2"), ("RX", "V1"), ("R1", "VX"), ("RX", "VX")]
    r3 = referral(referral_id="R3", sex="female", urgency="today", date_of_birth=AGE_17, living_with="solo",
                  needs=["bsl"], type_suitability={"emergency": "unsuitable"})
    lock = make([r3], [vacancy(vacancy_id="V9", service_type="emergency", ofsted_registered=False,
                               ofsted_grade="inadequate", available_from=day(3), sex="male", age_min=18)],
                bans=[("R3", "V9")])
    assert broken_rules(lock, Policy(), [("R3", "V9")]) == {("R3", "V9"): [
        "banned_by_panel", "not_available_in_time", "age_out_of_range", "unregistered_for_under_18",
        "sex_restricted", "need_not_met", "type_unsuitable", "grade_below_good", "emergency_for_under_18",
        "solo_needs_self_contained",
    ]}


def test_empty_queues_and_markets():
    no_vacancies = eligible_pairs(make(vacancies=[]), Policy())
    assert no_vacancies.pairs.empty and list(no_vacancies.pairs.columns) == PAIR_COLUMNS
    assert no_vacancies.funnel.loc["R1", ["considered", "eligible"]].tolist() == [0, 0]
    no_referrals = eligible_pairs(make(referrals=[]), Policy())
    assert no_referrals.pairs.empty and no_referrals.funnel.empty
    assert isinstance(no_referrals, Eligibility)


def test_bad_codes_are_refused_with_the_value():
    with pytest.raises(ValueError, match="unknown referral tier: urgent"):
        eligible_pairs(make([referral(tier="urgent")]), Policy())
    with pytest.raises(ValueError, match="referral_id listed twice: R1"):
        eligible_pairs(make([referral(), referral()]), Policy())


# --- a slow, row-by-row reading of the rules (the oracle) ------------------------------------

TIERS = ["standard", "enhanced", "intensive"]


def slow_faults(instance: Instance, policy: Policy, ref: dict, vac: dict) -> list[str]:
    """Every rule the pair breaks, one plain-Python condition per rule."""
    panel = instance.panel_date
    available = vac["available_from"].date()
    start = max(panel, available)
    born = ref["date_of_birth"].date()
    age = start.year - born.year - ((start.month, start.day) < (born.month, born.day))
    miles = pl_distance_miles(ref["home_e"], ref["home_n"], vac["easting"], vac["northing"])
    need = TIERS.index(ref["tier"])
    covering = [t for t in TIERS[need:] if not math.isnan(vac[f"price_{t}"])]
    risks = set(ref["risks_to_self"]) | {"to_others:" + r for r in ref["risks_to_others"]}
    service = vac["service_type"]
    cap = policy.distance_cap_miles
    within = {str(k): v for k, v in policy.available_within_days.items()}[ref["urgency"]]
    zone = any(
        pl_distance_miles(e, n, vac["easting"], vac["northing"]) <= ref["avoid_radius_miles"]
        for e, n in zip(ref["avoid_e"], ref["avoid_n"])
    )
    faults = {
        "banned_by_panel": (ref["referral_id"], vac["vacancy_id"]) in set(instance.bans),
        "beyond_distance_cap": cap is not None and not miles <= cap,  # unknown is not near
        "declined_by_provider": any(a["vacancy_id"] is None and a["referral_id"] == ref["referral_id"]
                                    and a["provider_id"] == vac["provider_id"] for a in instance.answers),
        "not_available_in_time": available > panel + dt.timedelta(days=within),
        "tier_not_offered": not covering,
        "age_out_of_range": not vac["age_min"] <= age <= vac["age_max"],
        "under_16_in_supported_accommodation": age < 16 and service not in ("foster_care", "childrens_home"),
        "unregistered_for_under_18": age < 18 and not vac["ofsted_registered"],
        "sex_restricted": vac["sex"] != "any" and vac["sex"] != ref["sex"],
        "need_not_met": not set(ref["needs"]) <= set(vac["accepts_needs"]),
        "risk_excluded": bool(risks & set(vac["excludes_risks"])),
        # floating support only for those whose plan names it; any other type left out is suitable
        "type_unsuitable": ref["type_suitability"].get(
            service, "unsuitable" if service == "floating_support" else "suitable") == "unsuitable",
        "dol_in_registered_supported_accommodation": ref["deprivation_of_liberty"] and vac["ofsted_registered"]
        and service in ("supported_accommodation", "supported_tenancy", "supported_lodgings"),
        "inside_exclusion_zone": zone,
        "grade_below_good": policy.require_good_grade and vac["ofsted_grade"] in ("requires_improvement", "inadequate"),
        "emergency_for_under_18": service == "emergency" and age < 18,
        "staying_put_not_reserved": service == "staying_put" and vac["reserved_for"] != ref["referral_id"],
        "solo_needs_self_contained": ref["living_with"] == "solo" and vac["setting"] != "self_contained",
    }
    assert list(faults) == RULES
    return [code for code, broken in faults.items() if broken]


def slow_row(instance: Instance, policy: Policy, ref: dict, vac: dict) -> dict:
    need = TIERS.index(ref["tier"])
    tier = next(t for t in TIERS[need:] if not math.isnan(vac[f"price_{t}"]))
    price, start = vac[f"price_{tier}"], max(instance.panel_date, vac["available_from"].date())
    offer = next((a for a in instance.answers if a["referral_id"] == ref["referral_id"]
                  and a["vacancy_id"] == vac["vacancy_id"]), None)
    if offer:  # the pair at the offered tier, price and (if later) start
        tier, price, start = offer["tier"], offer["weekly_price"], max(start, offer["start"])
    authorities, la = default_authorities(), vac["la_code"]
    known = isinstance(la, str)  # an unknown authority is out of the area and not adjoining it
    in_area = known and authorities.same_area(instance.placing_authority, la)
    adjoining = known and authorities.adjoins(instance.placing_authority, la)
    pref = pl_distance_miles(ref["pref_e"], ref["pref_n"], vac["easting"], vac["northing"])
    return {
        "referral_id": ref["referral_id"], "vacancy_id": vac["vacancy_id"], "property_id": vac["property_id"],
        "tier": tier, "need_tier": ref["tier"], "over_provision": TIERS.index(tier) - need,
        "weekly_cost": price,
        "miles_from_home": pl_distance_miles(ref["home_e"], ref["home_n"], vac["easting"], vac["northing"]),
        "miles_from_education": pl_distance_miles(ref["edu_e"], ref["edu_n"], vac["easting"], vac["northing"]),
        "la_code": vac["la_code"],
        "in_area": in_area, "adjoining": adjoining, "at_a_distance": not in_area and not adjoining,
        "out_of_area": not in_area,
        "service_type": vac["service_type"], "setting": vac["setting"],
        "shared_home": vac["setting"] in ("shared_care_experienced", "shared_mixed"),
        "suitability": ref["type_suitability"].get(vac["service_type"], "suitable"),
        "outside_preferred": not math.isnan(pref) and pref > policy.preferred_radius_miles,
        "emergency": vac["service_type"] == "emergency", "urgency": ref["urgency"],
        "sibling_group": ref["sibling_group"], "start_date": pd.Timestamp(start),
        "looked_after": ref["legal_status"] in ("looked_after", "eligible"),
    }


def slow_eligibility(instance: Instance, policy: Policy) -> tuple[list[dict], pd.DataFrame, dict]:
    refs = sorted(instance.referrals.to_dict("records"), key=lambda r: r["referral_id"])
    vacs = sorted(instance.vacancies.to_dict("records"), key=lambda v: v["vacancy_id"])
    rows, funnel, every = [], {}, {}
    for ref in refs:
        counts = dict.fromkeys(RULES, 0)
        for vac in vacs:
            faults = slow_faults(instance, policy, ref, vac)
            every[(ref["referral_id"], vac["vacancy_id"])] = faults
            if faults:
                counts[faults[0]] += 1
            else:
                rows.append(slow_row(instance, policy, ref, vac))
        funnel[ref["referral_id"]] = {**counts, "considered": len(vacs), "eligible": len(vacs) - sum(counts.values())}
    return rows, pd.DataFrame.from_dict(funnel, orient="index", columns=[*RULES, "considered", "eligible"]), every


def records(frame: pd.DataFrame) -> list[dict]:
    """Plain values, NaN and None alike as None, for comparing with the oracle's rows."""
    out = []
    for row in frame.astype(object).to_dict("records"):
        out.append({k: None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v
                    for k, v in row.items()})
    return out


# --- random instances --------------------------------------------------------------------------

NEEDS = ["mental_health", "autism_adhd", "bsl", "pets"]
SELF = ["self_harm", "going_missing", "sexual_exploitation"]
OTHERS = ["sexual", "fire_setting"]
SERVICES = ["supported_accommodation", "supported_tenancy", "floating_support", "supported_lodgings",
            "staying_put", "foster_care", "childrens_home", "emergency"]
SETTINGS = ["self_contained", "shared_care_experienced", "shared_mixed", "private_residence"]
AUTHORITIES = [MEDWAY, "E07000110", "E09000022", None]


class Picker:
    """The same random instance from hypothesis (draw) or from random.Random (bigger ones)."""

    def __init__(self, draw=None, rng: random.Random | None = None) -> None:
        self.draw, self.rng = draw, rng

    def choice(self, options):
        options = list(options)
        return self.draw(st.sampled_from(options)) if self.draw else self.rng.choice(options)

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi)) if self.draw else self.rng.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self.integer(0, 99) < p * 100

    def subset(self, options, p: float = 0.2) -> list:
        return sorted(o for o in options if self.chance(p))


def random_instance(pick: Picker, n_ref: int, n_vac: int) -> tuple[Instance, Policy]:
    """Young people around Chatham and homes around Kent, each rule biting now and then (a
    pair is eligible about a third of the time), some homes right on the edge of the cap."""
    cap = pick.choice([None, 5.0, 20.0, 20.0, 60.0, 60.0])
    policy = Policy(
        distance_cap_miles=cap, require_good_grade=pick.chance(0.7),
        available_within_days={"today": pick.integer(0, 2), "within_5_days": 5, "over_5_days": pick.integer(5, 30)},
        preferred_radius_miles=pick.choice([0.0, 5.0]),
    )

    def point(spread: int) -> tuple[float, float]:
        return (CHATHAM[0] + pick.integer(-spread, spread), CHATHAM[1] + pick.integer(-spread, spread))

    refs, homes, zones = [], [], []
    for i in range(n_ref):
        home = point(30_000) if not pick.chance(0.03) else (NAN, NAN)
        homes.append(home)
        edu = point(20_000) if pick.chance(0.3) else (NAN, NAN)
        pref = point(20_000) if pick.chance(0.3) else (NAN, NAN)
        avoid = [point(40_000) for _ in range(pick.integer(1, 2))] if pick.chance(0.2) else []
        radius = pick.choice([NAN, 0.5, 2.0, 5.0]) if avoid else NAN
        zones += [(e_, n_, radius) for e_, n_ in avoid if not math.isnan(radius)]
        if pick.chance(0.3):  # a birthday around the start dates
            born = PANEL + dt.timedelta(days=pick.choice([0, 1, 2, 3, -1, 7]))
            born = pd.Timestamp(born.replace(year=born.year - pick.choice([18, 16, 17, 21, 25])))
        else:
            born = pd.Timestamp(PANEL) - pd.Timedelta(days=pick.integer(15 * 365 + 200, 22 * 365))
        refs.append(referral(
            referral_id=f"R{i:02d}",
            date_of_birth=born,
            sex=pick.choice(["male", "female"]), tier=pick.choice(TIERS),
            urgency=pick.choice(["today", "within_5_days", "over_5_days", "over_5_days"]),
            home_e=home[0], home_n=home[1], edu_e=edu[0], edu_n=edu[1], pref_e=pref[0], pref_n=pref[1],
            needs=pick.subset(NEEDS), risks_to_self=pick.subset(SELF), risks_to_others=pick.subset(OTHERS, 0.1),
            living_with=pick.choice(["solo", "with_others"] + ["no_preference"] * 5),
            type_suitability={s: pick.choice(["preferred", "preferred", "suitable", "unsuitable"])
                              for s in pick.subset(SERVICES, 0.3)},
            avoid_e=[p[0] for p in avoid], avoid_n=[p[1] for p in avoid],
            avoid_radius_miles=radius,
            sibling_group=pick.choice([None, None, "S1"]), deprivation_of_liberty=pick.chance(0.1),
        ))
    vacs = []
    for j in range(n_vac):
        if pick.chance(0.15) and n_ref:  # on the edge of the cap from someone's home
            e_, n_ = homes[pick.integer(0, n_ref - 1)]
            e_ += ((cap or 10.0) + pick.choice([-0.06, -0.05, -0.0499, 0.0, 0.0499, 0.05, 0.0501, 0.06])) * METRES_PER_MILE
        elif pick.chance(0.15) and zones:  # on the edge of someone's exclusion zone
            e_, n_, radius = zones[pick.integer(0, len(zones) - 1)]
            n_ += (radius + pick.choice([-0.05, 0.0, 0.0499, 0.05, 0.06])) * METRES_PER_MILE
        elif pick.chance(0.03):
            e_, n_ = NAN, NAN
        else:
            e_, n_ = point(40_000 if pick.chance(0.8) else 150_000)
        prices = {f"price_{t}": float(pick.integer(300, 5000)) if pick.chance(0.75) else NAN for t in TIERS}
        vacs.append(vacancy(
            vacancy_id=f"V{j:02d}", property_id=f"P{j // 2}", provider_id=f"PRV{j // 4}",
            available_from=day(pick.integer(-10, 3) if pick.chance(0.8) else pick.integer(-10, 35)),
            reserved_for=pick.choice([f"R{pick.integer(0, max(n_ref, 1) - 1):02d}", None, "R99"]),
            easting=e_, northing=n_, la_code=pick.choice(AUTHORITIES), service_type=pick.choice(SERVICES + [SERVICES[0]] * 3),
            setting=pick.choice(SETTINGS), ofsted_registered=pick.chance(0.85),
            ofsted_grade=pick.choice([None, "outstanding", *["good"] * 4, "requires_improvement", "inadequate"]),
            sex=pick.choice(["any"] * 6 + ["male", "female"]), age_min=pick.choice([14, 16, 16, 16, 16, 18]),
            age_max=pick.choice([18, 21, 25, 25, 25, 25]), accepts_needs=sorted(set(NEEDS) - set(pick.subset(NEEDS, 0.15))),
            excludes_risks=pick.subset(SELF + ["to_others:" + o for o in OTHERS] + ["sexual"], 0.1), **prices,
        ))
    bans = [(f"R{pick.integer(0, 9):02d}", f"V{pick.integer(0, 9):02d}") for _ in range(pick.integer(0, 3))]
    # Providers' answers: declines (all the provider's homes), and offers of a bed at a tier the
    # bed lists at or above the need, a price and a start (some later than the bed is free).
    answers = []
    for i in range(n_ref):
        for provider in sorted({v["provider_id"] for v in vacs}):
            if pick.chance(0.15):
                answers.append(declined(f"R{i:02d}", provider))
            elif pick.chance(0.2):
                theirs = [v for v in vacs if v["provider_id"] == provider]
                bed = theirs[pick.integer(0, len(theirs) - 1)]
                need = TIERS.index(refs[i]["tier"])
                listed = [t for t in TIERS[need:] if not math.isnan(bed[f"price_{t}"])]
                if listed:
                    answers.append(offered(f"R{i:02d}", provider, bed["vacancy_id"], pick.choice(listed),
                                           float(pick.integer(300, 5000)), day(pick.integer(-2, 6))))
    return make(refs, vacs, bans, answers=answers), policy


@st.composite
def instances(draw):
    pick = Picker(draw=draw)
    instance, policy = random_instance(pick, draw(st.integers(1, 5)), draw(st.integers(0, 8)))
    return instance, policy, draw(st.sampled_from([1, 3, 10, 1_000_000]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_the_vectorised_rules_agree_with_a_row_by_row_reading(case):
    instance, policy, chunk = case
    rows, funnel, every = slow_eligibility(instance, policy)
    e = eligible_pairs(instance, policy, max_pairs_per_chunk=chunk)
    assert records(e.pairs) == records(pd.DataFrame(rows, columns=PAIR_COLUMNS))
    pd.testing.assert_frame_equal(e.funnel, funnel, check_dtype=False, check_names=False, check_index_type=False)
    assert broken_rules(instance, policy, list(every)) == every


@pytest.mark.parametrize("cap", [None, 2.0, 10.0, 60.0])
def test_chunks_and_spatial_pruning_do_not_change_the_answer(cap):
    instance, _ = random_instance(Picker(rng=random.Random(7)), 60, 90)
    policy = Policy(distance_cap_miles=cap)
    whole = eligible_pairs(instance, policy)
    assert len(whole.pairs) > 0
    for chunk in (1, 37, 500):
        part = eligible_pairs(instance, policy, max_pairs_per_chunk=chunk)
        pd.testing.assert_frame_equal(part.pairs, whole.pairs)
        pd.testing.assert_frame_equal(part.funnel, whole.funnel)
    rows, funnel, _ = slow_eligibility(instance, policy)
    assert records(whole.pairs) == records(pd.DataFrame(rows, columns=PAIR_COLUMNS))
    pd.testing.assert_frame_equal(whole.funnel, funnel, check_dtype=False, check_names=False, check_index_type=False)


def test_bans_outside_the_cap_are_counted_as_bans():
    vacs = [vacancy(vacancy_id="V1"), vacancy(vacancy_id="V2", easting=BRIGHTON[0], northing=BRIGHTON[1]),
            vacancy(vacancy_id="V3", easting=BRIGHTON[0], northing=BRIGHTON[1])]
    e = eligible_pairs(make(vacancies=vacs, bans=[("R1", "V2"), ("R1", "V2")]), Policy(distance_cap_miles=10.0))
    assert e.funnel.loc["R1", ["banned_by_panel", "beyond_distance_cap", "eligible"]].tolist() == [1, 1, 1]


# --- the demo council ----------------------------------------------------------------------------


def test_the_demo_council_gives_most_young_people_options_and_explains_the_rest(sqlite_engine):
    from matching.instance import from_database
    from providers.demo import build_demo

    with transaction(sqlite_engine) as session:
        build_demo(session, seed=2026, as_of=PANEL)
    with transaction(sqlite_engine) as session:
        instance = from_database(session, MEDWAY, PANEL)
    e = eligible_pairs(instance, Policy())
    f = e.funnel
    assert len(f) == len(instance.referrals) > 30
    assert (f["eligible"] > 0).mean() >= 0.7  # most of the queue has something to consider
    assert (f["considered"] == len(instance.vacancies)).all()
    assert (f["considered"] == f["eligible"] + f[RULES].sum(axis=1)).all()
    none = f[f["eligible"] == 0]
    assert (none[RULES].sum(axis=1) == none["considered"]).all()  # each vacancy has a reason
    assert e.pairs["referral_id"].isin(f.index).all() and not e.pairs.duplicated(["referral_id", "vacancy_id"]).any()
    # Real market, real rules: several rules bite, and the pairs meet the hard rules' intent.
    assert (e.rule_totals() > 0).sum() >= 6
    joined = e.pairs.merge(instance.vacancies, on="vacancy_id", suffixes=("", "_v"))
    assert (joined["miles_from_home"] <= 60).all()
    assert not joined["ofsted_grade"].isin(["requires_improvement", "inadequate"]).any()
    staying_put = joined[joined["service_type"] == "staying_put"]
    assert (staying_put["reserved_for"] == staying_put["referral_id"]).all()
    # The funnel is the first broken rule of every pair, and broken_rules agrees with the pairs.
    every = broken_rules(instance, Policy(), [(r, v) for r in f.index for v in instance.vacancies["vacancy_id"]])
    eligible = {pair for pair, broken in every.items() if not broken}
    assert eligible == set(zip(e.pairs["referral_id"], e.pairs["vacancy_id"]))
    first = pd.Series([b[0] for b in every.values() if b]).value_counts().reindex(RULES, fill_value=0)
    assert first.tolist() == e.rule_totals().tolist()


# --- providers' answers ----------------------------------------------------------------------


def test_an_offer_prices_and_dates_its_pair_and_leaves_the_providers_other_homes_alone():
    beds = [vacancy(), vacancy(vacancy_id="V2", property_id="P2")]  # both PRV1's
    instance = make(vacancies=beds, answers=[offered("R1", "PRV1", "V1", "enhanced", 1650.0, day(4))])
    e = eligible_pairs(instance, Policy()).pairs.set_index("vacancy_id")
    assert e.loc["V1", "weekly_cost"] == 1650.0 and e.loc["V1", "start_date"] == day(4)
    assert e.loc["V2", "weekly_cost"] == 1800.0 and e.loc["V2", "start_date"] == day(2)  # the framework price
    # An offer above the need is over-provision at the offered tier.
    up = make(vacancies=[vacancy(price_intensive=3000.0)], answers=[offered("R1", "PRV1", "V1", "intensive", 2900.0,
                                                                              day(2))])
    row = eligible_pairs(up, Policy()).pairs.iloc[0]
    assert (row["tier"], row["over_provision"], row["weekly_cost"]) == ("intensive", 1, 2900.0)


def test_a_decline_rules_out_every_home_of_that_provider_for_that_young_person_only():
    beds = [vacancy(), vacancy(vacancy_id="V2", property_id="P2"), vacancy(vacancy_id="V3", provider_id="PRV2")]
    instance = make([referral(), referral(referral_id="R2")], beds, answers=[declined("R1", "PRV1")])
    e = eligible_pairs(instance, Policy())
    assert sorted(map(tuple, e.pairs[["referral_id", "vacancy_id"]].astype(str).to_numpy())) == [
        ("R1", "V3"), ("R2", "V1"), ("R2", "V2"), ("R2", "V3")]
    assert e.funnel.loc["R1", "declined_by_provider"] == 2 and e.funnel.loc["R2", "declined_by_provider"] == 0


@pytest.mark.parametrize("seed", range(5))
def test_the_checker_reads_providers_answers_as_the_engine_does(seed):
    from matching import checker

    instance, policy = random_instance(Picker(rng=random.Random(seed)), 12, 16)
    assert instance.answers
    key = ["referral_id", "vacancy_id"]
    ours = eligible_pairs(instance, policy).pairs.sort_values(key).reset_index(drop=True)
    theirs = checker.reference_pairs(instance, policy).sort_values(key).reset_index(drop=True)
    assert ours[key].astype(str).equals(theirs[key].astype(str))
    assert ours["tier"].astype(str).tolist() == theirs["tier"].astype(str).tolist()
    assert ours["weekly_cost"].tolist() == theirs["weekly_cost"].tolist()
    assert [pd.Timestamp(d) for d in ours["start_date"]] == [pd.Timestamp(d) for d in theirs["start_date"]]
