"""The match run a panel decision is made on, and the decisions recorded on it.

Shared by the panel's decisions (:mod:`api.panel_decisions`) and its memory
(:mod:`api.panel_memory`): a run found by id, the council it places for, the policy it was
solved with, whether its proposals can still be decided (it succeeded, and no newer run of the
same council has superseded it), the referral or vacancy a decision names, and the audit
snapshot of a decision."""

from __future__ import annotations

import os

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.refusals import Conflict, Invalid, NotFound
from matching.policy import Policy
from models.enums import DecisionKind, MatchRunStatus
from models.panel import Decision, MatchRun
from models.supply import Framework

# Why a run's proposals cannot be decided, in the words a panel member reads.
NOT_DECIDABLE = {
    MatchRunStatus.queued: "has not run yet, so it has no proposals to decide on",
    MatchRunStatus.running: "is still running, so its proposals are not ready to decide on",
    MatchRunStatus.failed: "failed, so its proposals cannot be decided: run the match again",
    MatchRunStatus.cancelled: "was cancelled, so its proposals cannot be decided: run the match again",
}


def get_run(session: Session, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"match run {run_id} not found")
    return run


def decidable_run(session: Session, run_id: int) -> MatchRun:
    """The run, if its proposals can still be decided: it succeeded, and no newer run of the
    same council has succeeded since. The newer run was solved on fresher facts and the
    panel's memory carries on from it, so a decision on the older one would be made on stale
    facts (and a rejection on it would never reach the runs after it)."""
    run = get_run(session, run_id)
    if run.status != MatchRunStatus.succeeded:
        raise Conflict(f"Match run {run.id} {NOT_DECIDABLE.get(run.status, 'cannot be decided on')}",
                       code="run_not_decidable")
    newer = superseded_by(session, run)
    if newer is not None:
        raise Conflict(f"Match run {run.id} has been replaced by a newer run for the same council (match run "
                       f"{newer}), so its proposals can no longer be decided: decide on match run {newer}",
                       code="superseded")
    return run


def superseded_by(session: Session, run: MatchRun) -> int | None:
    """The newest succeeded run made after ``run`` for the same council, if any (its id). A
    newer run that failed, was cancelled or has not finished does not supersede: it has no
    proposals."""
    council = placing_authority_of(session, run)
    newer = session.execute(
        select(MatchRun.id, MatchRun.placing_authority)
        .where(MatchRun.id > run.id, MatchRun.status == MatchRunStatus.succeeded,
               or_(MatchRun.placing_authority == council, MatchRun.placing_authority.is_(None)))
        .order_by(MatchRun.id.desc())
    )
    for run_id, authority in newer:
        # A run recorded without its council (by the CLI) places for the service's council.
        if (authority or _service_council(session)) == council:
            return run_id
    return None


def placing_authority_of(session: Session, run: MatchRun) -> str:
    """The council the run places for: recorded on the run, else (runs recorded by the CLI do
    not carry it) the service's council, ``PLACEMATCH_PLACING_AUTHORITY``, or the one council
    whose frameworks are in the database."""
    council = run.placing_authority or _service_council(session)
    if council is None:
        raise Conflict(f"match run {run.id} does not say which council it places for")
    return council


def _service_council(session: Session) -> str | None:
    if os.environ.get("PLACEMATCH_PLACING_AUTHORITY"):
        return os.environ["PLACEMATCH_PLACING_AUTHORITY"]
    codes = session.scalars(select(Framework.placing_authority_code).distinct()).all()
    return codes[0] if len(codes) == 1 else None


def policy_of(run: MatchRun) -> Policy:
    return Policy.model_validate(run.policy) if run.policy else Policy()


def named(session: Session, model, key: str, path: str, what: str):
    """A record a request body names; unknown ids are the caller's input problem (422)."""
    found = session.get(model, key)
    if found is None:
        raise Invalid(f"no {what} {key}", fields=[(path, f"no such {what}")])
    return found


def decisions_query(run_id: int, kind: DecisionKind | None = None):
    query = select(Decision).where(Decision.match_run_id == run_id).order_by(Decision.id)
    return query.where(Decision.kind == kind) if kind is not None else query


def decision_snapshot(decision: Decision) -> dict:
    return {"kind": decision.kind.value, "match_run_id": decision.match_run_id,
            "proposed_match_id": decision.proposed_match_id, "referral_id": decision.referral_id,
            "vacancy_id": decision.vacancy_id, "reason": decision.reason}
