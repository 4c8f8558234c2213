"""The panel's decisions on a match run's proposals, as plain functions of a Session and a User:
accept a proposal, reject one, or place a young person in a home of the panel's own choosing
(override). Locks, bans and lifts, the decisions that shape the next run, are the panel's
memory (:mod:`api.panel_memory`); the managers' decisions on the approval requests raised
here are :mod:`api.approval_decisions`.

No web framework here: the routes (``api.routes.decisions``) call these and turn a
:class:`~api.refusals.Refused` into an HTTP answer; a CLI or the pages can call them alike.
Each function only adds to the session and flushes; the caller's one transaction commits
everything or, on any refusal or error, nothing.

The life of a placement:

* the panel **accepts** a proposal of a match run, or **overrides** with its own choice. Both
  are checked the same way, against today's data, by :func:`analyze_choice` (the engine's own
  rules, :mod:`matching.analyze`): rules an override breaks need ``confirm``; a proposal that
  breaks one now (a grade fell, a date moved, the panel locked the young person elsewhere) is
  refused. A proposal of a run a newer run has superseded is refused too. Either way a
  placement is created with its support plan, takes one free bed of the vacancy, and the
  council's approval policy (:mod:`matching.approvals`) turns it into approval requests, each
  recording the panel decision that raised it and the policy's version;
* with no request the placement is active at once (the young person is placed); otherwise it
  awaits approval and becomes active when **every** request is approved;
* one **rejection** by a manager sends it back to the panel (see
  :func:`api.approval_decisions.decide_approval`).

Every decision writes an audit event with the record before and after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import trial_stays
from api.panel_memory import panel_memory
from api.refusals import Conflict, Invalid, NotFound
from api.run_records import (
    decidable_run,
    decision_snapshot,
    named,
    placing_authority_of,
    policy_of,
)
from matching.analyze import analyze
from matching.approvals import (
    DEFAULT_APPROVALS_FILE,
    ApprovalPolicy,
    approvals_required,
    load_approval_policy,
)
from matching.eligibility import UNKNOWN_VACANCY
from matching.explain import words
from matching.instance import from_database
from models import glossary
from models.accounts import User, record
from models.enums import (
    ApprovalRule,
    DecisionKind,
    PlacementStatus,
    ReferralStatus,
    Role,
    ServiceType,
    Tier,
)
from models.panel import ApprovalRequest, Decision, MatchRun, ProposedMatch
from models.people import Placement, Referral, SupportPlanStep
from models.schemas import PlacementIn, SupportPlanStepIn
from models.supply import Property, Vacancy
from providers.authorities import default_authorities

# A placement that holds (or is about to hold) a bed and a young person.
LIVE = (PlacementStatus.proposed, PlacementStatus.awaiting_approval, PlacementStatus.active)


class RulesBroken(Conflict):
    """The panel's own choice breaks rules and the panel has not confirmed it."""

    code = "rules_broken"


class NoLongerAllowed(Invalid):
    """A proposal that broke no rule when the engine made it breaks one on today's data."""

    code = "no_longer_allowed"


# The side constraints' words (models.glossary) where matching.explain has none (it words the hard rules).
SIDE_WORDS = glossary.SIDE_RULES


# --- the council's approval policy ---------------------------------------------------------------


def council_approval_policy(council: str | None = None) -> ApprovalPolicy:
    """The approval policy a council's placements are decided under. ``PLACEMATCH_APPROVALS``
    names a YAML file (every council's policy) or a folder holding one file a council, named by
    its ONS code (``E06000035.yaml``; a council without one gets the shipped policy); unset, the
    shipped ``matching/approvals.yaml``. Each council owns its own rules (reg. 11 and its own
    ceilings and distances). Read once per file."""
    given = os.environ.get("PLACEMATCH_APPROVALS")
    if given and Path(given).is_dir():
        own = Path(given) / f"{council}.yaml"
        return _approval_policy_in(str(own) if council and own.is_file() else str(DEFAULT_APPROVALS_FILE))
    return _approval_policy_in(given or str(DEFAULT_APPROVALS_FILE))


def approvals_of(user) -> ApprovalPolicy:
    """The approval policy of the signed-in user's council (a route dependency)."""
    return council_approval_policy(user.council_code)


@cache
def _approval_policy_in(path: str) -> ApprovalPolicy:
    return load_approval_policy(Path(path))


