"""The panel's decisions and the managers' approvals, as plain functions of a Session and a User.

No web framework here: the routes (``api.routes.decisions``, ``api.routes.approvals``,
``api.routes.grades``) call these and turn a :class:`Refused` into an HTTP answer; a CLI or the
pages can call them alike. Each function only adds to the session and flushes; the caller's one
transaction commits everything or, on any refusal or error, nothing.

The life of a placement:

* the panel **accepts** a proposal of a match run, or **overrides** with its own choice (scored
  and checked with :mod:`matching.analyze`; rules it breaks need ``confirm``). Either way a
  placement is created with its support plan, takes one free bed of the vacancy, and the
  council's approval policy (:mod:`matching.approvals`) turns it into approval requests;
* with no request the placement is active at once (the young person is placed); otherwise it
  awaits approval and becomes active when **every** request is approved;
* one **rejection** sends it back to the panel: the placement is rejected, the bed is freed,
  the young person is open in the queue again, and the placement's other pending requests are
  closed (see :func:`_send_back_to_panel` for why).

Every decision writes an audit event with the record before and after.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from matching.analyze import analyze
from matching.approvals import DEFAULT_APPROVALS_FILE, ApprovalPolicy, approvals_required, load_approval_policy
from matching.explain import words
from matching.instance import from_database
from matching.policy import Policy
from models.accounts import User, record
from models.base import utcnow
from models.enums import (
    ApprovalRule,
    ApprovalStatus,
    DecisionKind,
    MatchRunStatus,
    OfstedGrade,
    PlacementStatus,
    ReferralStatus,
    Role,
    ServiceType,
    Tier,
)
from models.panel import ApprovalRequest, Decision, MatchRun, ProposedMatch
from models.people import Placement, Referral, SupportPlanStep
from models.schemas import PlacementIn, SupportPlanStepIn
from models.supply import Framework, Property, Provider, Vacancy
from providers.authorities import default_authorities

# A placement that holds (or is about to hold) a bed and a young person.
LIVE = (PlacementStatus.proposed, PlacementStatus.awaiting_approval, PlacementStatus.active)
REVIEW_WITHIN = dt.timedelta(days=7)  # a changed Ofsted grade: the panel reviews within a week


# --- refusals ------------------------------------------------------------------------------------


class Refused(Exception):
    """A decision the workflow will not make, and why. ``kind`` says which sort of refusal it
    is (the routes map it to 404/403/409/422); ``fields`` name where the problem is."""

    kind = "conflict"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, fields: list[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.fields = list(fields)


class NotFound(Refused):
    kind = "not_found"


class NotYours(Refused):
    """The signed-in user's role is not the one this decision belongs to."""

    kind = "forbidden"


class Invalid(Refused):
    """The request names something that does not exist or cannot be used."""

    kind = "invalid"


class Conflict(Refused):
    """The decision clashes with the current state (no free bed, already decided...)."""

    kind = "conflict"


class Stale(Conflict):
    """The caller decided on an older version of the record than the current one."""

    code = "stale"


class RulesBroken(Conflict):
    """The panel's own choice breaks rules and the panel has not confirmed it."""

    code = "rules_broken"


# --- the council's approval policy ---------------------------------------------------------------


def council_approval_policy() -> ApprovalPolicy:
    """The approval policy the service applies: ``PLACEMATCH_APPROVALS`` (a YAML file) if set,
    else the shipped ``matching/approvals.yaml``. Read once per file."""
    return _approval_policy_in(os.environ.get("PLACEMATCH_APPROVALS") or str(DEFAULT_APPROVALS_FILE))


@cache
def _approval_policy_in(path: str) -> ApprovalPolicy:
    return load_approval_policy(Path(path))


# --- what the workflow returns -------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenRule:
    code: str
    words: str
    detail: str


@dataclass
class Placed:
    """The outcome of accepting a proposal or overriding: the decision, the placement, the
    approval requests it raised, and (for an override) the rules the panel knowingly broke."""

    decision: Decision
    placement: Placement
    requests: list[ApprovalRequest]
    broken_rules: list[BrokenRule] = field(default_factory=list)


