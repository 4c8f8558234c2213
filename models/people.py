"""Young people referred for accommodation, and their placements with a support plan.

A referral holds only what matching and approvals need: no names or addresses, just postcodes
and the needs profile of the Placements Data Standard.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, enum_column
from models.enums import (
    LegalStatus,
    LivingWith,
    PlacementStatus,
    ReferralStatus,
    Sex,
    Suitability,
    Tier,
    Urgency,
)
from models.supply import Money
from models.tenancy import CouncilOwned


def age_on(date_of_birth: dt.date, on: dt.date) -> int:
    """Age in whole years on a date (a birthday on 29 February counts from 1 March)."""
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


class Referral(CouncilOwned, Timestamped, Base):
    __tablename__ = "referral"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    date_of_birth: Mapped[dt.date]
    sex: Mapped[Sex] = enum_column(Sex)
    legal_status: Mapped[LegalStatus] = enum_column(LegalStatus)
    home_postcode: Mapped[str] = mapped_column(String(8))
    home_la_code: Mapped[str] = mapped_column(String(9))
    home_easting: Mapped[float]
    home_northing: Mapped[float]
    education_postcode: Mapped[Optional[str]] = mapped_column(String(8))
    education_easting: Mapped[Optional[float]]
    education_northing: Mapped[Optional[float]]
    tier: Mapped[Tier] = enum_column(Tier)
    urgency: Mapped[Urgency] = enum_column(Urgency)
    needs: Mapped[list[str]] = mapped_column(default=list)
    risks_to_self: Mapped[list[str]] = mapped_column(default=list)
    risks_to_others: Mapped[list[str]] = mapped_column(default=list)
    living_with: Mapped[LivingWith] = enum_column(LivingWith, default=LivingWith.no_preference)
    # Every service type mapped to preferred / suitable / unsuitable (see models.schemas).
    type_suitability: Mapped[dict[str, str]] = mapped_column(default=dict)
    preferred_postcode: Mapped[Optional[str]] = mapped_column(String(8))
    avoid_postcodes: Mapped[list[str]] = mapped_column(default=list)
    avoid_radius_miles: Mapped[Optional[float]] = mapped_column(Float)
    sibling_group: Mapped[Optional[str]] = mapped_column(String(40), index=True)
    deprivation_of_liberty: Mapped[bool] = mapped_column(default=False)
    referred_on: Mapped[dt.date]
    # How long the package is expected to last and when support should step down a tier.
    duration_weeks: Mapped[Optional[int]]
    step_down_weeks: Mapped[Optional[int]]
    wishes: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[ReferralStatus] = enum_column(ReferralStatus, default=ReferralStatus.open)

    placements: Mapped[list["Placement"]] = relationship(back_populates="referral")

    __table_args__ = (
        CheckConstraint("avoid_radius_miles IS NULL OR avoid_radius_miles >= 0", name="radius"),
        CheckConstraint("duration_weeks IS NULL OR duration_weeks > 0", name="duration"),
        CheckConstraint("step_down_weeks IS NULL OR step_down_weeks >= 0", name="step_down"),
    )

    def age_on(self, on: dt.date) -> int:
        return age_on(self.date_of_birth, on)

    def suitability(self, service_type: str) -> Suitability:
        return Suitability(self.type_suitability.get(str(service_type), Suitability.suitable))


class Placement(CouncilOwned, Timestamped, Base):
    """A young person living (or proposed to live) at a property, with a support plan.

    ``tier`` and ``weekly_cost`` are those of the plan step in force at the start; the plan's
    steps schedule step-down (or a short step-up) over time."""

    __tablename__ = "placement"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id"), index=True)
    property_id: Mapped[str] = mapped_column(ForeignKey("property.id"), index=True)
    vacancy_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("vacancy.id", ondelete="SET NULL")
    )
    tier: Mapped[Tier] = enum_column(Tier)
    weekly_cost: Mapped[float] = mapped_column(Money)
    starts_on: Mapped[dt.date]
    planned_end_on: Mapped[Optional[dt.date]]
    ended_on: Mapped[Optional[dt.date]]
    status: Mapped[PlacementStatus] = enum_column(PlacementStatus)
    # Set when something about the home changed (an Ofsted grade): the panel reviews by then.
    review_due_on: Mapped[Optional[dt.date]]
    review_reason: Mapped[Optional[str]] = mapped_column(Text)
    # Optimistic locking: two managers updating one placement at once, one wins.
    version: Mapped[int] = mapped_column(Integer, default=1)

    referral: Mapped[Referral] = relationship(back_populates="placements")
    property: Mapped["Property"] = relationship()  # noqa: F821 (models.supply)
    support_plan: Mapped[list["SupportPlanStep"]] = relationship(
        back_populates="placement", cascade="all, delete-orphan", order_by="SupportPlanStep.starts_on"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("weekly_cost >= 0", name="cost"),
        CheckConstraint("ended_on IS NULL OR ended_on >= starts_on", name="dates"),
    )

    def tier_on(self, on: dt.date) -> Tier:
        """The tier of support the plan provides on a date."""
        current = self.tier
        for step in self.support_plan:
            if step.starts_on <= on:
                current = step.tier
        return current


class SupportPlanStep(CouncilOwned, Base):
    """From ``starts_on`` the placement provides support at ``tier`` for ``weekly_cost``."""

    __tablename__ = "support_plan_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placement.id", ondelete="CASCADE"))
    starts_on: Mapped[dt.date]
    tier: Mapped[Tier] = enum_column(Tier)
    weekly_cost: Mapped[float] = mapped_column(Money)
    note: Mapped[Optional[str]] = mapped_column(String(200))

    placement: Mapped[Placement] = relationship(back_populates="support_plan")

    __table_args__ = (CheckConstraint("weekly_cost >= 0", name="cost"),)


# Who lives in each home, as every council's matching needs to know it: by tier and risks only,
# whichever council placed them (database views, models/migrations/versions/0015; on PostgreSQL
# they read past the row-level security, on purpose: no name, no referral, no council). Kept out
# of ``Base.metadata`` because they are views, not tables.
_views = MetaData()
home_resident = Table(
    "home_resident", _views,
    Column("placement_id", Integer), Column("property_id", String(40)), Column("tier", String(32)),
    Column("status", String(32)), Column("risks_to_self", JSON), Column("risks_to_others", JSON),
)
home_resident_step = Table(
    "home_resident_step", _views,
    Column("placement_id", Integer), Column("starts_on", Date), Column("tier", String(32)),
)
# Each council's counts (views too): what a care co-operative's staff see instead of records.
council_referral_figures = Table(
    "council_referral_figures", _views,
    Column("council_code", String(9)), Column("status", String(32)), Column("tier", String(32)),
    Column("urgency", String(32)), Column("referrals", Integer),
)
council_placement_figures = Table(
    "council_placement_figures", _views,
    Column("council_code", String(9)), Column("status", String(32)), Column("tier", String(32)),
    Column("placements", Integer), Column("weekly_cost", Float),
)


def views() -> list[str]:
    """The database views the migrations create (models/migrations/versions/0015)."""
    return sorted(_views.tables)
