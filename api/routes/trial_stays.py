"""Trial stays over the service: the panel books a few nights in a proposed home before the
placement starts, lists a young person's trials and cancels one (api.trial_stays holds the rules;
these routes only translate)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api import trial_stays
from api.deps import CASE_READERS, PANEL, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES
from api.routes.decisions import REASON, StrictBody, refusals_as_errors
from models import glossary
from models.trials import TrialStay

router = APIRouter(tags=["trial stays"], responses=ERROR_RESPONSES)
PanelMember = Allowed(*PANEL)
CaseReader = Allowed(*CASE_READERS)


class TrialIn(StrictBody):
    starts_on: dt.date = Field(description="The first night: from today and the day the bed is free, up to "
                                           f"{trial_stays.BOOK_WITHIN_DAYS} days ahead")
    nights: int = Field(ge=1, le=trial_stays.MAX_NIGHTS, examples=[3])
    reason: str = REASON


class TrialPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    referral_id: str
    vacancy_id: str
    property_id: str
    proposed_match_id: Optional[int]
    starts_on: dt.date
    ends_on: dt.date = Field(description="The morning after the last night: the day the placement may start")
    nights: int
    nightly_cost: float
    cost: float = Field(description="The nights at the proposal's weekly price over seven")
    status: str
    status_words: str
    reason: str
    booked_at: dt.datetime
    cancelled_at: Optional[dt.datetime] = None
    cancel_reason: Optional[str] = None


def public(trial: TrialStay) -> TrialPublic:
    return TrialPublic(id=trial.id, referral_id=trial.referral_id, vacancy_id=trial.vacancy_id,
                       property_id=trial.property_id, proposed_match_id=trial.proposed_match_id,
                       starts_on=trial.starts_on, ends_on=trial.ends_on, nights=trial.nights,
                       nightly_cost=float(trial.nightly_cost), cost=trial.cost, status=trial.status.value,
                       status_words=glossary.TRIAL_STATUSES[trial.status.value], reason=trial.reason,
                       booked_at=trial.booked_at, cancelled_at=trial.cancelled_at, cancel_reason=trial.cancel_reason)


@router.post("/match-runs/{run_id}/proposals/{proposal_id}/trial-stay", response_model=TrialPublic,
             status_code=201, summary="Book a trial stay in a proposed home before the placement starts")
def book_trial(run_id: RecordId, proposal_id: RecordId, body: TrialIn, session: SessionDep, user: PanelMember):
    """Refused (409) when the young person is not waiting or has a trial booked already, when the
    bed is no longer free or the home now breaks a hard rule for them, and (code ``trial_dates``)
    for a first night before today, before the bed is free or more than 28 days ahead. Accepting
    the proposal later starts the placement the day the trial ends."""
    with refusals_as_errors():
        return public(trial_stays.book(session, user, run_id, proposal_id, starts_on=body.starts_on,
                                       nights=body.nights, reason=body.reason))


@router.get("/trial-stays", response_model=list[TrialPublic], summary="A young person's trial stays")
def list_trials(session: SessionDep, _: CaseReader,
                referral_id: Annotated[str, Query(min_length=1, max_length=40, pattern=r"^[^:\x00-\x1f]+$")]):
    return [public(t) for t in trial_stays.trials_for(session, referral_id)]


class CancelIn(StrictBody):
    reason: str = REASON


@router.post("/trial-stays/{trial_id}/cancel", response_model=TrialPublic, summary="Cancel a trial stay not begun")
def cancel_trial(trial_id: RecordId, body: CancelIn, session: SessionDep, user: PanelMember):
    with refusals_as_errors():
        return public(trial_stays.cancel(session, user, trial_id, body.reason))