@dataclass
class ApprovalDecided:
    request: ApprovalRequest
    placement: Placement
    closed: list[ApprovalRequest]  # other requests closed because this one was rejected


@dataclass
class GradeChanged:
    provider: Provider
    before: OfstedGrade | None
    after: OfstedGrade | None
    review_due_on: dt.date
    flagged: list[Placement]


@dataclass(frozen=True)
class PairFacts:
    """What the plan, the approvals and the case summary need to know about one young person
    in one home: the tier provided and its price, when it starts, how far and where."""

    tier: Tier
    need_tier: Tier
    weekly_cost: float
    starts_on: dt.date
    miles_from_home: float
    miles_from_education: float | None
    out_of_area: bool
    at_a_distance: bool


# --- looking things up ---------------------------------------------------------------------------


def get_run(session: Session, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"match run {run_id} not found")
    return run


def _decidable_run(session: Session, run_id: int) -> MatchRun:
    """Only a finished run has proposals to decide on."""
    run = get_run(session, run_id)
    if run.status != MatchRunStatus.succeeded:
        raise Conflict(f"match run {run_id} is {run.status.value}: only a succeeded run's proposals can be decided")
    return run


def _proposal(session: Session, run: MatchRun, proposal_id: int) -> ProposedMatch:
    proposal = session.get(ProposedMatch, proposal_id)
    if proposal is None or proposal.match_run_id != run.id:
        raise NotFound(f"proposal {proposal_id} not found in match run {run.id}")
    return proposal


def _named(session: Session, model, key: str, path: str, what: str):
    """A record a request body names; unknown ids are the caller's input problem (422)."""
    found = session.get(model, key)
    if found is None:
        raise Invalid(f"no {what} {key}", fields=[(path, f"no such {what}")])
    return found


def placing_authority_of(session: Session, run: MatchRun) -> str:
    """The council the run places for: recorded on the run, else (runs recorded by the CLI do
    not carry it) the service's council, ``PLACEMATCH_PLACING_AUTHORITY``, or the one council
    whose frameworks are in the database."""
    if run.placing_authority:
        return run.placing_authority
    if os.environ.get("PLACEMATCH_PLACING_AUTHORITY"):
        return os.environ["PLACEMATCH_PLACING_AUTHORITY"]
    codes = session.scalars(select(Framework.placing_authority_code).distinct()).all()
    if len(codes) != 1:
        raise Conflict(f"match run {run.id} does not say which council it places for")
    return codes[0]


def _policy_of(run: MatchRun) -> Policy:
    return Policy.model_validate(run.policy) if run.policy else Policy()


def _already_decided(session: Session, proposal: ProposedMatch) -> Decision | None:
    return session.scalar(
        select(Decision)
        .where(Decision.proposed_match_id == proposal.id,
               Decision.kind.in_((DecisionKind.accept, DecisionKind.reject)))
        .limit(1)
    )


# --- accept, reject, override --------------------------------------------------------------------


def accept_proposal(session: Session, user: User, run_id: int, proposal_id: int, reason: str,
                    approvals: ApprovalPolicy) -> Placed:
    """The panel accepts a proposal (the engine's first choice or one of its alternatives)."""
    run = _decidable_run(session, run_id)
    proposal = _proposal(session, run, proposal_id)
    _refuse_second_decision(session, proposal)
    referral = session.get(Referral, proposal.referral_id)
    vacancy = session.get(Vacancy, proposal.vacancy_id)
    if vacancy is None:
        raise Conflict(f"vacancy {proposal.vacancy_id} no longer exists")
    _check_free(session, referral, vacancy)
    prop = vacancy.property
    facts = PairFacts(
        tier=proposal.tier, need_tier=referral.tier, weekly_cost=_current_price(prop, proposal.tier),
        starts_on=max(run.panel_date, vacancy.available_from),
        miles_from_home=proposal.miles_from_home, miles_from_education=proposal.miles_from_education,
        out_of_area=proposal.out_of_area, at_a_distance=proposal.at_a_distance,
    )
    decision = Decision(match_run_id=run.id, proposed_match_id=proposal.id, referral_id=referral.id,
                        vacancy_id=vacancy.id, kind=DecisionKind.accept, reason=reason, decided_by_id=user.id)
    return _place(session, user, run, decision, reason, referral, vacancy, facts, approvals)


