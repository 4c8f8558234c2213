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

The panel's memory: a re-run is given every lock and ban of the run it re-runs and of that
run's own ancestors, and every pair the panel rejected along the way (as a ban, so a rejected
proposal does not come back), each with who set it, when and why, until the panel **lifts** it
(see :func:`panel_memory`).

Every decision writes an audit event with the record before and after.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field, replace
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
    """The panel turns a proposal down; the young person stays in the queue, and the pair is banned
    in every later re-run until the panel lifts it (see :func:`panel_memory`)."""
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


# --- the panel's memory: locks, bans and rejections carried from run to run ----------------------
#
# What a re-run keeps from the run it re-runs: every lock and ban that run was given (its own
# memory, so a re-run of a re-run still holds the first run's decisions), then the panel's
# decisions on it in the order made: a lock, a ban, or a rejection (the rejected pair is banned,
# so the same proposal does not come back) replaces what was held for that pair, and a lift
# takes it away. Each item keeps who set it, on which run, when and why.

CARRIED_KINDS = (DecisionKind.lock, DecisionKind.ban, DecisionKind.reject)
MEMORY_KINDS = (*CARRIED_KINDS, DecisionKind.lift)


@dataclass(frozen=True)
class Carried:
    """One pair in the panel's memory: locked, banned or rejected (a rejection is a ban in every
    later run until lifted), or (``kind`` lift, with ``lifted``) a lift the panel made.

    ``decision_id`` is None for a lock or ban given in a run's request, set by whoever
    submitted the run; ``set_by`` and ``set_by_role`` are the person's name and role then."""

    kind: DecisionKind
    referral_id: str
    vacancy_id: str
    run_id: int | None
    decision_id: int | None
    set_by_id: int | None
    set_by: str | None
    set_by_role: str | None
    set_at: str | None  # ISO date-time
    reason: str | None
    lifted: Carried | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.referral_id, self.vacancy_id)

    @property
    def is_lock(self) -> bool:
        return self.kind == DecisionKind.lock

    def as_record(self) -> dict:
        record_ = {name: getattr(self, name) for name in (
            "referral_id", "vacancy_id", "run_id", "decision_id", "set_by_id", "set_by", "set_by_role", "set_at",
            "reason")}
        record_["kind"] = self.kind.value
        if self.lifted is not None:
            record_["lifted"] = self.lifted.as_record()
        return record_

    @classmethod
    def from_record(cls, found: dict) -> Carried:
        fields_ = {k: v for k, v in found.items() if k not in ("kind", "lifted")}
        lifted = cls.from_record(found["lifted"]) if found.get("lifted") else None
        return cls(kind=DecisionKind(found["kind"]), lifted=lifted, **fields_)

    def words(self) -> str:
        """The item as the panel reads it: what, who, on which run and when, and why."""
        if self.kind == DecisionKind.lift:
            had = f" It had been: {self.lifted.words()}" if self.lifted is not None else ""
            return (f"{self.referral_id} and {self.vacancy_id} lifted by {self.who()} on {self.when()}. "
                    f"{self.why()}{had}")
        what = {DecisionKind.lock: f"{self.referral_id} locked to {self.vacancy_id}",
                DecisionKind.ban: f"{self.referral_id} banned from {self.vacancy_id}",
                DecisionKind.reject: f"{self.referral_id}'s proposal of {self.vacancy_id} rejected"}[self.kind]
        if self.decision_id is None:
            return f"{what} in the request for {self.when()} by {self.who()}. {self.why()}"
        kept = ", so it is kept out of later runs" if self.kind == DecisionKind.reject else ""
        return f"{what} by {self.who()} on {self.when()}{kept}. {self.why()}"

    def who(self) -> str:
        if self.set_by is None:
            return "someone not recorded"
        return f"{self.set_by} ({self.set_by_role})" if self.set_by_role else self.set_by

    def when(self) -> str:
        run = f"match run {self.run_id}" if self.run_id is not None else "this run"
        if not self.set_at:
            return run
        day = dt.datetime.fromisoformat(self.set_at)
        return f"{run} ({day.day} {day:%B %Y})"

    def why(self) -> str:
        if not self.reason or not self.reason.strip():
            return "No reason was given."
        reason = self.reason.strip()
        return f"Reason: {reason}" + ("" if reason[-1] in ".!?" else ".")


@dataclass
class Memory:
    """What a run hands on to its re-run: the items kept (locks, bans, rejections) and the
    items the panel lifted on it."""

    kept: list[Carried]
    lifted: list[Carried]

    @property
    def locks(self) -> list[tuple[str, str]]:
        return [c.pair for c in self.kept if c.is_lock]

    @property
    def bans(self) -> list[tuple[str, str]]:
        return [c.pair for c in self.kept if not c.is_lock]

    def holding(self, pair: tuple[str, str]) -> Carried | None:
        return next((c for c in self.kept if c.pair == pair), None)

    def locked_elsewhere(self, referral_id: str, vacancy_id: str) -> Carried | None:
        return next((c for c in self.kept if c.is_lock and c.referral_id == referral_id
                     and c.vacancy_id != vacancy_id), None)


