"""The supply side: authorities, providers, frameworks and their lots, tier prices, properties
and the vacancies (free beds) in them."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, UtcDateTime, enum_column
from models.enums import FrameworkKind, OfstedGrade, ServiceType, Setting, Sex, Tier
from models.tenancy import CouncilOrRegion

# Money is whole pounds and pence per week; read back as float for pandas and the solver.
Money = Numeric(10, 2, asdecimal=False)

authority_adjacency = Table(
    "authority_adjacency",
    Base.metadata,
    Column("code_a", ForeignKey("local_authority.code", ondelete="CASCADE"), primary_key=True),
    Column("code_b", ForeignKey("local_authority.code", ondelete="CASCADE"), primary_key=True),
)


class LocalAuthority(Base):
    """An English local authority by its ONS code (E06 unitary, E07 district, E09 London
    borough, E10 county). Children's services belong to the upper tier, so a district points
    at its county; adjacency is stored between upper-tier authorities, one row each way."""

    __tablename__ = "local_authority"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    upper_tier_code: Mapped[str] = mapped_column(String(9))
    region: Mapped[Optional[str]] = mapped_column(String(60))

    adjoining: Mapped[list["LocalAuthority"]] = relationship(
        secondary=authority_adjacency,
        primaryjoin=code == authority_adjacency.c.code_a,
        secondaryjoin=code == authority_adjacency.c.code_b,
    )


class Provider(Timestamped, Base):
    __tablename__ = "provider"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ofsted_urn: Mapped[Optional[str]] = mapped_column(String(20))
    ofsted_grade: Mapped[Optional[OfstedGrade]] = enum_column(OfstedGrade, nullable=True)
    in_house: Mapped[bool] = mapped_column(default=False)

    properties: Mapped[list["Property"]] = relationship(back_populates="provider")


class Framework(CouncilOrRegion, Timestamped, Base):
    """A commissioning arrangement: a tendered framework, a DPS, a block contract, spot
    purchase or the council's in-house service."""

    __tablename__ = "framework"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[FrameworkKind] = enum_column(FrameworkKind)
    placing_authority_code: Mapped[str] = mapped_column(ForeignKey("local_authority.code"))
    starts_on: Mapped[Optional[dt.date]]
    ends_on: Mapped[Optional[dt.date]]
    # Tender evaluation weights (Medway's 16-25 DPS: 60% price, 40% quality).
    price_weight: Mapped[float] = mapped_column(Float, default=0.6)
    quality_weight: Mapped[float] = mapped_column(Float, default=0.4)

    lots: Mapped[list["Lot"]] = relationship(back_populates="framework", order_by="Lot.number")

    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="dates"),
    )


class Lot(Base):
    """A lot of a framework, by service type and sometimes area; providers accepted on it
    offer a weekly price per tier."""

    __tablename__ = "lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[ServiceType] = enum_column(ServiceType)
    area: Mapped[Optional[str]] = mapped_column(String(200))
    # Block contracts: beds bought whether used or not, and what an empty one costs a week.
    block_beds: Mapped[Optional[int]]
    void_weekly_cost: Mapped[Optional[float]] = mapped_column(Money)

    framework: Mapped[Framework] = relationship(back_populates="lots")
    prices: Mapped[list["TierPrice"]] = relationship(back_populates="lot")
    awards: Mapped[list["LotAward"]] = relationship(back_populates="lot", order_by="LotAward.rank")

    __table_args__ = (
        UniqueConstraint("framework_id", "number"),
        CheckConstraint("block_beds IS NULL OR block_beds >= 0", name="block_beds"),
    )


class LotAward(Base):
    """A provider accepted on a lot by a tender (providers.tender_award): the weekly price it bid
    for each tier the lot offers, the beds it offered, and its place and scores in the lot's
    ranking, as evaluated (providers.tender_evaluation)."""

    __tablename__ = "lot_award"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"))
    rank: Mapped[int]
    price_score: Mapped[float] = mapped_column(Float)
    quality_score: Mapped[float] = mapped_column(Float)
    total_score: Mapped[float] = mapped_column(Float)
    capacity_beds: Mapped[int]
    price_standard: Mapped[Optional[float]] = mapped_column(Money)
    price_enhanced: Mapped[Optional[float]] = mapped_column(Money)
    price_intensive: Mapped[Optional[float]] = mapped_column(Money)

    lot: Mapped[Lot] = relationship(back_populates="awards")
    provider: Mapped[Provider] = relationship()

    __table_args__ = (
        UniqueConstraint("lot_id", "provider_id"),
        CheckConstraint("capacity_beds >= 1", name="capacity"),
        CheckConstraint("COALESCE(price_standard, 0) >= 0 AND COALESCE(price_enhanced, 0) >= 0 "
                        "AND COALESCE(price_intensive, 0) >= 0", name="prices_not_negative"),
    )

    def price(self, tier: Tier | str) -> float | None:
        return getattr(self, f"price_{Tier(tier).value}")