def reject_proposal(session: Session, user: User, run_id: int, proposal_id: int, reason: str) -> Decision:
    """The panel turns a proposal down; the young person stays in the queue for the next run."""
    run = _decidable_run(session, run_id)
    proposal = _proposal(session, run, proposal_id)
    _refuse_second_decision(session, proposal)
    decision = Decision(match_run_id=run.id, proposed_match_id=proposal.id, referral_id=proposal.referral_id,
                        vacancy_id=proposal.vacancy_id, kind=DecisionKind.reject, reason=reason,
                        decided_by_id=user.id)
    session.add(decision)
    session.flush()
    record(session, "decision_reject", "decision", decision.id, actor=user,
           before={"proposal_id": proposal.id, "decided": False},
           after=_decision_snapshot(decision))
    return decision


def analyze_choice(session: Session, run: MatchRun, referral: Referral, vacancy: Vacancy
                   ) -> tuple[PairFacts | None, list[BrokenRule]]:
    """Score the panel's own choice as the engine would and list every rule it breaks.

    Open siblings join the analysis so that placing one of a group alone shows as a split;
    the run's bans (and the bans the panel recorded on it) count, so choosing a banned pair
    shows as breaking the ban."""
    siblings = []
    if referral.sibling_group:
        siblings = session.scalars(select(Referral.id).where(
            Referral.sibling_group == referral.sibling_group, Referral.id != referral.id,
            Referral.status == ReferralStatus.open)).all()
    instance = from_database(session, placing_authority_of(session, run), run.panel_date,
                             referral_ids=[referral.id, *siblings], bans=_bans_of(session, run))
    analysis = analyze([(referral.id, vacancy.id)], instance, _policy_of(run))
    broken = [BrokenRule(v.code, words(v.code), v.detail) for v in analysis.violations]
    row = analysis.placements.iloc[0].to_dict() if len(analysis.placements) else {}
    if not row or pd.isna(row.get("tier")):
        return None, broken
    education = row.get("miles_from_education")
    facts = PairFacts(
        tier=Tier(row["tier"]), need_tier=referral.tier, weekly_cost=float(row["weekly_cost"]),
        starts_on=row["start_date"], miles_from_home=float(row["miles_from_home"]),
        miles_from_education=None if education is None or math.isnan(education) else float(education),
        out_of_area=bool(row["out_of_area"]), at_a_distance=bool(row["at_a_distance"]),
    )
    return facts, broken


def override(session: Session, user: User, run_id: int, referral_id: str, vacancy_id: str, reason: str,
             confirm: bool, approvals: ApprovalPolicy) -> Placed:
    """The panel places a young person in a home of its own choosing.

    The choice is analysed first; if it breaks any rule and ``confirm`` is false, nothing is
    written and :class:`RulesBroken` lists the rules. Confirmed, the broken rules are kept in
    the decision's reason, the audit event and every approval request's case summary."""
    run = _decidable_run(session, run_id)
    referral = _named(session, Referral, referral_id, "body.referral_id", "referral")
    vacancy = _named(session, Vacancy, vacancy_id, "body.vacancy_id", "vacancy")
    _check_free(session, referral, vacancy)
    facts, broken = analyze_choice(session, run, referral, vacancy)
    if broken and not confirm:
        codes = ", ".join(b.code for b in broken)
        raise RulesBroken(
            f"this choice breaks {len(broken)} rule(s) ({codes}); nothing was written: send confirm=true "
            "to place the young person anyway", fields=[(f"rule:{b.code}", f"{b.words}: {b.detail}") for b in broken])
    if facts is None:
        raise Conflict(f"vacancy {vacancy.id} offers no tier of support covering a {referral.tier.value} need, "
                       "so it has no price: it cannot be placed, even with confirm",
                       fields=[(f"rule:{b.code}", f"{b.words}: {b.detail}") for b in broken])
    decision = Decision(match_run_id=run.id, referral_id=referral.id, vacancy_id=vacancy.id,
                        kind=DecisionKind.override, reason=_with_broken_rules(reason, broken),
                        decided_by_id=user.id)
    placed = _place(session, user, run, decision, reason, referral, vacancy, facts, approvals, broken)
    placed.broken_rules = broken
    return placed