def _person(session: Session, user_id: int | None) -> tuple[str | None, str | None]:
    user = session.get(User, user_id) if user_id is not None else None
    return (user.full_name, user.role.value.replace("_", " ")) if user else (None, None)


def _iso_moment(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def carried_from_decision(session: Session, decision: Decision, lifted: Carried | None = None) -> Carried:
    name, role = _person(session, decision.decided_by_id)
    return Carried(kind=decision.kind, referral_id=decision.referral_id, vacancy_id=decision.vacancy_id,
                   run_id=decision.match_run_id, decision_id=decision.id, set_by_id=decision.decided_by_id,
                   set_by=name, set_by_role=role, set_at=_iso_moment(decision.created_at), reason=decision.reason,
                   lifted=lifted)


def given_to(session: Session, run: MatchRun) -> list[Carried]:
    """The locks and bans a run was given, each with who set it and why.

    A run records them in ``carried``; a run recorded without it (by the CLI, or before the
    service remembered) had them in its request: set by whoever submitted it, no reason."""
    recorded = [Carried.from_record(c) for c in run.carried or [] if c.get("kind") != DecisionKind.lift.value]
    known = {c.pair for c in recorded}
    name, role = _person(session, run.created_by_id)
    for kind, codes in ((DecisionKind.lock, run.locks), (DecisionKind.ban, run.bans)):
        for referral_id, vacancy_id in (tuple(code.split(":", 1)) for code in codes or []):
            if (referral_id, vacancy_id) not in known:
                known.add((referral_id, vacancy_id))
                recorded.append(Carried(kind=kind, referral_id=referral_id, vacancy_id=vacancy_id, run_id=run.id,
                                        decision_id=None, set_by_id=run.created_by_id, set_by=name,
                                        set_by_role=role, set_at=_iso_moment(run.created_at), reason=None))
    return recorded


def lifted_before(run: MatchRun) -> list[Carried]:
    """The lifts the panel made on the run this one re-ran (kept with the run for its record)."""
    return [Carried.from_record(c) for c in run.carried or [] if c.get("kind") == DecisionKind.lift.value]


def panel_memory(session: Session, run: MatchRun) -> Memory:
    """What a re-run of ``run`` keeps: its given locks and bans, then the panel's decisions on
    it in order (each replaces what was held for its pair; a lift removes it).

    A lock is kept only while its young person still waits for a placement: once placed (the
    lock honoured and accepted, or the panel chose another home) it has done its work, and
    carried on it would stop every later run, the young person being no longer in the queue."""
    held: dict[tuple[str, str], Carried] = {c.pair: c for c in given_to(session, run)}
    lifted: list[Carried] = []
    for decision in session.scalars(select(Decision).where(
            Decision.match_run_id == run.id, Decision.kind.in_(MEMORY_KINDS)).order_by(Decision.id)):
        pair = (decision.referral_id, decision.vacancy_id)
        if decision.kind == DecisionKind.lift:
            was = held.pop(pair, None)
            lifted.append(carried_from_decision(session, decision, lifted=was))
        else:
            held.pop(pair, None)  # re-inserted last: the order decided
            held[pair] = carried_from_decision(session, decision)
    waiting = set(session.scalars(select(Referral.id).where(
        Referral.id.in_(sorted({c.referral_id for c in held.values() if c.is_lock})),
        Referral.status == ReferralStatus.open)))
    kept = [c for c in held.values() if not c.is_lock or c.referral_id in waiting]
    return Memory(kept=kept, lifted=lifted)


def next_run_locks_and_bans(session: Session, run_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (referral_id, vacancy_id) pairs a re-run of the run is given as its locks and bans
    (rejected pairs among the bans), in the order decided."""
    memory = panel_memory(session, get_run(session, run_id))
    return memory.locks, memory.bans


def _bans_of(session: Session, run: MatchRun) -> list[tuple[str, str]]:
    """The pairs banned as things stand on the run: what its re-run would be given."""
    return panel_memory(session, run).bans


def record_lock_or_ban(session: Session, user: User, run_id: int, kind: DecisionKind, referral_id: str,
                       vacancy_id: str, reason: str) -> Decision:
    """The panel fixes a pair for the next run (lock) or rules it out (ban)."""
    if kind not in (DecisionKind.lock, DecisionKind.ban):
        raise ValueError(f"not a lock or a ban: {kind}")
    run = get_run(session, run_id)
    _named(session, Referral, referral_id, "body.referral_id", "referral")
    _named(session, Vacancy, vacancy_id, "body.vacancy_id", "vacancy")
    memory = panel_memory(session, run)
    _refuse_contradiction(f"for the run after match run {run.id}", kind, (referral_id, vacancy_id), memory)
    decision = Decision(match_run_id=run.id, referral_id=referral_id, vacancy_id=vacancy_id, kind=kind,
                        reason=reason, decided_by_id=user.id)
    session.add(decision)
    session.flush()
    locks, bans = len(memory.locks), len(memory.bans)
    record(session, f"decision_{kind.value}", "decision", decision.id, actor=user,
           before={"run_locks": locks, "run_bans": bans},
           after={**_decision_snapshot(decision), "run_locks": locks + (kind == DecisionKind.lock),
                  "run_bans": bans + (kind == DecisionKind.ban)})
    return decision


def _refuse_contradiction(where: str, kind: DecisionKind, pair: tuple[str, str], memory: Memory) -> None:
    """A pair is locked or banned once, never both; a young person is locked to one vacancy
    (the next run could not honour two locks for one person). What an earlier run carries must
    be lifted first, so that the panel changing its mind is itself a decision with a reason."""
    referral_id, vacancy_id = pair
    held = memory.holding(pair)
    clash = None
    if held is not None:
        state = {DecisionKind.lock: "locked", DecisionKind.ban: "banned", DecisionKind.reject: "rejected"}[held.kind]
        clash = held, f"{referral_id} -> {vacancy_id} is already {state} {where}"
    elif kind == DecisionKind.lock and (elsewhere := memory.locked_elsewhere(referral_id, vacancy_id)):
        clash = elsewhere, f"{referral_id} is already locked to vacancy {elsewhere.vacancy_id} {where}"
    if clash is not None:
        item, message = clash
        then = (f"lift it on match run {item.run_id} first" if item.run_id is not None
                else "this request asks for both")
        raise Conflict(f"{message} ({item.words()}): {then}", code="already_held")


def lift(session: Session, user: User, run_id: int, referral_id: str, vacancy_id: str, reason: str) -> Decision:
    """The panel takes back a lock, ban or rejection before re-running ``run_id``: the re-run
    will not be given it. The lift is a decision with its reason, and audited with what it lifted."""
    run = get_run(session, run_id)
    held = panel_memory(session, run).holding((referral_id, vacancy_id))
    if held is None:
        raise Conflict(f"nothing to lift: {referral_id} -> {vacancy_id} is not locked, banned or rejected for "
                       f"the run after match run {run.id}", code="nothing_to_lift")
    decision = Decision(match_run_id=run.id, referral_id=referral_id, vacancy_id=vacancy_id,
                        kind=DecisionKind.lift, reason=reason, decided_by_id=user.id)
    session.add(decision)
    session.flush()
    record(session, "decision_lift", "decision", decision.id, actor=user,
           before={"held": held.as_record()}, after=_decision_snapshot(decision))
    return decision


def memory_for_new_run(session: Session, user: User, rerun_of: int | None,
                       locks: list[tuple[str, str, str | None]], bans: list[tuple[str, str, str | None]]) -> Memory:
    """What a new run is given: the panel's memory of ``rerun_of`` (if any) and the locks and
    bans of the request, each ``(referral_id, vacancy_id, reason)``, set by ``user``.

    A request that contradicts what is carried (locking a banned or rejected pair, banning a
    locked one, a second lock for one young person) is refused: the panel lifts it first."""
    memory = panel_memory(session, get_run(session, rerun_of)) if rerun_of is not None else Memory([], [])
    name, role = _person(session, user.id)
    now = utcnow().isoformat()
    for kind, given in ((DecisionKind.lock, locks), (DecisionKind.ban, bans)):
        for referral_id, vacancy_id, reason in given:
            pair = (referral_id, vacancy_id)
            held = memory.holding(pair)
            if held is not None and held.is_lock == (kind == DecisionKind.lock):
                continue  # asked again: the earlier decision, with its reason, stands
            _refuse_contradiction("for this run", kind, pair, memory)
            memory.kept.append(Carried(kind=kind, referral_id=referral_id, vacancy_id=vacancy_id, run_id=None,
                                       decision_id=None, set_by_id=user.id, set_by=name, set_by_role=role,
                                       set_at=now, reason=reason))
    return memory


def remember(session: Session, user: User, run_id: int, rerun_of: int | None, memory: Memory) -> None:
    """Write on the new run what it was given and by whom (the request's own items get its id),
    and audit it: the run's record then answers "who set this, and why" for every lock and ban."""
    if rerun_of is None and not memory.kept:
        return  # a fresh run with no locks or bans: nothing to remember
    run = get_run(session, run_id)
    kept = [c if c.run_id is not None else replace(c, run_id=run.id) for c in memory.kept]
    run.rerun_of_id = rerun_of
    run.carried = [c.as_record() for c in kept] + [c.as_record() for c in memory.lifted]
    session.flush()
    record(session, "match_run_memory", "match_run", run.id, actor=user, after={
        "rerun_of": rerun_of,
        "carried": [{"kind": c.kind.value, "pair": f"{c.referral_id}:{c.vacancy_id}", "run_id": c.run_id,
                     "decision_id": c.decision_id} for c in kept],
        "lifted": [{"pair": f"{c.referral_id}:{c.vacancy_id}", "decision_id": c.decision_id}
                   for c in memory.lifted],
    })


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
