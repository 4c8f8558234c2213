"""The independent checker: each hard rule and each side constraint, allowed and refused.

The small factories at the top (``referral``, ``vacancy``, ``make_instance``, ``given``) are
shared by the other matching tests."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from matching import checker
from matching.instance import REFERRAL_COLUMNS, RESIDENT_COLUMNS, VACANCY_COLUMNS, Instance
from matching.policy import Policy

PANEL = dt.date(2026, 11, 23)
MEDWAY = "E06000035"
KENT_DISTRICT = "E07000110"  # Maidstone: adjoins Medway
BEXLEY = "E09000004"  # neither Medway nor adjoining: "at a distance"
HOME = (575000.0, 168000.0)
MILE = 1609.3  # metres: PL_DISTANCE uses 1.6093 km per mile


def referral(rid: str = "R1", **kw) -> dict:
    row = {
        "referral_id": rid, "date_of_birth": pd.Timestamp("2008-01-15"), "sex": "female",
        "legal_status": "looked_after", "tier": "standard", "urgency": "within_5_days",
        "referred_on": pd.Timestamp("2026-11-16"), "home_postcode": "ME4 4AA",
        "home_e": HOME[0], "home_n": HOME[1], "home_la": MEDWAY,
        "edu_e": math.nan, "edu_n": math.nan, "pref_e": math.nan, "pref_n": math.nan,
        "needs": [], "risks_to_self": [], "risks_to_others": [], "living_with": "no_preference",
        "type_suitability": {}, "avoid_e": [], "avoid_n": [], "avoid_radius_miles": math.nan,
        "sibling_group": None, "deprivation_of_liberty": False,
    }
    row.update(kw)
    return row


def vacancy(vid: str = "V1", miles_east: float = 1.0, **kw) -> dict:
    row = {
        "vacancy_id": vid, "property_id": kw.pop("property_id", "P" + vid[1:]), "provider_id": "PR1",
        "beds": 1, "available_from": pd.Timestamp(PANEL), "reserved_for": None, "postcode": "ME4 5BB",
        "easting": HOME[0] + miles_east * MILE, "northing": HOME[1], "la_code": MEDWAY,
        "service_type": "supported_accommodation", "setting": "shared_care_experienced",
        "ofsted_registered": True, "ofsted_grade": "good", "sex": "any", "age_min": 16, "age_max": 25,
        "accepts_needs": [], "excludes_risks": [], "price_standard": 1000.0,
        "price_enhanced": 1500.0, "price_intensive": 3000.0,
    }
    row.update(kw)
    return row


def make_instance(referrals, vacancies, residents=(), locks=(), bans=(), panel_date=PANEL) -> Instance:
    return Instance(
        panel_date=panel_date,
        placing_authority=MEDWAY,
        referrals=pd.DataFrame(list(referrals), columns=REFERRAL_COLUMNS),
        vacancies=pd.DataFrame(list(vacancies), columns=VACANCY_COLUMNS),
        residents=pd.DataFrame(list(residents), columns=RESIDENT_COLUMNS),
        locks=list(locks),
        bans=list(bans),
    )


@dataclass
class Given:
    """An Eligibility built outside matching.eligibility (the engine takes any such object)."""

    pairs: pd.DataFrame
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0


def given(instance: Instance, policy: Policy) -> Given:
    return Given(checker.reference_pairs(instance, policy))


def codes(violations) -> set[str]:
    return {v.code for v in violations}


POLICY = Policy()


def faults(ref: dict, vac: dict, policy: Policy = POLICY, **instance_kw) -> set[str]:
    inst = make_instance([ref], [vac], **instance_kw)
    return set(checker.broken_rules(inst, policy, [(ref["referral_id"], vac["vacancy_id"])])[
        (ref["referral_id"], vac["vacancy_id"])])


# --- each hard rule: allowed / refused ---------------------------------------------------------

RULE_CASES = [
    # (rule, referral overrides, vacancy overrides that break it, vacancy overrides that do not)
    ("beyond_distance_cap", {}, {"miles_east": 61}, {"miles_east": 59}),
    ("not_available_in_time", {"urgency": "today"},
     {"available_from": pd.Timestamp(PANEL + dt.timedelta(days=1))}, {"available_from": pd.Timestamp(PANEL)}),
    ("tier_not_offered", {"tier": "enhanced"},
     {"price_enhanced": math.nan, "price_intensive": math.nan}, {"price_enhanced": math.nan}),
    ("age_out_of_range", {}, {"age_min": 19}, {"age_min": 18}),  # 18 on the panel date
    ("unregistered_for_under_18", {"date_of_birth": pd.Timestamp("2009-06-01")},
     {"ofsted_registered": False}, {"ofsted_registered": True}),
    ("sex_restricted", {}, {"sex": "male"}, {"sex": "female"}),
    ("need_not_met", {"needs": ["autism_adhd", "esol"]},
     {"accepts_needs": ["esol"]}, {"accepts_needs": ["esol", "autism_adhd"]}),
    ("risk_excluded", {"risks_to_others": ["fire_setting"]},
     {"excludes_risks": ["to_others:fire_setting"]}, {"excludes_risks": ["fire_setting"]}),
    ("type_unsuitable", {"type_suitability": {"supported_accommodation": "unsuitable"}},
     {}, {"service_type": "supported_tenancy", "setting": "self_contained"}),
    ("dol_in_registered_supported_accommodation", {"deprivation_of_liberty": True},
     {}, {"service_type": "childrens_home", "setting": "shared_mixed"}),
    ("inside_exclusion_zone", {"avoid_e": [HOME[0] + 3 * MILE], "avoid_n": [HOME[1]], "avoid_radius_miles": 2.0},
     {"miles_east": 1.5}, {"miles_east": 0.5}),
    ("grade_below_good", {}, {"ofsted_grade": "requires_improvement"}, {"ofsted_grade": None}),
    ("emergency_for_under_18", {"date_of_birth": pd.Timestamp("2009-06-01")},
     {"service_type": "emergency", "setting": "self_contained"}, {"setting": "self_contained"}),
    ("staying_put_not_reserved", {}, {"service_type": "staying_put", "setting": "private_residence",
                                      "reserved_for": "R9"},
     {"service_type": "staying_put", "setting": "private_residence", "reserved_for": "R1"}),
    ("solo_needs_self_contained", {"living_with": "solo"}, {}, {"setting": "self_contained"}),
]


@pytest.mark.parametrize("rule,ref_kw,refused,allowed", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_each_hard_rule_refuses_one_pair_and_allows_its_neighbour(rule, ref_kw, refused, allowed):
    ref = referral(**ref_kw)
    assert rule in faults(ref, vacancy(**dict(refused)))
    assert faults(ref, vacancy(**dict(allowed))) == set()


def test_under_16_and_bans():
    young = referral(date_of_birth=pd.Timestamp("2011-01-01"))  # 15 on the panel date
    assert "under_16_in_supported_accommodation" in faults(young, vacancy())
    assert "under_16_in_supported_accommodation" not in faults(young, vacancy(service_type="foster_care"))
    assert faults(referral(), vacancy(), bans=[("R1", "V1")]) == {"banned_by_panel"}


def test_age_is_taken_on_the_day_the_bed_is_free():
    ref = referral(date_of_birth=pd.Timestamp("2008-12-01"), urgency="over_5_days")  # 18 on 1 Dec
    later = vacancy(available_from=pd.Timestamp("2026-12-01"), ofsted_registered=False)
    assert faults(ref, later) == set()
    assert "unregistered_for_under_18" in faults(ref, vacancy(ofsted_registered=False))


def test_derived_facts_of_a_pair():
    inst = make_instance([referral(tier="standard", edu_e=HOME[0], edu_n=HOME[1] + 2 * MILE)],
                         [vacancy(miles_east=12.25, la_code=KENT_DISTRICT, price_standard=math.nan)])
    d = checker.derive(inst, POLICY, inst.referrals.iloc[0].to_dict(), inst.vacancies.iloc[0].to_dict())
    assert d["tier"] == "enhanced" and d["over_provision"] == 1 and d["weekly_cost"] == 1500.0
    assert d["miles_from_home"] == 12.3  # PL_DISTANCE rounds halves up
    assert d["home_tenths"] == 123
    assert d["out_of_area"] and d["adjoining"] and not d["at_a_distance"]
    far = make_instance([referral()], [vacancy(la_code=BEXLEY)])
    d = checker.derive(far, POLICY, far.referrals.iloc[0].to_dict(), far.vacancies.iloc[0].to_dict())
    assert d["at_a_distance"] and d["out_of_area"] and not d["adjoining"]


# --- side constraints: allowed / refused -------------------------------------------------------


def test_one_placement_each_and_beds():
    inst = make_instance([referral("R1"), referral("R2")], [vacancy("V1", beds=1), vacancy("V2", beds=2)])
    assert codes(checker.check([("R1", "V1"), ("R2", "V1")], inst, POLICY)) == {"beds_exceeded"}
    assert checker.check([("R1", "V2"), ("R2", "V2")], inst, POLICY) == []
    assert "placed_twice" in codes(checker.check([("R1", "V1"), ("R1", "V2")], inst, POLICY))
    assert codes(checker.check([("R7", "V1")], inst, POLICY)) == {"unknown_referral"}


def test_intensive_cap_counts_residents_already_there():
    refs = [referral("R1", tier="intensive"), referral("R2", tier="intensive")]
    vacs = [vacancy("V1", property_id="P1", beds=2)]
    lived_in = [{"property_id": "P1", "tier": "intensive", "risks": []}]
    assert checker.check([("R1", "V1"), ("R2", "V1")], make_instance(refs, vacs), POLICY) == []
    assert codes(checker.check([("R1", "V1"), ("R2", "V1")], make_instance(refs, vacs, lived_in), POLICY)) == {
        "intensive_cap"}
    # Self-contained homes are not shared: no cap.
    flats = [vacancy("V1", property_id="P1", beds=2, setting="self_contained")]
    assert checker.check([("R1", "V1"), ("R2", "V1")], make_instance(refs, flats, lived_in), POLICY) == []


def test_siblings_together_or_not_at_all():
    refs = [referral("R1", sibling_group="S"), referral("R2", sibling_group="S"), referral("R3")]
    vacs = [vacancy("V1", property_id="P1"), vacancy("V2", property_id="P1"), vacancy("V3", property_id="P3")]
    inst = make_instance(refs, vacs)
    assert checker.check([("R1", "V1"), ("R2", "V2")], inst, POLICY) == []
    assert checker.check([("R3", "V1")], inst, POLICY) == []
    assert codes(checker.check([("R1", "V1")], inst, POLICY)) == {"siblings_split"}
    assert codes(checker.check([("R1", "V1"), ("R2", "V3")], inst, POLICY)) == {"siblings_split"}


def test_co_residency_with_residents_and_with_each_other():
    exploited = referral("R1", risks_to_self=["sexual_exploitation"])
    harmful = referral("R2", risks_to_others=["sexual"])
    vacs = [vacancy("V1", property_id="P1", beds=2)]
    inst = make_instance([exploited, harmful], vacs)
    assert codes(checker.check([("R1", "V1"), ("R2", "V1")], inst, POLICY)) == {"co_residency"}
    assert checker.check([("R1", "V1")], inst, POLICY) == []
    resident = [{"property_id": "P1", "tier": None, "risks": ["to_others:sexual"]}]
    assert codes(checker.check([("R1", "V1")], make_instance([exploited], vacs, resident), POLICY)) == {
        "co_residency"}
    compatible = [{"property_id": "P1", "tier": None, "risks": ["to_others:animals"]}]
    assert checker.check([("R1", "V1")], make_instance([exploited], vacs, compatible), POLICY) == []
    flat = [vacancy("V1", property_id="P1", beds=2, setting="self_contained")]
    assert checker.check([("R1", "V1"), ("R2", "V1")], make_instance([exploited, harmful], flat), POLICY) == []


def test_locks_bans_and_budget():
    inst = make_instance([referral("R1"), referral("R2")], [vacancy("V1"), vacancy("V2")],
                         locks=[("R1", "V1")], bans=[("R2", "V2")])
    assert codes(checker.check([("R1", "V2")], inst, POLICY)) == {"lock_not_honoured"}
    assert "banned_by_panel" in codes(checker.check([("R1", "V1"), ("R2", "V2")], inst, POLICY))
    capped = Policy(weekly_budget_cap=1999)
    free = make_instance([referral("R1"), referral("R2")], [vacancy("V1"), vacancy("V2")])
    assert codes(checker.check([("R1", "V1"), ("R2", "V2")], free, capped)) == {"over_budget"}
    assert checker.check([("R1", "V1"), ("R2", "V2")], free, Policy(weekly_budget_cap=2000)) == []


def test_objective_from_the_policy():
    inst = make_instance(
        [referral("R1", urgency="today", type_suitability={"supported_accommodation": "preferred"}),
         referral("R2", urgency="over_5_days", tier="standard")],
        [vacancy("V1", miles_east=25.0, la_code=BEXLEY, price_standard=1000.4),
         vacancy("V2", miles_east=2.0, price_standard=math.nan)],
    )
    got = checker.objective([("R1", "V1"), ("R2", "V2")], inst, POLICY)
    pen = POLICY.penalties
    r1 = 250 + pen.over_20_miles + pen.out_of_area + pen.at_a_distance
    r2 = 20 + pen.over_provision_per_tier + pen.suitable_not_preferred
    weekly = 1000 // pen.pounds_a_week_per_point + 1500 // pen.pounds_a_week_per_point
    assert got == {"reward": 3 + 1, "penalty": r1 + r2 + weekly, "cost": 1000 + 1500}
    weighted = Policy(mode="weighted")
    p = weighted.pounds
    assert checker.objective([("R1", "V1")], inst, weighted) == {
        "pounds": 1000 + 250 + p.over_20_miles + p.out_of_area + p.at_a_distance - p.placement_value["today"]}


def test_area_counts_for_looked_after_children_not_for_care_leavers():
    """Reg. 11 makes out of area and at a distance statutory for looked-after children; a care
    leaver's distance from home counts mile by mile instead, so the same bed scores less."""
    placed = [vacancy("V1", miles_east=25.0, la_code=BEXLEY, price_standard=1000.0)]
    pen = POLICY.penalties
    looked_after = checker.objective([("R1", "V1")], make_instance([referral("R1", legal_status="looked_after")], placed), POLICY)
    leaver = checker.objective([("R1", "V1")], make_instance([referral("R1", legal_status="former_relevant")], placed), POLICY)
    assert looked_after["penalty"] - leaver["penalty"] == pen.out_of_area + pen.at_a_distance - (
        pen.care_leaver_out_of_area + pen.care_leaver_at_a_distance)
    assert pen.care_leaver_out_of_area == 0 and pen.at_a_distance > 0


def test_reference_pairs_have_the_eligibility_columns():
    inst = make_instance([referral("R1"), referral("R2", sex="male")], [vacancy("V1", sex="female"), vacancy("V2")])
    pairs = checker.reference_pairs(inst, POLICY)
    assert list(pairs.columns) == checker.PAIR_COLUMNS
    assert list(zip(pairs["referral_id"], pairs["vacancy_id"])) == [("R1", "V1"), ("R1", "V2"), ("R2", "V2")]
    assert np.isnan(pairs["miles_from_education"]).all()
