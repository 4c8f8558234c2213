"""The match run a panel decision is made on, and the decisions recorded on it.

Shared by the panel's decisions (:mod:`api.panel_decisions`) and its memory
(:mod:`api.panel_memory`): a run found by id, the council it places for, the policy it was
solved with, whether its proposals can be decided, the referral or vacancy a decision names,
and the audit snapshot of a decision."""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.refusals import Conflict, Invalid, NotFound
from matching.policy import Policy
from models.enums import DecisionKind, MatchRunStatus
from models.panel import Decision, MatchRun
from models.supply import Framework


def get_run(session: Session, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"match run {run_id} not found")
    return run


def decidable_run(session: Session, run_id: int) -> MatchRun:
    """Only a finished run has proposals to decide on."""
    run = get_run(session, run_id)
    if run.status != MatchRunStatus.succeeded:
        raise Conflict(f"match run {run_id} is {run.status.value}: only a succeeded run's proposals can be decided")
    return run


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
