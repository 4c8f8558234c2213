"""Pydantic schemas: what may come in (``...In``) and what goes out (``...Public``).

Input schemas check everything that can be checked without the database or the postcode
directory (types, codes, ranges, dates); ``providers.interchange`` adds the checks that need
them (postcodes exist, ids are unique or known). The same schemas serve the CSV importer, the
CLI and the API, so a file and a request are judged by the same rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.enums import (
    LegalStatus,
    LivingWith,
    Need,
    OfstedGrade,
    RiskToOthers,
    RiskToSelf,
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
        if self.referred_on > dt.date.today() + dt.timedelta(days=366):
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
        preferred, which matching allows with a penalty.
        """
        out = {t.value: Suitability.suitable.value for t in ServiceType}
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
