"""The managers' approvals: their queue, the case for one request, and approving or rejecting it.

A decision goes through ``approval_decisions.decide_approval``, the function behind
``POST /approvals/{id}/approve`` and ``/reject``: the same role check, the same version check
(a stale form changes nothing) and the same audit events.

These pages share their paths with the JSON API (``GET /approvals`` is both the JSON queue and
this page), so their routes answer only a browser: a GET that accepts HTML, or a POST of a
form (see :class:`BrowserRoute`); every other request reaches the API as before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from api import approval_decisions, panel_decisions, refusals, run_records
from api.deps import CASE_READERS, RecordId, SessionDep
from api.pages.core import (
    MANAGERS,
    ROLE_NAMES,
    BrowserRoute,
    PageAllowed,
    back_to,
    render,
)
from models import glossary
from models.accounts import User
from models.base import council_today
from models.enums import ApprovalRule, ApprovalStatus, DecisionKind, PlacementStatus
from models.panel import ApprovalRequest, Decision, MatchRun
from models.people import Placement
from models.supply import Property
from providers import price_benchmarks
from providers.authorities import default_authorities
from providers.geography import pl_distance_miles

router = APIRouter(include_in_schema=False, route_class=BrowserRoute)
Manager = PageAllowed(*MANAGERS)
CaseReader = PageAllowed(*CASE_READERS)  # as GET /approvals/{id}: the panel may read the case too

# --- words ---------------------------------------------------------------------------------------

RULE_NAMES = {rule: glossary.APPROVAL_REASONS[rule.value] + (" (reg. 11)" if rule in (
    ApprovalRule.out_of_area, ApprovalRule.at_a_distance) else "") for rule in ApprovalRule}
RULE_NAMES[ApprovalRule.over_20_miles] = "More than {miles:g} miles from home"

# (words, tag colour): a status is said in words, the colour only repeats it.
PLACEMENT_STATUS = {
    PlacementStatus.proposed: ("proposed", "grey"),
    PlacementStatus.awaiting_approval: ("awaiting approval", "yellow"),
    PlacementStatus.active: ("active", "green"),
    PlacementStatus.ended: ("ended", "grey"),
    PlacementStatus.rejected: ("returned to panel", "red"),
}


def rule_name(rule: ApprovalRule) -> str:
    return RULE_NAMES[rule].format(miles=panel_decisions.council_approval_policy().distance_miles)


def request_status(request: ApprovalRequest) -> tuple[str, str]:
    if request.status == ApprovalStatus.pending:
        return "pending", "yellow"
    if request.status == ApprovalStatus.approved:
        return "approved", "green"
    if request.decided_by_id is None:  # closed by the workflow when another request was rejected
        return "closed", "grey"
    return "rejected", "red"


def words(code: str) -> str:
    return glossary.plain(code)


# --- what a request's page shows -----------------------------------------------------------------


@dataclass
class Row:
    """One request with what the queue and the history show of it."""

    request: ApprovalRequest
    placement: Placement
    prop: Property
    authority: str
    rule: str
    role: str
    miles_from_home: float
    status: tuple[str, str]
    decided_by: str | None
    # What puts a request first in the queue, each said in words (empty for a decided one)
    flags: list[tuple[str, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # every reason the placement needs approval
    ceiling: float | None = None  # the council's weekly ceiling for the placement's tier
    asked_by: str | None = None  # who recorded the panel's decision
    price: tuple[str, bool] | None = None  # where the weekly price stands, and whether above the usual range

    @property
    def priority(self) -> tuple:
        """Breaking a hard rule first, then overdue, then an under-18 at a distance; then the
        longest waiting."""
        names = {text for text, _ in self.flags}
        return (not any(n.startswith("Breaks") for n in names), not any(n.startswith(("Overdue", "Due today")) for n in names),
                not any(n.startswith("Under 18") for n in names), self.request.created_at, self.request.id)


def _miles(e1, n1, e2, n2) -> float | None:
    if e1 is None or n1 is None:
        return None
    return float(pl_distance_miles(e1, n1, e2, n2))


def _user_name(session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return (user.full_name or user.username) if user else None


def _row(session, request: ApprovalRequest, today: dt.date | None = None, spreads: dict | None = None) -> Row:
    placement = session.get(Placement, request.placement_id)
    prop, referral = placement.property, placement.referral
    authorities = default_authorities()
    row = Row(
        request=request, placement=placement, prop=prop,
        authority=authorities.name(authorities.upper_tier(prop.la_code)),
        rule=rule_name(request.rule), role=ROLE_NAMES[request.role],
        miles_from_home=_miles(referral.home_easting, referral.home_northing, prop.easting, prop.northing),
        status=request_status(request), decided_by=_user_name(session, request.decided_by_id),
    )
    if today is not None:  # the queue: what a manager needs to see before opening the request
        siblings = session.scalars(select(ApprovalRequest.rule).where(
            ApprovalRequest.placement_id == placement.id).order_by(ApprovalRequest.id)).all()
        row.reasons = list(dict.fromkeys(rule_name(r) for r in siblings))
        row.ceiling = panel_decisions.council_approval_policy(placement.council_code).cost_ceilings.get(placement.tier)
        decision = panel_decision(session, placement)
        row.asked_by = _user_name(session, decision.decided_by_id) if decision else None
        row.flags = _flags(request, placement, referral, list(siblings), today)
        row.price = price_benchmarks.standing(spreads if spreads is not None else price_benchmarks.spreads(session),
                                   prop.service_type, placement.tier, placement.weekly_cost)
    return row


def _flags(request: ApprovalRequest, placement: Placement, referral, rules: list[ApprovalRule],
           today: dt.date) -> list[tuple[str, str]]:
    flags = []
    if ApprovalRule.rules_broken in rules:
        flags.append(("Breaks a hard rule", "red"))
    if placement.starts_on < today:
        flags.append((f"Overdue: due to start {placement.starts_on.day} {placement.starts_on:%B %Y}", "red"))
    elif placement.starts_on == today:
        flags.append(("Due today: the placement starts today", "red"))
    if referral.age_on(placement.starts_on) < 18 and ApprovalRule.at_a_distance in rules:
        flags.append(("Under 18, at a distance", "yellow"))
    return flags


def panel_decision(session, placement: Placement) -> Decision | None:
    """The panel's accept or override that created the placement. Each one creates exactly one
    placement for its young person and vacancy, in the same transaction, so the k-th such
    decision for a (young person, vacancy) pair made the k-th placement of that pair."""
    if placement.vacancy_id is None:
        return None
    pair = (Placement.referral_id == placement.referral_id, Placement.vacancy_id == placement.vacancy_id)
    earlier = session.scalars(select(Placement.id).where(*pair).order_by(Placement.id)).all()
    decisions = session.scalars(
        select(Decision).where(Decision.referral_id == placement.referral_id,
                               Decision.vacancy_id == placement.vacancy_id,
                               Decision.kind.in_((DecisionKind.accept, DecisionKind.override)))
        .order_by(Decision.id)).all()
    k = earlier.index(placement.id)
    return decisions[k] if k < len(decisions) else None


def where_it_is(session, decision: Decision | None, prop: Property) -> tuple[str, str | None]:
    """The home's authority, and where it is relative to the placing council (in its area,
    adjoining it, or at a distance) when the council is known."""
    authorities = default_authorities()
    area = authorities.upper_tier(prop.la_code)
    named = f"{authorities.name(area)} ({area})"
    run = session.get(MatchRun, decision.match_run_id) if decision and decision.match_run_id else None
    try:
        council = run_records.placing_authority_of(session, run) if run else None
    except refusals.Refused:
        council = None
    if council is None:
        return named, None
    if authorities.same_area(council, prop.la_code):
        return named, f"in {authorities.name(council)}'s area"
    if authorities.adjoins(council, prop.la_code):
        return named, f"out of {authorities.name(council)}'s area, in an adjoining authority"
    return named, f"out of {authorities.name(council)}'s area and not adjoining it (at a distance)"


# --- the queue -----------------------------------------------------------------------------------


@router.get("/approvals")
def queue(request: Request, session: SessionDep, user: Manager):
    pending = session.scalars(approval_decisions.approvals_query(user.role, ApprovalStatus.pending)).all()
    # Requests this manager decided, and those of their role closed without a decision.
    decided = session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.status != ApprovalStatus.pending,
            or_(ApprovalRequest.decided_by_id == user.id, ApprovalRequest.role == user.role))
        .order_by(ApprovalRequest.decided_at.desc(), ApprovalRequest.id.desc()).limit(50)).all()
    today = council_today()
    spreads = price_benchmarks.spreads(session)
    rows = sorted((_row(session, r, today, spreads) for r in pending), key=lambda row: row.priority)
    return render(request, "approvals_queue.html", user, rows=rows, history=[_row(session, r) for r in decided])


# --- one request ---------------------------------------------------------------------------------


@router.get("/approvals/{request_id}")
def request_page(request_id: RecordId, request: Request, session: SessionDep, user: CaseReader):
    return _request_view(request, session, user, request_id)


def _request_view(request: Request, session, user: User, request_id: int, errors: dict[str, str] | None = None,
                  typed: dict[str, str] | None = None):
    """One request's case; drawn again (422) with the message beside the reason and what was
    typed kept when a decision is sent without a reason."""
    try:
        approval = approval_decisions.get_request(session, request_id)
    except refusals.NotFound as missing:
        return render(request, "approvals_request.html", user, status_code=404, missing=str(missing))
    row = _row(session, approval)
    placement, prop = row.placement, row.prop
    referral = placement.referral
    decision = panel_decision(session, placement)
    authority, relation = where_it_is(session, decision, prop)
    education = (_miles(referral.education_easting, referral.education_northing, prop.easting, prop.northing)
                 if referral.education_easting is not None else None)
    others = session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.placement_id == placement.id, ApprovalRequest.id != approval.id)
        .order_by(ApprovalRequest.id)).all()
    panel_reason, broken = _reason_and_broken(decision)
    return render(
        request, "approvals_request.html", user,
        row=row, approval=approval, placement=placement, prop=prop, referral=referral,
        age=referral.age_on(placement.starts_on), authority=authority, relation=relation,
        miles_from_education=education,
        price=price_benchmarks.standing(price_benchmarks.spreads(session), prop.service_type, placement.tier,
                             placement.weekly_cost),
        ceiling=panel_decisions.council_approval_policy(placement.council_code).cost_ceilings.get(placement.tier),
        decision=decision, decision_by=_user_name(session, decision.decided_by_id) if decision else None,
        panel_reason=panel_reason, broken=broken,
        others=[_row(session, r) for r in others], placement_status=PLACEMENT_STATUS[placement.status],
        can_decide=approval.status == ApprovalStatus.pending and user.role == approval.role,
        errors=errors or {}, typed=typed or {}, status_code=422 if errors else 200,
    )


def _reason_and_broken(decision: Decision | None) -> tuple[str, list[str]]:
    """The panel's reason, and the rules it knowingly broke (an override keeps them after its
    reason: api.panel_decisions), each in words."""
    if decision is None:
        return "", []
    reason, _, broken = decision.reason.partition(panel_decisions.BROKEN_MARK)
    return reason, [glossary.plain(b) for b in broken.split("; ") if b]


@router.post("/approvals/{request_id}/approve")
def approve(request_id: RecordId, request: Request, session: SessionDep, user: Manager,
            reason: Annotated[str, Form()] = "", version: Annotated[str, Form()] = ""):
    return _decide(request, session, user, request_id, True, reason, version)


@router.post("/approvals/{request_id}/reject")
def reject(request_id: RecordId, request: Request, session: SessionDep, user: Manager,
           reason: Annotated[str, Form()] = "", version: Annotated[str, Form()] = ""):
    return _decide(request, session, user, request_id, False, reason, version)


STALE = ("Someone else decided or closed this request first, after you opened it: nothing was changed. "
         "Read the request as it is now below.")


def _decide(request: Request, session, user: User, request_id: int, approve: bool, reason: str, version: str):
    path = f"/approvals/{request_id}"
    typed, reason = reason, reason.strip()
    if not 3 <= len(reason) <= 2000:  # the API's rule for a reason (api.routes.decisions.REASON)
        field = "approve-reason" if approve else "reject-reason"
        return _request_view(request, session, user, request_id, typed={field: typed}, errors={
            field: f"Give your reason for {'approving' if approve else 'rejecting'} (3 to 2,000 characters)"})
    if not version.isdigit():
        return back_to(path, problem="The form was incomplete (no version): reload the page and decide again.")
    try:
        outcome = approval_decisions.decide_approval(session, user, request_id, approve=approve, reason=reason,
                                           version=int(version))
    except refusals.NotYours:
        # Another manager's request: the refusal page, rendered here while the session is open.
        session.rollback()
        role = approval_decisions.get_request(session, request_id).role
        return render(request, "forbidden.html", user, status_code=403, allowed=[ROLE_NAMES[role]])
    except refusals.Stale:
        session.rollback()
        return back_to(path, problem=STALE)
    except refusals.Refused as refused:
        session.rollback()
        return back_to(path, problem=f"Nothing was changed: {refused.message}.")
    except StaleDataError:  # a decision on the same placement landed between our read and write
        session.rollback()
        return back_to(path, problem=STALE)
    return back_to(path, done=_outcome_words(session, outcome, approve))


def _outcome_words(session, outcome: approval_decisions.ApprovalDecided, approved: bool) -> str:
    placement = outcome.placement
    if not approved:
        closed = len(outcome.closed)
        return (f"Rejected. Placement {placement.id} went back to the panel: the young person is waiting in the "
                "queue again and the bed is free."
                + (f" {closed} other pending approval{'s' if closed != 1 else ''} of this placement "
                   f"{'were' if closed != 1 else 'was'} closed." if closed else ""))
    if placement.status == PlacementStatus.active:
        return (f"Approved. That was the last approval: placement {placement.id} is now active "
                "and the young person is placed.")
    waiting = session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.placement_id == placement.id, ApprovalRequest.status == ApprovalStatus.pending)).all()
    who = ", ".join(sorted({ROLE_NAMES[r.role] for r in waiting}))
    return (f"Approved. Placement {placement.id} still needs {len(waiting)} more "
            f"approval{'s' if len(waiting) != 1 else ''} "
            f"(from: {who}) before it is active.")