def _with_broken_rules(reason: str, broken: list[BrokenRule]) -> str:
    if not broken:
        return reason
    return reason + "\nRules knowingly broken: " + "; ".join(f"{b.code} ({b.detail})" for b in broken)


def _refuse_second_decision(session: Session, proposal: ProposedMatch) -> None:
    earlier = _already_decided(session, proposal)
    if earlier is not None:
        raise Conflict(f"proposal {proposal.id} was already decided ({earlier.kind.value}, decision {earlier.id})",
                       code="already_decided")


def _check_free(session: Session, referral: Referral, vacancy: Vacancy) -> None:
    """Refuse when the young person already has a live placement or is not waiting for one,
    or when the vacancy has no free bed (the claim in :func:`_claim` re-checks atomically)."""
    live = session.scalar(select(Placement).where(Placement.referral_id == referral.id,
                                                  Placement.status.in_(LIVE)).limit(1))
    if live is not None:
        raise Conflict(f"referral {referral.id} already has a live placement ({live.id}, {live.status.value})",
                       code="already_placed")
    if referral.status != ReferralStatus.open:
        raise Conflict(f"referral {referral.id} is {referral.status.value}, not waiting for a placement")
    if vacancy.beds < 1:
        raise Conflict(f"vacancy {vacancy.id} has no free bed left", code="no_free_bed")


def _claim(session: Session, referral: Referral, vacancy: Vacancy) -> None:
    """Take the young person out of the queue and one bed out of the vacancy, each with one
    conditional UPDATE: two panel members accepting at once cannot both take the last bed or
    place the same young person twice (the second UPDATE matches no row)."""
    took_person = session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.status == ReferralStatus.open)
        .values(status=ReferralStatus.proposed)
    ).rowcount
    if took_person != 1:
        raise Conflict(f"referral {referral.id} was placed by someone else first", code="stale")
    took_bed = session.execute(
        update(Vacancy).where(Vacancy.id == vacancy.id, Vacancy.beds > 0).values(beds=Vacancy.beds - 1)
    ).rowcount
    if took_bed != 1:
        raise Conflict(f"vacancy {vacancy.id} has no free bed left", code="no_free_bed")
    session.refresh(referral, ["status"])
    session.refresh(vacancy, ["beds"])


def _current_price(prop: Property, tier: Tier) -> float:
    price = prop.price_for(tier)
    if price is None:
        raise Conflict(f"property {prop.id} no longer offers {tier.value} support: run the match again")
    return price


def _place(session: Session, user: User, run: MatchRun, decision: Decision, reason: str, referral: Referral,
           vacancy: Vacancy, facts: PairFacts, approvals: ApprovalPolicy,
           broken: list[BrokenRule] = ()) -> Placed:
    """Create the placement the panel decided on, raise its approval requests, and move it on:
    active at once with no request, else awaiting approval."""
    before = {"referral_status": referral.status.value, "vacancy_beds": vacancy.beds}
    _claim(session, referral, vacancy)
    prop = vacancy.property
    placement = _new_placement(referral, prop, vacancy, facts)
    session.add(decision)
    session.add(placement)
    session.flush()
    requests = [
        ApprovalRequest(placement_id=placement.id, rule=rule, role=role,
                        case_summary=case_summary(session, run, rule, role, placement, referral, prop, facts,
                                                  approvals, decision.kind, reason, broken))
        for rule, role in approvals_for(facts, referral, prop, approvals, broken)
    ]
    session.add_all(requests)
    placement.status = PlacementStatus.awaiting_approval if requests else PlacementStatus.active
    referral.status = ReferralStatus.proposed if requests else ReferralStatus.placed
    session.flush()
    after = {**_decision_snapshot(decision), "placement_id": placement.id, "placement_status": placement.status.value,
             "referral_status": referral.status.value, "vacancy_beds": vacancy.beds,
             "approval_requests": [f"{r.rule.value}:{r.role.value}" for r in requests],
             "broken_rules": [b.code for b in broken]}
    record(session, f"decision_{decision.kind.value}", "decision", decision.id, actor=user, before=before, after=after)
    record(session, "placement_created", "placement", placement.id, actor=user,
           after=_placement_snapshot(placement))
    return Placed(decision, placement, requests)


