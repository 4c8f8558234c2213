"""Placements, read-only: where young people live (or are proposed to), with their support plan.

A placement is part of a young person's case, so only case readers see it (not commissioners,
not admins); changes to placements go through the panel's decisions and managers' approvals.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.deps import CASE_READERS, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, not_found
from api.pagination import Limit, Offset, Page, page
from models.enums import PlacementStatus, Tier
from models.people import Placement
from models.schemas import PlacementPublic
from models.supply import Property

router = APIRouter(prefix="/placements", tags=["placements"], responses=ERROR_RESPONSES)
CaseReader = Allowed(*CASE_READERS)


class PlacementDetail(PlacementPublic):
    """A placement with its support plan (steps in date order) and any review the panel owes."""

    review_due_on: Optional[dt.date] = Field(
        description="Set when something about the home changed (e.g. its Ofsted grade): review by then")
    review_reason: Optional[str]


# The plan is loaded with the placements in one query rather than one query per placement.
_WITH_PLAN = selectinload(Placement.support_plan)


def placement_query(status: PlacementStatus | None, tier: Tier | None, authority: str | None,
                    referral_id: str | None):
    query = select(Placement).options(_WITH_PLAN).order_by(Placement.id)
    for column, value in ((Placement.status, status), (Placement.tier, tier),
                          (Placement.referral_id, referral_id)):
        if value is not None:
            query = query.where(column == value)
    if authority is not None:
        query = query.join(Placement.property).where(Property.la_code == authority)
    return query


@router.get("", response_model=Page[PlacementDetail], summary="Placements with their support plans, filtered")
def list_placements(session: SessionDep, _: CaseReader, limit: Limit = 50, offset: Offset = 0,
                    status: PlacementStatus | None = None, tier: Tier | None = None, authority: str | None = None,
                    referral_id: str | None = None):
    """``tier`` is the tier the placement started at (the plan's steps may step it down later);
    ``authority`` is the ONS code of the local authority the property is in."""
    return page(session, placement_query(status, tier, authority, referral_id), limit, offset, PlacementDetail)


@router.get("/{placement_id}", response_model=PlacementDetail, summary="One placement with its support plan")
def get_placement(placement_id: RecordId, session: SessionDep, _: CaseReader):
    placement = session.get(Placement, placement_id, options=[_WITH_PLAN])
    if placement is None:
        raise not_found("placement", placement_id)
    return PlacementDetail.model_validate(placement)
