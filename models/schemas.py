"""Pydantic schemas: what may come in (``...In``) and what goes out (``...Public``).

Input schemas check everything that can be checked without the database or the postcode
directory (types, codes, ranges, dates); ``providers.interchange`` adds the checks that need
them (postcodes exist, ids are unique or known). The same schemas serve the CSV importer, the
CLI and the API, so a file and a request are judged by the same rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.base import council_today
from models.enums import (
    ApprovalRule,
    ApprovalStatus,
    DecisionKind,
    FrameworkKind,
    LegalStatus,
    LivingWith,
    MatchRunStatus,
    Need,
    OfstedGrade,
    PlacementStatus,
    RiskToOthers,
    RiskToSelf,
    Role,
    ServiceType,
    Setting,
    Sex,
    Suitability,
    Tier,
    Urgency,
    risk_codes,
)
from models.people import age_on

# Young people placematch serves are 16-25 (care leavers have a Personal Adviser to 25).
MIN_AGE, MAX_AGE = 16, 25

Id = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=False)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class ReferralIn(_Schema):
    """A young person referred to the panel, with their needs profile."""

    id: str = Id
    date_of_birth: dt.date
    sex: Sex
    legal_status: LegalStatus
    home_postcode: str
    education_postcode: Optional[str] = None
    tier: Tier
    urgency: Urgency
    needs: list[Need] = []
    risks_to_self: list[RiskToSelf] = []
    risks_to_others: list[RiskToOthers] = []
    living_with: LivingWith = LivingWith.no_preference
    suitable_types: list[ServiceType] = []
    unsuitable_types: list[ServiceType] = []
    preferred_postcode: Optional[str] = None
    avoid_postcodes: list[str] = []
    avoid_radius_miles: Optional[float] = Field(default=None, ge=0, le=200)
    sibling_group: Optional[str] = Field(default=None, max_length=40)
    deprivation_of_liberty: bool = False
    referred_on: dt.date
    duration_weeks: Optional[int] = Field(default=None, gt=0, le=520)
    step_down_weeks: Optional[int] = Field(default=None, ge=0, le=520)
    wishes: Optional[str] = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "R0001",
                    "date_of_birth": "2009-03-14",
                    "sex": "female",
                    "legal_status": "looked_after",
                    "home_postcode": "ME4 4AA",
                    "tier": "enhanced",
                    "urgency": "within_5_days",
                    "needs": ["mental_health"],
                    "risks_to_self": ["going_missing"],
                    "suitable_types": ["supported_accommodation"],
                    "unsuitable_types": ["emergency"],
                    "referred_on": "2026-11-16",
                }
            ]
        },
    )

    @field_validator("sex")
    @classmethod
    def _a_person_has_a_sex(cls, v: Sex) -> Sex:
        if v == Sex.any:
            raise ValueError("a young person's sex is male or female; 'any' is for properties")
        return v

    @field_validator("needs", "risks_to_self", "risks_to_others", "suitable_types", "unsuitable_types")
    @classmethod
    def _dedupe(cls, v: list) -> list:
        return _unique(v)

    @model_validator(mode="after")
    def _consistent(self) -> "ReferralIn":
        age = age_on(self.date_of_birth, self.referred_on)
        if age < MIN_AGE or age > MAX_AGE:
            raise ValueError(
                f"date_of_birth {self.date_of_birth} makes the young person {age} on "
                f"referred_on {self.referred_on}; placematch serves ages {MIN_AGE}-{MAX_AGE}"
            )
        if self.referred_on > council_today() + dt.timedelta(days=366):
            raise ValueError(f"referred_on {self.referred_on} is more than a year in the future")
        both = set(self.suitable_types) & set(self.unsuitable_types)
        if both:
            raise ValueError(
                "a type cannot be both suitable and unsuitable: " + ", ".join(sorted(map(str, both)))
            )
        if self.avoid_postcodes and self.avoid_radius_miles is None:
            raise ValueError("avoid_postcodes needs avoid_radius_miles")
        if self.step_down_weeks is not None and self.duration_weeks is not None:
            if self.step_down_weeks > self.duration_weeks:
                raise ValueError("step_down_weeks is after the end of duration_weeks")
        return self

    def type_suitability(self) -> dict[str, str]:
        """Every service type as preferred / suitable / unsuitable.

        The social worker names the types that suit (``suitable_types``: preferred) and those
        that do not (``unsuitable_types``); a type named in neither list is suitable but not
        preferred, which matching allows with a penalty. Floating support is the exception: it
        goes into a home the young person already has, so it is left out unless named, and
        matching then offers it to nobody (``matching.pairs``).
        """
        out = {t.value: Suitability.suitable.value for t in ServiceType if t != ServiceType.floating_support}
        out.update({t.value: Suitability.preferred.value for t in self.suitable_types})
        out.update({t.value: Suitability.unsuitable.value for t in self.unsuitable_types})
        return out


class VacancyIn(_Schema):
    """One row of vacancies.csv: free beds at a property, with the property and its provider."""

    id: str = Id
    provider_id: str = Id
    provider_name: str = Field(min_length=1, max_length=200)
    property_id: str = Id
    postcode: str
    service_type: ServiceType
    setting: Setting
    ofsted_registered: bool
    ofsted_grade: Optional[OfstedGrade] = None
    beds: int = Field(ge=0, le=500)
    # Floating support / outreach: the support hours a week free (what the matching counts);
    # beds is then the most young people the package takes at once.
    support_hours: Optional[int] = Field(default=None, ge=1, le=1000)
    available_from: dt.date
    age_min: int = Field(ge=MIN_AGE, le=MAX_AGE)
    age_max: int = Field(ge=MIN_AGE, le=MAX_AGE)
    sex: Sex = Sex.any
    tiers: list[Tier] = Field(min_length=1)
    price_standard: Optional[float] = Field(default=None, ge=0, le=50_000)
    price_enhanced: Optional[float] = Field(default=None, ge=0, le=50_000)
    price_intensive: Optional[float] = Field(default=None, ge=0, le=50_000)
    accepts_needs: list[Need] = []
    excludes_risks: list[str] = []
    shared_with: list[str] = []
    reserved_for: Optional[str] = None  # Staying Put: the former foster child's referral id
    ofsted_urn: Optional[str] = Field(default=None, max_length=20)
    in_house: bool = False

    @field_validator("tiers", "accepts_needs")
    @classmethod
    def _dedupe(cls, v: list) -> list:
        return _unique(v)

    @field_validator("excludes_risks")
    @classmethod
    def _known_risks(cls, v: list[str]) -> list[str]:
        known = risk_codes()
        for code in v:
            if code not in known:
                raise ValueError(f"unknown risk code {code!r}; valid: {', '.join(known)}")
        return _unique(v)

    @model_validator(mode="after")
    def _consistent(self) -> "VacancyIn":
        if self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")
        for tier in self.tiers:
            if self.price(tier) is None:
                raise ValueError(f"price_{tier.value} is missing for offered tier {tier.value}")
        if self.reserved_for and self.service_type != ServiceType.staying_put:
            raise ValueError("reserved_for is only for staying_put vacancies")
        if self.service_type == ServiceType.floating_support and self.support_hours is None:
            raise ValueError("support_hours is needed for floating_support: a package is sized in hours a week")
        return self

    def price(self, tier: Tier) -> Optional[float]:
        return getattr(self, f"price_{tier.value}")


class ReferralPublic(_Schema):
    model_config = ConfigDict(from_attributes=True)

    id: str
    date_of_birth: dt.date
    sex: Sex
    legal_status: LegalStatus
    home_postcode: str
    home_la_code: str
    education_postcode: Optional[str]
    tier: Tier
    urgency: Urgency
    needs: list[str]
    risks_to_self: list[str]
    risks_to_others: list[str]
    living_with: LivingWith
    type_suitability: dict[str, str]
    preferred_postcode: Optional[str]
    avoid_postcodes: list[str]
    avoid_radius_miles: Optional[float]
    sibling_group: Optional[str]
    deprivation_of_liberty: bool
    referred_on: dt.date
    duration_weeks: Optional[int]
    step_down_weeks: Optional[int]
    wishes: Optional[str]
    status: str


class _Public(_Schema):
    model_config = ConfigDict(from_attributes=True)


class LocalAuthorityPublic(_Public):
    code: str
    name: str
    upper_tier_code: str
    region: Optional[str]


class ProviderPublic(_Public):
    id: str
    name: str
    ofsted_urn: Optional[str]
    ofsted_grade: Optional[OfstedGrade]
    in_house: bool


class TierPricePublic(_Public):
    tier: Tier
    weekly_price: float
    lot_id: Optional[int]


class LotPublic(_Public):
    id: int
    number: int
    name: str
    service_type: ServiceType
    area: Optional[str]
    block_beds: Optional[int]
    void_weekly_cost: Optional[float]


class FrameworkPublic(_Public):
    id: int
    name: str
    kind: FrameworkKind
    placing_authority_code: str
    starts_on: Optional[dt.date]
    ends_on: Optional[dt.date]
    price_weight: float
    quality_weight: float
    lots: list[LotPublic]


class PropertyPublic(_Public):
    id: str
    provider_id: str
    name: Optional[str]
    postcode: str
    la_code: str
    service_type: ServiceType
    setting: Setting
    ofsted_registered: bool
    sex: Sex
    age_min: int
    age_max: int
    total_beds: int
    accepts_needs: list[str]
    excludes_risks: list[str]
    prices: list[TierPricePublic]


class VacancyPublic(_Public):
    id: str
    property_id: str
    beds: int
    support_hours: Optional[int]
    available_from: dt.date
    reserved_for_referral_id: Optional[str]
    council_code: Optional[str] = Field(
        description="The one council that may use it (its ONS code); empty: every council of the region")


class SupportPlanStepIn(_Schema):
    starts_on: dt.date
    tier: Tier
    weekly_cost: float = Field(ge=0, le=50_000)
    note: Optional[str] = Field(default=None, max_length=200)


class SupportPlanStepPublic(SupportPlanStepIn):
    model_config = ConfigDict(from_attributes=True)


class PlacementIn(_Schema):
    """A placement and its support plan: the first step starts with the placement; later
    steps step support down (or briefly up) from their date."""

    referral_id: str = Id
    property_id: str = Id
    vacancy_id: Optional[str] = None
    starts_on: dt.date
    planned_end_on: Optional[dt.date] = None
    support_plan: list[SupportPlanStepIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _plan_in_order(self) -> "PlacementIn":
        dates = [s.starts_on for s in self.support_plan]
        if dates[0] != self.starts_on:
            raise ValueError("the support plan's first step must start on the placement's start date")
        if any(b <= a for a, b in zip(dates, dates[1:])):
            raise ValueError("support plan steps must be in date order, one per date")
        if self.planned_end_on is not None and self.planned_end_on < self.starts_on:
            raise ValueError("planned_end_on is before starts_on")
        if self.planned_end_on is not None and dates[-1] >= self.planned_end_on:
            raise ValueError("a support plan step starts after the planned end")
        return self


class PlacementPublic(_Public):
    id: int
    referral_id: str
    property_id: str
    vacancy_id: Optional[str]
    tier: Tier
    weekly_cost: float
    starts_on: dt.date
    planned_end_on: Optional[dt.date]
    ended_on: Optional[dt.date]
    status: PlacementStatus
    version: int
    support_plan: list[SupportPlanStepPublic]


class MatchRunPublic(_Public):
    id: int
    status: MatchRunStatus
    panel_date: dt.date
    referral_count: int
    solver_status: Optional[str]
    objective: dict[str, Any]
    best_bound: Optional[float]
    gap: Optional[float]
    error: Optional[str]
    created_at: dt.datetime
    started_at: Optional[dt.datetime]
    finished_at: Optional[dt.datetime]


class ProposedMatchPublic(_Public):
    id: int
    match_run_id: int
    referral_id: str
    vacancy_id: str
    property_id: str
    rank: int
    tier: Tier
    weekly_cost: float
    miles_from_home: float
    miles_from_education: Optional[float]
    out_of_area: bool
    at_a_distance: bool
    approvals_required: list[str]
    score: dict[str, Any]


class DecisionIn(_Schema):
    kind: DecisionKind
    referral_id: str = Id
    vacancy_id: Optional[str] = None
    proposed_match_id: Optional[int] = None
    reason: str = Field(min_length=3, max_length=2000)


class ApprovalRequestPublic(_Public):
    id: int
    placement_id: int
    rule: ApprovalRule
    role: Role
    status: ApprovalStatus
    case_summary: Optional[str]
    reason: Optional[str]
    decided_at: Optional[dt.datetime]
    version: int


class AuditEventPublic(_Public):
    id: int
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Optional[dict[str, Any]]
    after: Optional[dict[str, Any]]


class UserPublic(_Public):
    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    provider_id: Optional[str] = None  # a provider's staff: their provider