# --- the support plan ----------------------------------------------------------------------------


def _new_placement(referral: Referral, prop: Property, vacancy: Vacancy, facts: PairFacts) -> Placement:
    plan = support_plan(referral, prop, facts)
    placement = Placement(
        referral_id=referral.id, property_id=prop.id, vacancy_id=vacancy.id, tier=facts.tier,
        weekly_cost=facts.weekly_cost, starts_on=plan.starts_on, planned_end_on=plan.planned_end_on,
        status=PlacementStatus.proposed,
    )
    placement.support_plan = [SupportPlanStep(**step.model_dump()) for step in plan.support_plan]
    return placement


def support_plan(referral: Referral, prop: Property, facts: PairFacts) -> PlacementIn:
    """The placement's tier schedule, as the demo builds residents' plans: support starts at
    the tier provided, and when the referral expects a step down (``step_down_weeks`` after the
    start) the plan steps to the lowest tier the home offers for the lower need, if that is
    lower. The plan ends ``duration_weeks`` after the start. Validated as ``PlacementIn``."""
    start = facts.starts_on
    planned_end = start + dt.timedelta(weeks=referral.duration_weeks) if referral.duration_weeks else None
    steps = [SupportPlanStepIn(starts_on=start, tier=facts.tier, weekly_cost=facts.weekly_cost,
                               note="Placement starts")]
    step_down = _step_down(referral, prop, facts, planned_end)
    if step_down is not None:
        steps.append(step_down)
    return PlacementIn(referral_id=referral.id, property_id=prop.id, starts_on=start,
                       planned_end_on=planned_end, support_plan=steps)


def _step_down(referral: Referral, prop: Property, facts: PairFacts,
               planned_end: dt.date | None) -> SupportPlanStepIn | None:
    if not referral.step_down_weeks or referral.tier.rank == 0:
        return None  # no step down expected, or already at the lowest tier
    lower_need = next(t for t in Tier if t.rank == referral.tier.rank - 1)
    lower = next((t for t in prop.tiers if t.covers(lower_need)), None)
    if lower is None or lower.rank >= facts.tier.rank:
        return None  # the home offers nothing lower than what it provides now
    on = facts.starts_on + dt.timedelta(weeks=referral.step_down_weeks)
    if planned_end is not None and on >= planned_end:
        return None  # the placement is planned to end first
    return SupportPlanStepIn(starts_on=on, tier=lower, weekly_cost=prop.price_for(lower),
                             note=f"Planned step down from {facts.tier.value} to {lower.value}")


# --- approvals raised ----------------------------------------------------------------------------


def approvals_for(facts: PairFacts, referral: Referral, prop: Property, approvals: ApprovalPolicy,
                  broken: list[BrokenRule] = ()) -> list[tuple[ApprovalRule, Role]]:
    """The (rule, role) pairs the council's approval policy asks of this placement, evaluated
    by the same function the engine uses to show approvals with each proposal; and, for a
    choice that breaks hard rules (an override), the policy's ``rules_broken`` role."""
    frame = pd.DataFrame([{
        "legal_status": referral.legal_status.value, "out_of_area": facts.out_of_area,
        "at_a_distance": facts.at_a_distance, "miles_from_home": facts.miles_from_home,
        "ofsted_registered": prop.ofsted_registered, "emergency": prop.service_type == ServiceType.emergency,
        "tier": facts.tier.value, "weekly_cost": facts.weekly_cost,
    }])
    codes = approvals_required(frame, approvals).iloc[0]
    needed = [(ApprovalRule(rule), Role(role)) for rule, role in (code.split(":") for code in codes)]
    if broken and approvals.rules_broken is not None:
        needed.append((ApprovalRule.rules_broken, approvals.rules_broken))
    return needed


