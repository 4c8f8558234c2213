"""The care co-operative's view of its region: each member council's figures (how many young
people wait at each tier, how many are placed, what the placements cost a week) and the shared
market's beds, for the co-operative's staff, who may see no young person's record. The figures
come from database views that count (models.people.council_referral_figures), not from records:
on PostgreSQL the co-operative's transaction cannot read a referral at all (models.tenancy)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import REGIONAL, Allowed, SessionDep
from api.errors import ERROR_RESPONSES
from models.enums import PlacementStatus, ReferralStatus, Tier, Urgency
from models.people import council_placement_figures, council_referral_figures
from models.supply import Vacancy
from models.tenancy import Council

router = APIRouter(prefix="/region", tags=["region"], responses=ERROR_RESPONSES)
Regional = Allowed(*REGIONAL)


class CouncilFigures(BaseModel):
    code: str = Field(examples=["E06000035"])
    name: str = Field(examples=["Medway"])
    waiting: dict[str, int] = Field(description="Young people waiting for a placement, by tier of support")
    waiting_today: int = Field(description="Of those, how many need a home today")
    placed: dict[str, int] = Field(description="Young people living in a placement now, by tier of support")
    weekly_cost: float = Field(description="What those placements cost a week, in pounds")
    own_beds: int = Field(description="Free beds only this council may use")


class RegionFigures(BaseModel):
    councils: list[CouncilFigures]
    shared_beds: int = Field(description="Free beds every council of the region may use")


@router.get("/figures", response_model=RegionFigures, summary="Each member council's figures and the shared market")
def figures(session: SessionDep, _: Regional):
    """Counts only: no young person's record, name or id."""
    tiers = [t.value for t in Tier]
    by_council = {c.code: {"code": c.code, "name": c.name, "waiting": dict.fromkeys(tiers, 0), "waiting_today": 0,
                           "placed": dict.fromkeys(tiers, 0), "weekly_cost": 0.0, "own_beds": 0}
                  for c in session.scalars(select(Council).order_by(Council.name))}
    waiting = select(council_referral_figures).where(council_referral_figures.c.status == ReferralStatus.open.value)
    for row in session.execute(waiting):
        council = by_council.get(row.council_code)
        if council is not None:
            council["waiting"][row.tier] += row.referrals
            council["waiting_today"] += row.referrals if row.urgency == Urgency.today.value else 0
    placed = select(council_placement_figures).where(
        council_placement_figures.c.status == PlacementStatus.active.value)
    for row in session.execute(placed):
        council = by_council.get(row.council_code)
        if council is not None:
            council["placed"][row.tier] += row.placements
            council["weekly_cost"] += float(row.weekly_cost or 0)
    shared = 0
    beds = select(Vacancy.council_code, func.sum(Vacancy.beds)).where(Vacancy.beds > 0).group_by(Vacancy.council_code)
    for code, count in session.execute(beds):
        if code is None:
            shared += int(count)
        elif code in by_council:
            by_council[code]["own_beds"] += int(count)
    return RegionFigures(councils=[CouncilFigures(**c) for c in by_council.values()], shared_beds=shared)