def policy_version(approvals: ApprovalPolicy) -> str:
    """The approvals policy's version, kept with every request it raises: the first 12 hex
    digits of the SHA-256 of its settings as JSON. The same rules give the same version
    whichever file they were read from; any change to a rule, a role, the distance or a
    ceiling gives a new one, so a request always shows which rules asked for it."""
    settings = json.dumps(approvals.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(settings.encode()).hexdigest()[:12]


# --- what the panel's decisions return -----------------------------------------------------------


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


def _proposal(session: Session, run: MatchRun, proposal_id: int) -> ProposedMatch:
    proposal = session.get(ProposedMatch, proposal_id)
    if proposal is None or proposal.match_run_id != run.id:
        raise NotFound(f"proposal {proposal_id} not found in match run {run.id}")
    return proposal


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
    """The panel accepts a proposal (the engine's first choice or one of its alternatives).

    The proposal is checked again, exactly as an override is (:func:`analyze_choice`, on
    today's data): the engine checked it when it ran, but since then a provider's grade may
    have fallen, a bed been taken, a date moved or the panel locked the young person
    elsewhere. What an override is refused for whatever it confirms (no free bed, the young
    person placed already, no tier of support for their need), an accept is refused for too.

    A proposal that now breaks a rule is refused (:class:`NoLongerAllowed`, naming each rule),
    not turned into an override. An override breaks a rule only when the panel confirms it,
    knowingly, with the rules in front of it (``confirm``), and is then approved by the
    policy's ``rules_broken`` role; accepting a proposal confirms no such thing (the panel
    accepted what the engine had checked). So it is refused as an unconfirmed override is, and
    the panel, if it still wants that home, chooses it as an override, where the broken rules
    are recorded and approved."""
    run = decidable_run(session, run_id)
    proposal = _proposal(session, run, proposal_id)
    _refuse_second_decision(session, proposal)
    referral = session.get(Referral, proposal.referral_id)
    vacancy = session.get(Vacancy, proposal.vacancy_id)
    if vacancy is None:
        raise Conflict(f"vacancy {proposal.vacancy_id} no longer exists")
    _check_free(session, run, referral, vacancy)
    facts, broken = _checked(session, run, referral, vacancy, siblings_proposed_with(session, run, referral))
    if broken:
        rules = "; ".join(f"{b.words} ({b.detail})" for b in broken)
        raise NoLongerAllowed(
            f"Proposal {proposal.id} can no longer be accepted: since the match was run it breaks "
            f"{_count(len(broken), 'rule')}: {rules}. Nothing was written. To place {referral.id} there "
            "anyway, choose that home as the panel's own choice (an override): the rules it breaks are then "
            "kept with the decision, and go for approval where the council's approvals policy asks for it",
            fields=[(f"rule:{b.code}", f"{b.words}: {b.detail}") for b in broken])
    if facts is None:  # no price for the need: a rule says so (tier_not_offered), so not reached
        raise Conflict(f"property {vacancy.property_id} no longer offers {referral.tier.value} support: "
                       "run the match again")
    decision = Decision(match_run_id=run.id, proposed_match_id=proposal.id, referral_id=referral.id,
                        vacancy_id=vacancy.id, kind=DecisionKind.accept, reason=reason, decided_by_id=user.id)
    return _place(session, user, run, decision, reason, referral, vacancy, facts, approvals)


def siblings_proposed_with(session: Session, run: MatchRun, referral: Referral) -> list[tuple[str, str]]:
    """The run's proposals for the young person's siblings still waiting: the engine placed the
    group together, so one of them is accepted as part of the group, not as a split."""
    if not referral.sibling_group:
        return []
    rows = session.execute(
        select(ProposedMatch.referral_id, ProposedMatch.vacancy_id)
        .join(Referral, Referral.id == ProposedMatch.referral_id)
        .where(ProposedMatch.match_run_id == run.id, ProposedMatch.rank == 0,
               Referral.sibling_group == referral.sibling_group, Referral.id != referral.id,
               Referral.status == ReferralStatus.open)
        .order_by(ProposedMatch.referral_id)
    )
    return [(r, v) for r, v in rows]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def reject_proposal(session: Session, user: User, run_id: int, proposal_id: int, reason: str) -> Decision:
    """The panel turns a proposal down; the young person stays in the queue, and the pair is banned
    in every later re-run until the panel lifts it (see :func:`api.panel_memory.panel_memory`)."""
    run = decidable_run(session, run_id)
    proposal = _proposal(session, run, proposal_id)
    _refuse_second_decision(session, proposal)
    decision = Decision(match_run_id=run.id, proposed_match_id=proposal.id, referral_id=proposal.referral_id,
                        vacancy_id=proposal.vacancy_id, kind=DecisionKind.reject, reason=reason,
                        decided_by_id=user.id)
    session.add(decision)
    session.flush()
    record(session, "decision_reject", "decision", decision.id, actor=user,
           before={"proposal_id": proposal.id, "decided": False},
           after=decision_snapshot(decision))
    return decision


def analyze_choice(session: Session, run: MatchRun, referral: Referral, vacancy: Vacancy,
                   alongside: list[tuple[str, str]] = ()) -> tuple[PairFacts | None, list[BrokenRule]]:
    """Score the panel's choice as the engine would and list every rule it breaks, on today's
    data: the one check of a choice, for an override and an accepted proposal alike.

    Open siblings join the analysis so that placing one of a group alone shows as a split
    (``alongside``: the pairs their places are decided with, for a proposal of the group); the
    run's bans (and the bans the panel recorded on it) count, so choosing a banned pair shows
    as breaking the ban; and so does the young person's lock, if the panel locked them to
    another vacancy. Rules only the ``alongside`` pairs break are theirs, checked when they are
    decided."""
    siblings = []
    if referral.sibling_group:
        siblings = session.scalars(select(Referral.id).where(
            Referral.sibling_group == referral.sibling_group, Referral.id != referral.id,
            Referral.status == ReferralStatus.open)).all()
    memory = panel_memory(session, run)
    locks = [pair for pair in memory.locks if pair[0] == referral.id]
    instance = from_database(session, placing_authority_of(session, run), run.panel_date,
                             referral_ids=[referral.id, *siblings], bans=memory.bans, locks=locks,
                             vacancy_ids=[vacancy.id, *(v for _, v in alongside), *(v for _, v in locks)])
    others = {r for r, _ in alongside}
    analysis = analyze([(referral.id, vacancy.id), *alongside], instance, policy_of(run))
    homes = {str(pid): name for pid, name in session.execute(select(Property.id, Property.name).where(
        Property.id.in_(instance.vacancies["property_id"].astype(str).unique().tolist()))) if name}
    broken = [BrokenRule(v.code, _words(v.code), glossary.plain(v.detail, homes))
              for v in analysis.violations if v.referral_id not in others]
    chosen = analysis.placements
    if len(chosen):
        chosen = chosen[(chosen["referral_id"].astype(str) == referral.id)
                        & (chosen["vacancy_id"].astype(str) == vacancy.id)]
    row = chosen.iloc[0].to_dict() if len(chosen) else {}
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


def _checked(session: Session, run: MatchRun, referral: Referral, vacancy: Vacancy,
             alongside: list[tuple[str, str]] = ()) -> tuple[PairFacts | None, list[BrokenRule]]:
    """:func:`analyze_choice` for a decision about to be written. The analysis reads only
    vacancies with a free bed: one missing from it lost its last bed after :func:`_check_free`
    (another panel member's decision, committed meanwhile), which is that refusal again, not an
    unknown vacancy."""
    facts, broken = analyze_choice(session, run, referral, vacancy, alongside)
    if any(b.code == UNKNOWN_VACANCY for b in broken):
        session.refresh(vacancy, ["beds"])
        if vacancy.beds < 1:
            raise _no_free_bed(session, run, vacancy)
    return facts, broken


def _words(code: str) -> str:
    return SIDE_WORDS.get(code) or words(code)


def override(session: Session, user: User, run_id: int, referral_id: str, vacancy_id: str, reason: str,
             confirm: bool, approvals: ApprovalPolicy) -> Placed:
    """The panel places a young person in a home of its own choosing.

    The choice is analysed first; if it breaks any rule and ``confirm`` is false, nothing is
    written and :class:`RulesBroken` lists the rules. Confirmed, the broken rules are kept in
    the decision's reason, the audit event and every approval request's case summary."""
    run = decidable_run(session, run_id)
    referral = named(session, Referral, referral_id, "body.referral_id", "referral")
    vacancy = named(session, Vacancy, vacancy_id, "body.vacancy_id", "vacancy")
    _check_free(session, run, referral, vacancy)
    facts, broken = _checked(session, run, referral, vacancy)
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
    return reason + BROKEN_MARK + "; ".join(f"{b.words} ({b.detail})" for b in broken)


BROKEN_MARK = "\nRules knowingly broken: "  # an override's reason, then the rules it broke


def _refuse_second_decision(session: Session, proposal: ProposedMatch) -> None:
    earlier = _already_decided(session, proposal)
    if earlier is not None:
        raise Conflict(f"proposal {proposal.id} was already decided ({earlier.kind.value}, decision {earlier.id})",
                       code="already_decided")


def _check_free(session: Session, run: MatchRun, referral: Referral, vacancy: Vacancy) -> None:
    """Refuse when the young person already has a live placement or is not waiting for one,
    or when the vacancy has no free bed (the claim in :func:`_claim` re-checks atomically).
    No placement is made without a free bed, even by an override: a bed is not a rule the
    panel can set aside."""
    live = session.scalar(select(Placement).where(Placement.referral_id == referral.id,
                                                  Placement.status.in_(LIVE)).limit(1))
    if live is not None:
        raise Conflict(f"referral {referral.id} already has a live placement ({live.id}, {live.status.value})",
                       code="already_placed")
    if referral.status != ReferralStatus.open:
        raise Conflict(f"referral {referral.id} is {referral.status.value}, not waiting for a placement")
    if vacancy.beds < 1:
        raise _no_free_bed(session, run, vacancy)


def _no_free_bed(session: Session, run: MatchRun, vacancy: Vacancy) -> Conflict:
    """The refusal for a vacancy with no free bed, saying where its last bed went when that
    was after the run: the panel then knows the proposal is out of date, not wrong."""
    taken = session.scalar(select(Placement).where(
        Placement.vacancy_id == vacancy.id, Placement.status.in_(LIVE), Placement.created_at >= run.created_at)
        .order_by(Placement.id.desc()).limit(1))
    since = ("" if taken is None else
             f": since match run {run.id} was made, its last free bed has gone to {taken.referral_id} "
             f"(placement {taken.id}, {taken.status.value.replace('_', ' ')})")
    return Conflict(f"vacancy {vacancy.id} has no free bed left{since}", code="no_free_bed")


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


def _place(session: Session, user: User, run: MatchRun, decision: Decision, reason: str, referral: Referral,
           vacancy: Vacancy, facts: PairFacts, approvals: ApprovalPolicy,
           broken: list[BrokenRule] = ()) -> Placed:
    """Create the placement the panel decided on, raise its approval requests, and move it on:
    active at once with no request, else awaiting approval."""
    before = {"referral_status": referral.status.value, "vacancy_beds": vacancy.beds}
    _claim(session, referral, vacancy)
    # A trial stay booked in this home comes first: the placement starts the day it ends.
    facts = replace(facts, starts_on=trial_stays.kept_on_acceptance(session, user, run, referral, vacancy,
                                                                     facts.starts_on))
    prop = vacancy.property
    placement = _new_placement(referral, prop, vacancy, facts)
    session.add(decision)
    session.add(placement)
    session.flush()
    version = policy_version(approvals)
    requests = [
        ApprovalRequest(placement_id=placement.id, rule=rule, role=role, panel_decision_id=decision.id,
                        policy_version=version,
                        case_summary=case_summary(session, run, rule, role, placement, referral, prop, facts,
                                                  approvals, decision.kind, reason, broken))
        for rule, role in approvals_for(facts, referral, prop, approvals, broken)
    ]
    session.add_all(requests)
    placement.status = PlacementStatus.awaiting_approval if requests else PlacementStatus.active
    referral.status = ReferralStatus.proposed if requests else ReferralStatus.placed
    session.flush()
    after = {**decision_snapshot(decision), "placement_id": placement.id, "placement_status": placement.status.value,
             "referral_status": referral.status.value, "vacancy_beds": vacancy.beds,
             "approval_requests": [f"{r.rule.value}:{r.role.value}" for r in requests],
             "approvals_policy_version": version,
             "broken_rules": [b.code for b in broken]}
    record(session, f"decision_{decision.kind.value}", "decision", decision.id, actor=user, before=before, after=after)
    record(session, "placement_created", "placement", placement.id, actor=user,
           after=placement_snapshot(placement))
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


RULE_WORDS = {ApprovalRule(code): text for code, text in glossary.APPROVAL_REASONS_IN_FULL.items()}


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
    legal = (f"Legal status: {glossary.LEGAL_STATUSES[status.value]} (looked after: reg. 11 applies)."
             if status.is_looked_after else
             f"Legal status: {glossary.LEGAL_STATUSES[status.value]} (care leaver: the council's own rules apply).")
    how = ("The panel accepted the engine's proposal." if kind == DecisionKind.accept
           else "The panel chose this home itself (override).")
    lines = [
        (f"Why this approval: {RULE_WORDS[rule].format(miles=approvals.distance_miles)}. "
         f"Decided by: {glossary.ROLES[role.value]}."),
        f"Placement {placement.id} for referral {referral.id}: {facts.tier.value} support "
        f"({glossary.SERVICE_TYPES[prop.service_type.value].lower()}) from {placement.starts_on.isoformat()}"
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


# --- audit snapshots -----------------------------------------------------------------------------


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def placement_snapshot(placement: Placement) -> dict:
    return {"status": placement.status.value, "referral_id": placement.referral_id,
            "property_id": placement.property_id, "vacancy_id": placement.vacancy_id,
            "tier": placement.tier.value, "weekly_cost": placement.weekly_cost,
            "starts_on": _iso(placement.starts_on), "planned_end_on": _iso(placement.planned_end_on),
            "support_plan": [{"starts_on": _iso(s.starts_on), "tier": s.tier.value, "weekly_cost": s.weekly_cost}
                             for s in placement.support_plan]}