RULE_WORDS = {
    ApprovalRule.out_of_area: "the home is outside the council's area (reg. 11: the nominated officer approves)",
    ApprovalRule.at_a_distance: "the home is outside the council's area and not in an adjoining authority "
                                "(reg. 11: the Director of Children's Services approves)",
    ApprovalRule.over_20_miles: "the home is more than {miles:g} miles from the young person's home",
    ApprovalRule.unregistered: "the setting is not registered with Ofsted",
    ApprovalRule.emergency: "the home is emergency accommodation (B&B or temporary)",
    ApprovalRule.cost_ceiling: "the weekly cost is above the council's ceiling for its tier",
    ApprovalRule.rules_broken: "the panel's own choice breaks a hard rule (see the rules listed)",
}


def case_summary(session: Session, run: MatchRun, rule: ApprovalRule, role: Role, placement: Placement,
                 referral: Referral, prop: Property, facts: PairFacts, approvals: ApprovalPolicy,
                 kind: DecisionKind, reason: str, broken: list[BrokenRule] = ()) -> str:
    """What the approving manager needs to decide, and no more: why the request exists, where
    the home is relative to the council, the distances, the cost against the tier's ceiling,
    the young person's legal status (it decides whether reg. 11 applies) and the panel's
    reason. No name, date of birth, postcode, needs or risks: those stay in the case record."""
    authorities = default_authorities()
    council = placing_authority_of(session, run)
    area = authorities.upper_tier(prop.la_code)
    if not facts.out_of_area:
        where = f"inside {authorities.name(council)}'s area"
    elif facts.at_a_distance:
        where = f"outside {authorities.name(council)}'s area and not adjoining it (at a distance)"
    else:
        where = f"outside {authorities.name(council)}'s area, in an adjoining authority"
    education = (f"{facts.miles_from_education:g} miles from education"
                 if facts.miles_from_education is not None else "no distance from education recorded")
    ceiling = approvals.cost_ceilings.get(facts.tier)
    over = facts.tier.rank - facts.need_tier.rank
    need = f"assessed need {facts.need_tier.value}" + (f", {over} tier(s) above it" if over > 0 else "")
    status = referral.legal_status
    legal = (f"Legal status: {status.value.replace('_', ' ')} (looked after: reg. 11 applies)."
             if status.is_looked_after else
             f"Legal status: {status.value.replace('_', ' ')} (care leaver: the council's own rules apply).")
    how = ("The panel accepted the engine's proposal." if kind == DecisionKind.accept
           else "The panel chose this home itself (override).")
    lines = [
        f"Why this approval: {RULE_WORDS[rule].format(miles=approvals.distance_miles)}. "
        f"Decided by: {role.value.replace('_', ' ')}.",
        f"Placement {placement.id} for referral {referral.id}: {facts.tier.value} support "
        f"({prop.service_type.value.replace('_', ' ')}) from {placement.starts_on.isoformat()}"
        + (f" to {placement.planned_end_on.isoformat()}." if placement.planned_end_on else "."),
        f"Where: {authorities.name(area)} ({area}), {where}.",
        f"Distance: {facts.miles_from_home:g} miles from home; {education}.",
        f"Cost: £{facts.weekly_cost:,.2f} a week for {facts.tier.value} support"
        + (f" (ceiling for {facts.tier.value}: £{ceiling:,.0f})" if ceiling is not None else "")
        + f"; {need}.",
        legal,
        how,
    ]
    if broken:
        lines.append("Rules the panel knowingly broke: " + "; ".join(f"{b.words} ({b.detail})" for b in broken) + ".")
    lines.append(f"Panel's reason: {reason}")
    return "\n".join(lines)


# --- locks and bans ------------------------------------------------------------------------------


