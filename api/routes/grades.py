"""A provider's Ofsted grade changes: record it and send the young people living in its homes
back to the panel for review within a week."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api import grade_changes
from api.deps import COMMISSIONING, Allowed, SessionDep
from api.errors import ERROR_RESPONSES
from api.routes.decisions import StrictBody, refusals_as_errors
from models.base import council_today
from models.enums import OfstedGrade

router = APIRouter(prefix="/providers", tags=["providers"], responses=ERROR_RESPONSES)
Commissioner = Allowed(*COMMISSIONING)


def today() -> dt.date:
    """The service's day (a dependency, so tests can fix it)."""
    return council_today()


Today = Annotated[dt.date, Depends(today)]


class GradeChangeIn(StrictBody):
    ofsted_grade: Optional[OfstedGrade] = Field(description="The new grade; null when no longer graded",
                                                examples=[OfstedGrade.requires_improvement])
    reason: str = Field(min_length=3, max_length=2000, description="Why the grade changed (always required)",
                        examples=["Inspection report published 20 November 2026"])


class GradeChange(BaseModel):
    provider_id: str
    before: Optional[OfstedGrade]
    after: Optional[OfstedGrade]
    review_due_on: dt.date = Field(description="The flagged placements' review date (an earlier one is kept)")
    flagged_placement_ids: list[int] = Field(
        description="Every live (proposed, awaiting approval or active) placement at the provider's homes")


@router.post("/{provider_id}/grade", response_model=GradeChange,
             summary="Record a new Ofsted grade and flag the young people placed there for review")
def change_grade(provider_id: str, body: GradeChangeIn, session: SessionDep, user: Commissioner, on: Today):
    with refusals_as_errors():
        changed = grade_changes.change_ofsted_grade(session, user, provider_id, body.ofsted_grade, body.reason, on)
    return GradeChange(provider_id=changed.provider.id, before=changed.before, after=changed.after,
                       review_due_on=changed.review_due_on, flagged_placement_ids=[p.id for p in changed.flagged])
