"""Approval requests: the managers' queues, and approving or rejecting a request.

A placement the panel accepted becomes active only when every request it raised is approved;
one rejection sends it back to the panel. Only the request's role decides it, never the person
who made the panel decision that raised it (403, audited), and a decision names the version
the manager read: if someone decided (or closed) the request since, the answer is 409
``stale`` and nothing changes. Every request shows who decided it and the approvals policy's
rule and version that asked for it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import approval_decisions
from api.deps import CASE_READERS, MANAGERS, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES
from api.pagination import Limit, Offset, Page, page
from api.routes.decisions import REASON, ApprovalRequestRecord, PlacementWithReview, StrictBody, refusals_as_errors
from models.enums import ApprovalStatus, Role
from models.people import Placement

router = APIRouter(prefix="/approvals", tags=["approvals"], responses=ERROR_RESPONSES)
Manager = Allowed(*MANAGERS)
CaseReader = Allowed(*CASE_READERS)


class ApprovalDecisionIn(StrictBody):
    reason: str = REASON
    version: int = Field(ge=1, description="The request's version as you read it (GET /approvals/{id})",
                         examples=[1])


class ApprovalDetail(BaseModel):
    request: ApprovalRequestRecord
    placement: PlacementWithReview


class ApprovalDecision(BaseModel):
    """The decided request, its placement afterwards (``active`` once every request is
    approved, ``rejected`` after a rejection) and any other requests the rejection closed."""

    request: ApprovalRequestRecord
    placement: PlacementWithReview
    closed_requests: list[ApprovalRequestRecord] = []


def _decided(outcome: approval_decisions.ApprovalDecided) -> ApprovalDecision:
    return ApprovalDecision(
        request=ApprovalRequestRecord.model_validate(outcome.request),
        placement=PlacementWithReview.model_validate(outcome.placement),
        closed_requests=[ApprovalRequestRecord.model_validate(r) for r in outcome.closed],
    )


@router.get("", response_model=Page[ApprovalRequestRecord], summary="Approval requests: by default your own queue")
def list_requests(session: SessionDep, user: CaseReader, limit: Limit = 50, offset: Offset = 0,
                  role: Role | Literal["any"] | None = None,
                  status: ApprovalStatus | Literal["any"] = ApprovalStatus.pending,
                  placement_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None):
    """Without ``role``, a manager (service manager, head of service, director) sees the
    requests for their own role and a panel member sees every role's; ``role=any`` shows all.
    ``status`` is ``pending`` unless asked (``any`` for every status)."""
    if role is None:
        role = user.role if user.role in MANAGERS else "any"
    query = approval_decisions.approvals_query(None if role == "any" else role,
                                               None if status == "any" else status, placement_id)
    return page(session, query, limit, offset, ApprovalRequestRecord)


@router.get("/{request_id}", response_model=ApprovalDetail, summary="One approval request with its placement")
def get_request(request_id: RecordId, session: SessionDep, _: CaseReader):
    with refusals_as_errors():
        request = approval_decisions.get_request(session, request_id)
    placement = session.get(Placement, request.placement_id)
    return ApprovalDetail(request=ApprovalRequestRecord.model_validate(request),
                          placement=PlacementWithReview.model_validate(placement))


@router.post("/{request_id}/approve", response_model=ApprovalDecision,
             summary="Approve a request (only its role, and not whoever made the panel decision); the placement "
                     "is active once all are approved")
def approve(request_id: RecordId, body: ApprovalDecisionIn, session: SessionDep, user: Manager):
    with refusals_as_errors():
        return _decided(approval_decisions.decide_approval(session, user, request_id, approve=True,
                                                           reason=body.reason, version=body.version))


@router.post("/{request_id}/reject", response_model=ApprovalDecision,
             summary="Reject a request (only its role, and not whoever made the panel decision): the placement "
                     "goes back to the panel")
def reject(request_id: RecordId, body: ApprovalDecisionIn, session: SessionDep, user: Manager):
    with refusals_as_errors():
        return _decided(approval_decisions.decide_approval(session, user, request_id, approve=False,
                                                           reason=body.reason, version=body.version))