def record_lock_or_ban(session: Session, user: User, run_id: int, kind: DecisionKind, referral_id: str,
                       vacancy_id: str, reason: str) -> Decision:
    """The panel fixes a pair for the next run (lock) or rules it out (ban)."""
    if kind not in (DecisionKind.lock, DecisionKind.ban):
        raise ValueError(f"not a lock or a ban: {kind}")
    run = get_run(session, run_id)
    _named(session, Referral, referral_id, "body.referral_id", "referral")
    _named(session, Vacancy, vacancy_id, "body.vacancy_id", "vacancy")
    locks, bans = next_run_locks_and_bans(session, run.id)
    _refuse_contradiction(run, kind, (referral_id, vacancy_id), locks, bans)
    decision = Decision(match_run_id=run.id, referral_id=referral_id, vacancy_id=vacancy_id, kind=kind,
                        reason=reason, decided_by_id=user.id)
    session.add(decision)
    session.flush()
    record(session, f"decision_{kind.value}", "decision", decision.id, actor=user,
           before={"run_locks": len(locks), "run_bans": len(bans)},
           after={**_decision_snapshot(decision), "run_locks": len(locks) + (kind == DecisionKind.lock),
                  "run_bans": len(bans) + (kind == DecisionKind.ban)})
    return decision


def _refuse_contradiction(run: MatchRun, kind: DecisionKind, pair: tuple[str, str],
                          locks: list[tuple[str, str]], bans: list[tuple[str, str]]) -> None:
    """A pair is locked or banned once, never both; a young person is locked to one vacancy
    (the next run could not honour two locks for one person)."""
    referral_id, vacancy_id = pair
    if pair in locks or pair in bans:
        already = "locked" if pair in locks else "banned"
        raise Conflict(f"{referral_id} -> {vacancy_id} is already {already} on match run {run.id}")
    if kind == DecisionKind.lock:
        elsewhere = [v for r, v in locks if r == referral_id]
        if elsewhere:
            raise Conflict(f"{referral_id} is already locked to vacancy {elsewhere[0]} on match run {run.id}")


def next_run_locks_and_bans(session: Session, run_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (referral_id, vacancy_id) pairs the panel locked and banned on a run, in the order
    decided: what the next run is given as its locks and bans."""
    rows = session.execute(
        select(Decision.kind, Decision.referral_id, Decision.vacancy_id)
        .where(Decision.match_run_id == run_id, Decision.kind.in_((DecisionKind.lock, DecisionKind.ban)))
        .order_by(Decision.id)
    ).all()
    locks = [(r, v) for k, r, v in rows if k == DecisionKind.lock]
    bans = [(r, v) for k, r, v in rows if k == DecisionKind.ban]
    return locks, bans


def _bans_of(session: Session, run: MatchRun) -> list[tuple[str, str]]:
    recorded = [tuple(b.split(":", 1)) for b in run.bans]
    return recorded + [b for b in next_run_locks_and_bans(session, run.id)[1] if b not in recorded]


def decisions_query(run_id: int, kind: DecisionKind | None = None):
    query = select(Decision).where(Decision.match_run_id == run_id).order_by(Decision.id)
    return query.where(Decision.kind == kind) if kind is not None else query


# --- approvals -----------------------------------------------------------------------------------


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
    record(session, f"approval_{request.status.value}", "approval_request", request.id, actor=user,
           before=before, after=_request_snapshot(request))
    closed = [] if approve else _send_back_to_panel(session, user, placement, request)
    if approve:
        _activate_when_all_approved(session, user, placement)
    session.flush()
    return ApprovalDecided(request, placement, closed)


def _activate_when_all_approved(session: Session, user: User, placement: Placement) -> None:
    statuses = session.scalars(select(ApprovalRequest.status).where(ApprovalRequest.placement_id == placement.id)).all()
    if any(s != ApprovalStatus.approved for s in statuses):
        return
    before = _placement_snapshot(placement)
    placement.status = PlacementStatus.active
    placement.referral.status = ReferralStatus.placed
    record(session, "placement_approved", "placement", placement.id, actor=user,
           before=before, after=_placement_snapshot(placement))


def _send_back_to_panel(session: Session, user: User, placement: Placement,
                        rejected: ApprovalRequest) -> list[ApprovalRequest]:
    """A rejection ends the placement before it starts: the placement is rejected, the young
    person goes back to the queue, the bed is freed for the next run.

    The placement's other pending requests are closed rather than left pending: nothing they
    could decide would change the outcome, and left open they would sit in managers' queues
    as work to do. The status vocabulary has no "withdrawn", so they are closed as rejected
    with no deciding manager (``decided_by_id`` empty) and a reason saying they were closed
    because of this rejection; approvals already given stay approved (they were decided)."""
    before = _placement_snapshot(placement)
    placement.status = PlacementStatus.rejected
    placement.referral.status = ReferralStatus.open
    if placement.vacancy_id is not None:
        session.execute(update(Vacancy).where(Vacancy.id == placement.vacancy_id).values(beds=Vacancy.beds + 1))
    record(session, "placement_rejected", "placement", placement.id, actor=user,
           before=before, after={**_placement_snapshot(placement), "rejected_by_request": rejected.id})
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


# --- Ofsted grade changes ------------------------------------------------------------------------


def change_ofsted_grade(session: Session, user: User, provider_id: str, grade: OfstedGrade | None, reason: str,
                        today: dt.date) -> GradeChanged:
    """Record a provider's new Ofsted grade, and flag every young person living (or about to
    live) in its homes for a panel review within a week."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    before = provider.ofsted_grade
    if before == grade:
        raise Conflict(f"provider {provider_id} is already graded {_grade(grade)}: nothing to change")
    provider.ofsted_grade = grade
    due = today + REVIEW_WITHIN
    why = f"Ofsted grade of provider {provider_id} changed from {_grade(before)} to {_grade(grade)} on {today}: {reason}"
    flagged = live_placements_at(session, provider_id)
    for placement in flagged:
        _flag_for_review(session, user, placement, due, why)
    session.flush()
    record(session, "ofsted_grade_changed", "provider", provider_id, actor=user,
           before={"ofsted_grade": _grade_code(before)},
           after={"ofsted_grade": _grade_code(grade), "reason": reason,
                  "flagged_placements": [p.id for p in flagged], "review_due_on": due.isoformat()})
    return GradeChanged(provider, before, grade, due, flagged)