class TenderEvaluation(CouncilOrRegion, Timestamped, Base):
    """A tender's files as a commissioner uploaded them (providers.tender_store), kept whole so
    its ranking can be shown again and audited, and the award made from exactly these: the
    tender's definition, its bids, the evaluators' scores and the moderation."""

    __tablename__ = "tender_evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tender_file: Mapped[str] = mapped_column(String(200))
    tender_text: Mapped[str] = mapped_column(Text)
    bids_file: Mapped[str] = mapped_column(String(200))
    bids_data: Mapped[bytes] = mapped_column(LargeBinary)
    scores_file: Mapped[str] = mapped_column(String(200))
    scores_data: Mapped[bytes] = mapped_column(LargeBinary)
    moderation_file: Mapped[Optional[str]] = mapped_column(String(200))
    moderation_data: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))  # of the four files together, as uploaded
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    framework_id: Mapped[Optional[int]] = mapped_column(ForeignKey("framework.id"))  # once awarded
    awarded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    awarded_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())


class TierPrice(Base):
    """The weekly price of support at one tier at one property, and the lot it was bought
    under (none for spot or imported prices). A property offers exactly the tiers it has a
    price for."""

    __tablename__ = "tier_price"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[str] = mapped_column(ForeignKey("property.id", ondelete="CASCADE"))
    lot_id: Mapped[Optional[int]] = mapped_column(ForeignKey("lot.id", ondelete="SET NULL"))
    tier: Mapped[Tier] = enum_column(Tier)
    weekly_price: Mapped[float] = mapped_column(Money)

    property: Mapped["Property"] = relationship(back_populates="prices")
    lot: Mapped[Optional[Lot]] = relationship(back_populates="prices")

    __table_args__ = (
        UniqueConstraint("property_id", "tier"),
        CheckConstraint("weekly_price >= 0", name="price_not_negative"),
    )


class Property(Timestamped, Base):
    """A home, flat, host household or carer's home where young people live."""

    __tablename__ = "property"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"))
    name: Mapped[Optional[str]] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(8))
    easting: Mapped[float]
    northing: Mapped[float]
    la_code: Mapped[str] = mapped_column(String(9), index=True)
    service_type: Mapped[ServiceType] = enum_column(ServiceType)
    setting: Mapped[Setting] = enum_column(Setting)
    ofsted_registered: Mapped[bool]
    sex: Mapped[Sex] = enum_column(Sex, default=Sex.any)
    age_min: Mapped[int]
    age_max: Mapped[int]
    total_beds: Mapped[int]
    accepts_needs: Mapped[list[str]] = mapped_column(default=list)
    excludes_risks: Mapped[list[str]] = mapped_column(default=list)
    # Risk codes of residents placematch does not hold as placements (another council's young
    # people, or residents named in an imported vacancies file); with the risks of residents
    # placed through placematch they decide who may share the home.
    resident_risks: Mapped[list[str]] = mapped_column(default=list)

    provider: Mapped[Provider] = relationship(back_populates="properties")
    # In tier order (standard, enhanced, intensive), not the codes' alphabetical order.
    prices: Mapped[list[TierPrice]] = relationship(
        back_populates="property", cascade="all, delete-orphan",
        order_by=lambda: case({t.value: t.rank for t in Tier}, value=TierPrice.tier),
    )
    vacancies: Mapped[list["Vacancy"]] = relationship(
        back_populates="property", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("age_min >= 16 AND age_max <= 25 AND age_min <= age_max", name="ages"),
        CheckConstraint("total_beds >= 0", name="total_beds"),
    )

    @property
    def tiers(self) -> list[Tier]:
        return sorted((p.tier for p in self.prices), key=lambda t: t.rank)

    def price_for(self, tier: Tier) -> Optional[float]:
        return next((p.weekly_price for p in self.prices if p.tier == tier), None)


class Vacancy(CouncilOrRegion, Timestamped, Base):
    """Free beds at a property from a date. Staying Put vacancies are tied to the former
    foster child who may take them (``reserved_for_referral_id``)."""

    __tablename__ = "vacancy"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    property_id: Mapped[str] = mapped_column(ForeignKey("property.id", ondelete="CASCADE"))
    beds: Mapped[int]
    available_from: Mapped[dt.date]
    # A floating support or outreach package: the support hours a week it has free, which is
    # what the matching counts (beds is then the most young people it takes at once).
    support_hours: Mapped[Optional[int]] = mapped_column(default=None)
    reserved_for_referral_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("referral.id", ondelete="SET NULL")
    )

    property: Mapped[Property] = relationship(back_populates="vacancies")

    __table_args__ = (CheckConstraint("beds >= 0", name="beds_not_negative"),
                      CheckConstraint("support_hours IS NULL OR support_hours BETWEEN 1 AND 1000",
                                      name="support_hours_in_range"))
