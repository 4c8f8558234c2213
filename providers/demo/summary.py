"""What a council's data amounts to: counts, supply and demand by local authority, and free
beds against open referrals by support tier, all by SQL aggregates over whatever the database
holds (the demo or imported data). ``placematch demo`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.enums import PlacementStatus, ReferralStatus, Tier
from models.orm import (
    Framework,
    LocalAuthority,
    Lot,
    Placement,
    Property,
    Provider,
    Referral,
    TierPrice,
    Vacancy,
    authority_adjacency,
)
from providers.demo.places import DEMO_AUTHORITY


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    relation: str  # "placing authority", "in area", "adjoining" or "at a distance"
    properties: int
    beds: int
    free_beds: int
    referrals: int  # open referrals whose home postcode is in this authority

    def as_tuple(self) -> tuple:
        return (self.name, self.code, self.relation, self.properties, self.beds, self.free_beds, self.referrals)


@dataclass(frozen=True)
class TierRow:
    tier: str
    referrals: int  # open referrals assessed at this tier
    free_beds: int  # free beds in properties that offer this tier

    def as_tuple(self) -> tuple:
        return (self.tier, self.referrals, self.free_beds)


@dataclass(frozen=True)
class DemoSummary:
    placing_authority_code: str
    placing_authority_name: str
    referrals_open: int
    referrals_placed: int
    providers: int
    properties: int
    beds: int
    free_beds: int
    vacancies: int
    placements_active: int
    frameworks: int
    lots: int
    areas: tuple[AreaRow, ...]
    tiers: tuple[TierRow, ...]

    AREA_HEADINGS: ClassVar[tuple[str, ...]] = (
        "Local authority", "Code", "Relation", "Properties", "Beds", "Free beds", "Open referrals (home)")
    TIER_HEADINGS: ClassVar[tuple[str, ...]] = ("Tier", "Open referrals", "Free beds offering it")

    def totals(self) -> list[tuple[str, int]]:
        return [
            ("Open referrals", self.referrals_open),
            ("Young people placed", self.referrals_placed),
            ("Active placements", self.placements_active),
            ("Providers", self.providers),
            ("Properties", self.properties),
            ("Beds", self.beds),
            ("Free beds", self.free_beds),
            ("Vacancies", self.vacancies),
            ("Frameworks", self.frameworks),
            ("Lots", self.lots),
            ("Local authorities with supply", sum(1 for a in self.areas if a.properties)),
        ]

    def area_headings(self) -> list[str]:
        return list(self.AREA_HEADINGS)

    def area_rows(self) -> list[tuple]:
        return [a.as_tuple() for a in self.areas]

    rows = area_rows

    def tier_headings(self) -> list[str]:
        return list(self.TIER_HEADINGS)

    def tier_rows(self) -> list[tuple]:
        return [t.as_tuple() for t in self.tiers]


def _count(session: Session, model, *where) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def summarise(session: Session, placing_code: str = DEMO_AUTHORITY) -> DemoSummary:
    """Counts and the per-authority breakdown of whatever the database holds, by SQL aggregates."""
    is_open = Referral.status == ReferralStatus.open
    supply = {
        code: (int(n), int(beds or 0))
        for code, n, beds in session.execute(
            select(Property.la_code, func.count(Property.id), func.sum(Property.total_beds)).group_by(Property.la_code))
    }
    free = {
        code: int(beds or 0)
        for code, beds in session.execute(
            select(Property.la_code, func.sum(Vacancy.beds))
            .select_from(Vacancy).join(Vacancy.property).group_by(Property.la_code))
    }
    homes = {
        code: int(n)
        for code, n in session.execute(
            select(Referral.home_la_code, func.count(Referral.id)).where(is_open).group_by(Referral.home_la_code))
    }
    codes = sorted(set(supply) | set(free) | set(homes) | {placing_code})
    known = {
        la.code: la for la in session.scalars(select(LocalAuthority).where(LocalAuthority.code.in_(codes)))
    }
    placing_upper = known[placing_code].upper_tier_code if placing_code in known else placing_code
    neighbours = set(session.scalars(
        select(authority_adjacency.c.code_b).where(authority_adjacency.c.code_a == placing_upper)))

    def relation(code: str) -> str:
        if code == placing_code:
            return "placing authority"
        upper = known[code].upper_tier_code if code in known else code
        if upper == placing_upper:
            return "in area"
        return "adjoining" if upper in neighbours else "at a distance"

    areas = [
        AreaRow(code, known[code].name if code in known else code, relation(code), *supply.get(code, (0, 0)),
                free.get(code, 0), homes.get(code, 0))
        for code in codes
    ]
    areas.sort(key=lambda a: (a.code != placing_code, -a.beds, -a.referrals, a.name))

    # (dict() of a Result would treat it as a mapping: it has keys())
    open_by_tier = dict(session.execute(
        select(Referral.tier, func.count(Referral.id)).where(is_open).group_by(Referral.tier)).all())
    free_by_tier = dict(session.execute(
        select(TierPrice.tier, func.sum(Vacancy.beds))
        .join(Vacancy, Vacancy.property_id == TierPrice.property_id)
        .group_by(TierPrice.tier)).all())
    tiers = tuple(TierRow(t.value, int(open_by_tier.get(t, 0)), int(free_by_tier.get(t) or 0)) for t in Tier)

    return DemoSummary(
        placing_authority_code=placing_code,
        placing_authority_name=known[placing_code].name if placing_code in known else placing_code,
        referrals_open=_count(session, Referral, is_open),
        referrals_placed=_count(session, Referral, Referral.status == ReferralStatus.placed),
        providers=_count(session, Provider),
        properties=sum(n for n, _ in supply.values()),
        beds=sum(b for _, b in supply.values()),
        free_beds=sum(free.values()),
        vacancies=_count(session, Vacancy),
        placements_active=_count(session, Placement, Placement.status == PlacementStatus.active),
        frameworks=_count(session, Framework, Framework.placing_authority_code == placing_code),
        lots=int(session.scalar(select(func.count(Lot.id)).join(Lot.framework)
                                .where(Framework.placing_authority_code == placing_code)) or 0),
        areas=tuple(areas),
        tiers=tiers,
    )