def live_placements_at(session: Session, provider_id: str) -> list[Placement]:
    return list(session.scalars(
        select(Placement).join(Property, Placement.property_id == Property.id)
        .where(Property.provider_id == provider_id, Placement.status.in_(LIVE))
        .order_by(Placement.id)
    ))


def _flag_for_review(session: Session, user: User, placement: Placement, due: dt.date, why: str) -> None:
    """An earlier review already owed is kept (never pushed back); the reasons accumulate."""
    before = {"review_due_on": _iso(placement.review_due_on), "review_reason": placement.review_reason}
    placement.review_due_on = min(placement.review_due_on, due) if placement.review_due_on else due
    placement.review_reason = f"{placement.review_reason}\n{why}" if placement.review_reason else why
    record(session, "placement_review_flagged", "placement", placement.id, actor=user, before=before,
           after={"review_due_on": _iso(placement.review_due_on), "review_reason": placement.review_reason})


def _grade(grade: OfstedGrade | None) -> str:
    return grade.value.replace("_", " ") if grade else "not graded"


def _grade_code(grade: OfstedGrade | None) -> str | None:
    return grade.value if grade else None


# --- audit snapshots -----------------------------------------------------------------------------


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _decision_snapshot(decision: Decision) -> dict:
    return {"kind": decision.kind.value, "match_run_id": decision.match_run_id,
            "proposed_match_id": decision.proposed_match_id, "referral_id": decision.referral_id,
            "vacancy_id": decision.vacancy_id, "reason": decision.reason}


def _placement_snapshot(placement: Placement) -> dict:
    return {"status": placement.status.value, "referral_id": placement.referral_id,
            "property_id": placement.property_id, "vacancy_id": placement.vacancy_id,
            "tier": placement.tier.value, "weekly_cost": placement.weekly_cost,
            "starts_on": _iso(placement.starts_on), "planned_end_on": _iso(placement.planned_end_on),
            "support_plan": [{"starts_on": _iso(s.starts_on), "tier": s.tier.value, "weekly_cost": s.weekly_cost}
                             for s in placement.support_plan]}


def _request_snapshot(request: ApprovalRequest) -> dict:
    return {"status": request.status.value, "rule": request.rule.value, "role": request.role.value,
            "placement_id": request.placement_id, "reason": request.reason, "version": request.version,
            "decided_by_id": request.decided_by_id}
