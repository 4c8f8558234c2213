"""The managers' decisions on approval requests: a placement the panel accepted (or chose
itself) becomes active only when every request it raised is approved; one rejection sends it
back to the panel.

The duties: only the request's role decides it, and never the person who made the panel
decision that raised it, whatever roles they hold (a head of service chairs the panel and also
approves): a placement is agreed by two people, not one. A decision records who made it, and
the request keeps the rule and the version of the approvals policy that asked for it.

Plain functions of a Session and a User, as the panel's decisions (:mod:`api.panel_decisions`,
which raises the requests); the routes (``api.routes.approvals``) and the pages call them
alike. Each decision is audited with the record before and after, and so is a refusal on
these duties.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from api.panel_decisions import placement_snapshot
from api.refusals import Conflict, NotFound, NotYours, Refused, Stale
from models.accounts import User, record
from models.base import utcnow
from models.enums import (
    ApprovalStatus,
    DecisionKind,
    PlacementStatus,
    ReferralStatus,
    Role,
)
from models.panel import ApprovalRequest, Decision
from models.people import Placement
from models.supply import Vacancy


class OwnPanelDecision(Refused):
    """The manager made the panel decision that raised the request: someone else decides it."""

    kind = "forbidden"
    code = "own_panel_decision"


OWN_PANEL_DECISION = ("You made the panel decision on this placement, so another manager must decide its "
                      "approval")


@dataclass
class ApprovalDecided:
    request: ApprovalRequest
    placement: Placement
    closed: list[ApprovalRequest]  # other requests closed because this one was rejected


def get_request(session: Session, request_id: int) -> ApprovalRequest:
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise NotFound(f"approval request {request_id} not found")
    return request


def approvals_query(role: Role | None, status: ApprovalStatus | None, placement_id: int | None = None):
    query = select(ApprovalRequest).order_by(ApprovalRequest.id)
    for column, value in ((ApprovalRequest.role, role), (ApprovalRequest.status, status),
                          (ApprovalRequest.placement_id, placement_id)):
        if value is not None:
            query = query.where(column == value)
    return query


def decide_approval(session: Session, user: User, request_id: int, *, approve: bool, reason: str,
                    version: int) -> ApprovalDecided:
    """A manager approves or rejects one request.

    Only the request's role decides. ``version`` is the version the manager read: if the
    request changed since (another manager decided, or a rejection closed it), :class:`Stale`.
    The placement is touched by every decision, so its own version column also serialises two
    managers deciding two requests of one placement at once: without that, each could see the
    other's request still pending and neither would make the placement active."""
    request = get_request(session, request_id)
    if user.role != request.role:
        raise NotYours(f"approval request {request.id} is for the {request.role.value.replace('_', ' ')}")
    panel = panel_decision_of(session, request)
    if panel is not None and panel.decided_by_id == user.id:
        _refuse_own_panel_decision(session, user, request, panel, approve)
    if version != request.version:
        raise Stale(f"approval request {request.id} is at version {request.version}, not {version}: "
                    "someone else changed it first; reload it and decide again",
                    fields=[("body.version", f"current version is {request.version}")])
    if request.status != ApprovalStatus.pending:
        raise Conflict(f"approval request {request.id} is already {request.status.value}", code="already_decided")
    placement = session.get(Placement, request.placement_id)
    if placement.status != PlacementStatus.awaiting_approval:
        raise Conflict(f"placement {placement.id} is {placement.status.value}, not awaiting approval")

    before = _request_snapshot(request)
    request.status = ApprovalStatus.approved if approve else ApprovalStatus.rejected
    request.reason, request.decided_by_id, request.decided_at = reason, user.id, utcnow()
    flag_modified(placement, "status")  # bump the placement's version (see above)
    session.flush()
    session.expire(request, ["decider"])  # read again: who decided, by name
    record(session, f"approval_{request.status.value}", "approval_request", request.id, actor=user,
           before=before, after=_request_snapshot(request))
    closed = [] if approve else _send_back_to_panel(session, user, placement, request)
    if approve:
        _activate_when_all_approved(session, user, placement)
    session.flush()
    return ApprovalDecided(request, placement, closed)


