"""The panel's decisions on a match run: accept or reject a proposal, place a young person in a
home of the panel's own choosing (override), lock or ban pairs for the next run, and lift a
lock, ban or rejection the next run would otherwise be given.

Every decision carries a reason and writes an audit event; accepting or overriding creates the
placement with its support plan and raises the approval requests the council's policy asks for
(:mod:`api.panel_decisions` and :mod:`api.panel_memory` hold the rules; these routes only
translate)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Optional

from fastapi import APIRouter, Depends
from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field

from api import panel_decisions, panel_memory, refusals, run_records
from api.deps import CASE_READERS, PANEL, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, ApiError
from api.pagination import Limit, Offset, Page, page
from matching.approvals import ApprovalPolicy
from models.enums import DecisionKind
from models.schemas import ApprovalRequestPublic, PlacementPublic

router = APIRouter(prefix="/match-runs", tags=["decisions"], responses=ERROR_RESPONSES)
PanelMember = Allowed(*PANEL)
CaseReader = Allowed(*CASE_READERS)
def _approvals(user: PanelMember) -> ApprovalPolicy:
    return panel_decisions.approvals_of(user)


CouncilApprovals = Annotated[ApprovalPolicy, Depends(_approvals)]

_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}


@contextmanager
def refusals_as_errors() -> Iterator[None]:
    """The decisions' refusals (:mod:`api.refusals`) in the service's one error shape (404/403/409/422)."""
    try:
        yield
    except refusals.Refused as refused:
        raise ApiError(_STATUS[refused.kind], refused.message, code=refused.code, fields=refused.fields) from None


# --- schemas -------------------------------------------------------------------------------------


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


REASON = Field(min_length=3, max_length=2000, description="Why the panel decided this (always required)",
               examples=["Closest home offering enhanced support; the young person asked to stay near college."])
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class ReasonIn(StrictBody):
    reason: str = REASON


class PairIn(StrictBody):
    referral_id: str = Field(min_length=1, max_length=40, pattern=ID_PATTERN, examples=["R0003"])
    vacancy_id: str = Field(min_length=1, max_length=40, pattern=ID_PATTERN, examples=["V0049"])
    reason: str = REASON


class OverrideIn(PairIn):
    confirm: bool = Field(False, description="Place the young person even though the choice breaks rules "
                                             "(the rules are listed when it is false)")


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    match_run_id: Optional[int]
    proposed_match_id: Optional[int]
    referral_id: str
    vacancy_id: Optional[str]
    kind: DecisionKind
    reason: str
    decided_by_id: int
    created_at: dt.datetime


class BrokenRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["grade_below_good"])
    words: str = Field(examples=["provider graded below good"])
    detail: str = Field(examples=["requires_improvement"])


class PlacementWithReview(PlacementPublic):
    review_due_on: Optional[dt.date]
    review_reason: Optional[str]


class ApprovalRequestRecord(ApprovalRequestPublic):
    """An approval request as every answer shows it: with who decided it, and what asked for
    it (the approvals policy's ``rule`` at ``policy_version``, raised by ``panel_decision_id``)."""

    decided_by_id: Optional[int] = Field(
        description="The manager who decided it; empty while pending, and when it was closed without a "
                    "decision because another request of the placement was rejected")
    decided_by: Optional[str] = Field(
        None, validation_alias=AliasChoices(AliasPath("decider", "full_name"), "decided_by"),
        description="Their name", examples=["Hana Head"])
    policy_version: Optional[str] = Field(
        description="The version of the approvals policy whose rule asked for this approval (see rule); empty "
                    "for requests raised before versions were kept", examples=["3f9a0c2b71de"])
    panel_decision_id: Optional[int] = Field(
        description="The panel's decision (accept or override) that raised it; whoever made that decision "
                    "cannot decide this request")


class PlacementDecision(BaseModel):
    """What accepting or overriding did: the decision, the placement (``active`` when no
    approval is needed, else ``awaiting_approval``), its approval requests, and for an
    override the rules the panel knowingly broke."""

    decision: DecisionPublic
    placement: PlacementWithReview
    approval_requests: list[ApprovalRequestRecord]
    broken_rules: list[BrokenRulePublic] = []


def _placed(placed: panel_decisions.Placed) -> PlacementDecision:
    return PlacementDecision(
        decision=DecisionPublic.model_validate(placed.decision),
        placement=PlacementWithReview.model_validate(placed.placement),
        approval_requests=[ApprovalRequestRecord.model_validate(r) for r in placed.requests],
        broken_rules=[BrokenRulePublic.model_validate(b) for b in placed.broken_rules],
    )


# --- routes --------------------------------------------------------------------------------------


@router.post("/{run_id}/proposals/{proposal_id}/accept", response_model=PlacementDecision, status_code=201,
             summary="Accept a proposal: create the placement and its approval requests")
def accept(run_id: RecordId, proposal_id: RecordId, body: ReasonIn, session: SessionDep, user: PanelMember,
           approvals: CouncilApprovals):
    """Creates the placement with its support plan (the planned step down included), takes a
    bed of the vacancy and raises the approvals the council's policy asks for.

    The proposal is checked again against today's data exactly as an override is: 422
    ``no_longer_allowed`` naming each rule it now breaks (a provider's grade fell, a date
    moved, the panel locked the young person elsewhere...) in ``fields`` (path
    ``rule:<code>``), and nothing is written. 409 when the vacancy has no free bed, the young
    person already has a live placement, the proposal was already decided, or the run cannot
    be decided on: ``superseded`` when a newer run for the same council has succeeded since,
    ``run_not_decidable`` when it failed, was cancelled or has not finished."""
    with refusals_as_errors():
        return _placed(panel_decisions.accept_proposal(session, user, run_id, proposal_id, body.reason, approvals))


@router.post("/{run_id}/proposals/{proposal_id}/reject", response_model=DecisionPublic, status_code=201,
             summary="Reject a proposal (the young person stays in the queue)")
def reject(run_id: RecordId, proposal_id: RecordId, body: ReasonIn, session: SessionDep, user: PanelMember):
    """409 ``superseded`` when a newer run of the council has succeeded: a rejection on an older
    run would never reach the runs after it."""
    with refusals_as_errors():
        return DecisionPublic.model_validate(
            panel_decisions.reject_proposal(session, user, run_id, proposal_id, body.reason))


@router.post("/{run_id}/override", response_model=PlacementDecision, status_code=201,
             summary="Place a young person in a home of the panel's own choosing")
def override(run_id: RecordId, body: OverrideIn, session: SessionDep, user: PanelMember, approvals: CouncilApprovals):
    """The choice is scored and checked against every rule (``matching.analyze``). If it breaks
    any and ``confirm`` is false, the answer is 409 ``rules_broken`` listing each rule in
    ``fields`` (path ``rule:<code>``) and nothing is written; with ``confirm`` true the
    placement is created as for an accepted proposal and the broken rules are kept in the
    decision's reason, the audit log and the approval requests. As for accepting, 409 when the
    vacancy has no free bed, or ``superseded`` when a newer run of the council has succeeded
    (decide on that one)."""
    with refusals_as_errors():
        return _placed(panel_decisions.override(session, user, run_id, body.referral_id, body.vacancy_id,
                                                body.reason, body.confirm, approvals))


@router.post("/{run_id}/locks", response_model=DecisionPublic, status_code=201,
             summary="Lock a young person to a vacancy for the next run")
def lock(run_id: RecordId, body: PairIn, session: SessionDep, user: PanelMember):
    with refusals_as_errors():
        return DecisionPublic.model_validate(panel_memory.record_lock_or_ban(
            session, user, run_id, DecisionKind.lock, body.referral_id, body.vacancy_id, body.reason))


@router.post("/{run_id}/bans", response_model=DecisionPublic, status_code=201,
             summary="Ban a young person from a vacancy for the next run")
def ban(run_id: RecordId, body: PairIn, session: SessionDep, user: PanelMember):
    with refusals_as_errors():
        return DecisionPublic.model_validate(panel_memory.record_lock_or_ban(
            session, user, run_id, DecisionKind.ban, body.referral_id, body.vacancy_id, body.reason))


@router.post("/{run_id}/lifts", response_model=DecisionPublic, status_code=201,
             summary="Lift a lock, ban or rejection so that a re-run of this run is not given it")
def lift(run_id: RecordId, body: PairIn, session: SessionDep, user: PanelMember):
    """What a re-run of the run would be given (its locks and bans, those carried from earlier
    runs, and the pairs rejected on it) is listed in ``GET /match-runs/{run_id}`` (``carried``)
    and ``GET /match-runs/{run_id}/decisions``. 409 ``nothing_to_lift`` when the pair is not
    held. The lift is recorded as a decision with its reason and audited with what it lifted."""
    with refusals_as_errors():
        return DecisionPublic.model_validate(panel_memory.lift(
            session, user, run_id, body.referral_id, body.vacancy_id, body.reason))


@router.get("/{run_id}/decisions", response_model=Page[DecisionPublic],
            summary="The panel's decisions on a run, in the order made")
def list_decisions(run_id: RecordId, session: SessionDep, _: CaseReader, limit: Limit = 100, offset: Offset = 0,
                   kind: DecisionKind | None = None):
    with refusals_as_errors():
        run_records.get_run(session, run_id)
    return page(session, run_records.decisions_query(run_id, kind), limit, offset, DecisionPublic)
