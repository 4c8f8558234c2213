"""Rules every referral, vacancy and placement must meet wherever it comes from (CSV, CLI or
API), tested in pairs: one accepted, one refused with a reason a person can act on."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from models.enums import Tier
from models.schemas import PlacementIn, ReferralIn, VacancyIn

REFERRAL = dict(
    id="R1", date_of_birth="2009-05-01", sex="female", legal_status="looked_after",
    home_postcode="ME4 4AA", tier="enhanced", urgency="today", referred_on="2026-11-02",
)
VACANCY = dict(
    id="V1", provider_id="PR1", provider_name="Provider", property_id="P1", postcode="ME4 4AA",
    service_type="supported_accommodation", setting="shared_care_experienced",
    ofsted_registered=True, beds=2, available_from="2026-11-02", age_min=16, age_max=21,
    tiers=["standard", "enhanced"], price_standard=1100, price_enhanced=1800,
)


def _refused(schema, **changes) -> str:
    with pytest.raises(ValidationError) as info:
        schema(**changes)
    return str(info.value)


def test_age_16_at_referral_is_accepted_and_15_is_refused():
    assert ReferralIn(**REFERRAL).id == "R1"  # 17 on referred_on
    message = _refused(ReferralIn, **{**REFERRAL, "date_of_birth": "2010-11-03"})
    assert "15" in message and "16-25" in message


def test_age_25_is_accepted_and_26_is_refused():
    assert ReferralIn(**{**REFERRAL, "date_of_birth": "2001-11-02", "legal_status": "former_relevant"})
    assert "26" in _refused(ReferralIn, **{**REFERRAL, "date_of_birth": "2000-11-02"})


def test_impossible_date_is_refused():
    assert "date_of_birth" in _refused(ReferralIn, **{**REFERRAL, "date_of_birth": "2009-02-30"})


def test_a_young_person_cannot_have_sex_any():
    assert "properties" in _refused(ReferralIn, **{**REFERRAL, "sex": "any"})


def test_type_both_suitable_and_unsuitable_is_refused():
    ok = ReferralIn(**{**REFERRAL, "suitable_types": ["supported_lodgings"], "unsuitable_types": ["emergency"]})
    suitability = ok.type_suitability()
    assert suitability["supported_lodgings"] == "preferred"
    assert suitability["emergency"] == "unsuitable"
    assert suitability["supported_tenancy"] == "suitable"
    assert "supported_lodgings" in _refused(
        ReferralIn, **{**REFERRAL, "suitable_types": ["supported_lodgings"], "unsuitable_types": ["supported_lodgings"]}
    )


def test_avoid_postcodes_need_a_radius():
    assert ReferralIn(**{**REFERRAL, "avoid_postcodes": ["ME1 1AA"], "avoid_radius_miles": 2})
    assert "avoid_radius_miles" in _refused(ReferralIn, **{**REFERRAL, "avoid_postcodes": ["ME1 1AA"]})


def test_every_offered_tier_needs_a_price():
    assert VacancyIn(**VACANCY).price(Tier.enhanced) == 1800
    message = _refused(VacancyIn, **{**VACANCY, "tiers": ["standard", "intensive"]})
    assert "price_intensive is missing for offered tier intensive" in message


def test_negative_beds_are_refused():
    assert VacancyIn(**{**VACANCY, "beds": 0}).beds == 0
    assert "beds" in _refused(VacancyIn, **{**VACANCY, "beds": -1})


def test_unknown_excluded_risk_is_refused_with_the_valid_codes():
    assert VacancyIn(**{**VACANCY, "excludes_risks": ["to_others:sexual", "self_harm"]})
    message = _refused(VacancyIn, **{**VACANCY, "excludes_risks": ["arson"]})
    assert "'arson'" in message and "to_others:fire_setting" in message


def test_property_age_range_must_be_in_order():
    assert "age_min 21 is above age_max 18" in _refused(VacancyIn, **{**VACANCY, "age_min": 21, "age_max": 18})


def _plan(*steps):
    return [dict(starts_on=d, tier=t, weekly_cost=c) for d, t, c in steps]


def test_support_plan_steps_down_in_date_order():
    start = dt.date(2026, 12, 1)
    placement = PlacementIn(
        referral_id="R1", property_id="P1", starts_on=start,
        support_plan=_plan((start, "intensive", 3200), (start + dt.timedelta(weeks=12), "enhanced", 1900)),
    )
    assert [s.tier for s in placement.support_plan] == [Tier.intensive, Tier.enhanced]
    assert "date order" in _refused(
        PlacementIn, referral_id="R1", property_id="P1", starts_on=start,
        support_plan=_plan((start, "intensive", 3200), (start, "enhanced", 1900)),
    )


def test_support_plan_must_start_with_the_placement():
    start = dt.date(2026, 12, 1)
    assert "first step" in _refused(
        PlacementIn, referral_id="R1", property_id="P1", starts_on=start,
        support_plan=_plan((start + dt.timedelta(days=1), "standard", 1000)),
    )