def panel_decision_of(session: Session, request: ApprovalRequest) -> Decision | None:
    """The panel's decision (accept or override) that raised the request. Requests raised
    before it was kept with them: the placement's accept or override, the last one made for
    its young person and vacancy before the request (only one placement of a young person is
    live at a time, and a decision is made before the requests it raises)."""
    if request.panel_decision_id is not None:
        return session.get(Decision, request.panel_decision_id)
    placement = session.get(Placement, request.placement_id)
    return session.scalar(
        select(Decision).where(Decision.referral_id == placement.referral_id,
                               Decision.vacancy_id == placement.vacancy_id,
                               Decision.kind.in_((DecisionKind.accept, DecisionKind.override)),
                               Decision.created_at <= request.created_at)
        .order_by(Decision.id.desc()).limit(1))


def _refuse_own_panel_decision(session: Session, user: User, request: ApprovalRequest, panel: Decision,
                               approve: bool) -> None:
    """Refuse, and keep the refusal in the audit log: it is committed before it is raised
    (nothing else has been written by then), so the rollback that follows a refusal keeps it,
    as a refused sign-in is kept."""
    record(session, "approval_refused", "approval_request", request.id, actor=user,
           before=_request_snapshot(request),
           after={"refused": "made_the_panel_decision", "panel_decision_id": panel.id,
                  "asked_to": "approve" if approve else "reject"})
    session.commit()
    raise OwnPanelDecision(OWN_PANEL_DECISION)


def _activate_when_all_approved(session: Session, user: User, placement: Placement) -> None:
    statuses = session.scalars(select(ApprovalRequest.status).where(ApprovalRequest.placement_id == placement.id)).all()
    if any(s != ApprovalStatus.approved for s in statuses):
        return
    before = placement_snapshot(placement)
    placement.status = PlacementStatus.active
    placement.referral.status = ReferralStatus.placed
    record(session, "placement_approved", "placement", placement.id, actor=user,
           before=before, after=placement_snapshot(placement))


def _send_back_to_panel(session: Session, user: User, placement: Placement,
                        rejected: ApprovalRequest) -> list[ApprovalRequest]:
    """A rejection ends the placement before it starts: the placement is rejected, the young
    person goes back to the queue, the bed is freed for the next run.

    The placement's other pending requests are closed rather than left pending: nothing they
    could decide would change the outcome, and left open they would sit in managers' queues
    as work to do. The status vocabulary has no "withdrawn", so they are closed as rejected
    with no deciding manager (``decided_by_id`` empty) and a reason saying they were closed
    because of this rejection; approvals already given stay approved (they were decided)."""
    before = placement_snapshot(placement)
    placement.status = PlacementStatus.rejected
    placement.referral.status = ReferralStatus.open
    if placement.vacancy_id is not None:
        session.execute(update(Vacancy).where(Vacancy.id == placement.vacancy_id).values(beds=Vacancy.beds + 1))
    record(session, "placement_rejected", "placement", placement.id, actor=user,
           before=before, after={**placement_snapshot(placement), "rejected_by_request": rejected.id})
    closed = session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.placement_id == placement.id, ApprovalRequest.status == ApprovalStatus.pending)).all()
    for other in closed:
        snapshot = _request_snapshot(other)
        other.status, other.decided_at = ApprovalStatus.rejected, utcnow()
        other.reason = (f"Closed without a decision: request {rejected.id} ({rejected.rule.value}) was rejected, "
                        "so the placement went back to the panel.")
        session.flush()
        record(session, "approval_closed", "approval_request", other.id, actor=user,
               before=snapshot, after=_request_snapshot(other))
    return list(closed)


def _request_snapshot(request: ApprovalRequest) -> dict:
    return {"status": request.status.value, "rule": request.rule.value, "role": request.role.value,
            "placement_id": request.placement_id, "reason": request.reason, "version": request.version,
            "decided_by_id": request.decided_by_id, "panel_decision_id": request.panel_decision_id,
            "policy_version": request.policy_version}
