"""Match runs as background jobs: submit one, follow its progress, read its proposals, cancel it.

A run is solved by a worker process (see :mod:`api.jobs`), so ``POST /match-runs`` answers
202 at once with the queued run; poll ``GET /match-runs/{id}`` until its status is
``succeeded``, ``failed`` or ``cancelled``.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, select

from api import jobs
from api.deps import MANAGERS, PANEL, Allowed, RecordId, SessionDep, get_engine
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.pagination import Limit, Offset, Page, page
from matching.policy import Policy
from models.db import transaction
from models.enums import MatchRunStatus, Tier
from models.panel import MatchRun

router = APIRouter(prefix="/match-runs", tags=["match runs"], responses=ERROR_RESPONSES)
Panel = Allowed(*PANEL)
Reader = Allowed(*dict.fromkeys(PANEL + MANAGERS))  # the panel, and managers who approve its proposals
EngineDep = Annotated[Engine, Depends(get_engine)]

MAX_TIME_LIMIT = 600  # seconds: a service run must not hold a worker for longer


def default_placing_authority() -> str:
    """The council whose panel this service serves (``PLACEMATCH_PLACING_AUTHORITY``; the demo's)."""
    from providers.demo import DEMO_AUTHORITY

    return os.environ.get("PLACEMATCH_PLACING_AUTHORITY") or DEMO_AUTHORITY


def on_startup(engine: Engine) -> None:
    jobs.recover(engine)


def on_shutdown(engine: Engine) -> None:
    jobs.shutdown(engine)


# ---------------------------------------------------------------------------------------------
# Schemas


class PairRef(BaseModel):
    referral_id: str = Field(min_length=1, max_length=40, pattern=r"^[^:]+$", examples=["R0002"])
    vacancy_id: str = Field(min_length=1, max_length=40, pattern=r"^[^:]+$", examples=["V0017"])


class MatchRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "panel_date": "2026-11-23", "placing_authority": "E06000035",
        "policy": {"distance_cap_miles": 40}, "time_limit_seconds": 60,
        "locks": [{"referral_id": "R0002", "vacancy_id": "V0017"}], "bans": [],
    }]})

    panel_date: dt.date | None = Field(None, description="The panel's date; default today")
    placing_authority: str | None = Field(
        None, pattern=r"^[EWSN]\d{8}$", description="ONS code of the placing council; default the configured one",
        examples=["E06000035"])
    policy: Policy = Field(
        default_factory=Policy,
        description="Changes to the panel policy (matching/policy.yaml); every key is optional and the rest "
                    "keep their defaults", examples=[{"distance_cap_miles": 40, "weekly_budget_cap": 60000}])
    time_limit_seconds: float | None = Field(None, ge=1, le=MAX_TIME_LIMIT,
                                             description="Seconds the solver may take (default: the policy's)")
    locks: list[PairRef] = Field([], max_length=2000, description="Placements the proposal must include")
    bans: list[PairRef] = Field([], max_length=2000, description="Placements the proposal must not include")
    rerun_of: int | None = Field(
        None, description="Re-run after the panel's decisions on this run: its locks and bans (those it was given "
                          "and those recorded since) are added to these", examples=[12])


def _progress_shown(value: dict[str, Any] | None) -> dict[str, Any]:
    # The unplaced list lives with the progress in the row, but has its own route.
    return {k: v for k, v in (value or {}).items() if k != jobs.UNPLACED_KEY}


class MatchRunSummary(BaseModel):
    id: int = Field(examples=[12])
    status: MatchRunStatus = Field(examples=[MatchRunStatus.running])
    panel_date: dt.date
    placing_authority: str | None = Field(examples=["E06000035"])
    created_by_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    progress: dict[str, Any] = Field(
        description="How far the worker has got: stage is one of " + ", ".join(jobs.STAGES) +
                    ", with the counts known by then",
        examples=[{"stage": "solving", "young_people": 64, "vacancies": 63, "eligible_pairs": 537}])
    solver_status: str | None = Field(examples=["OPTIMAL"])
    error: str | None = Field(description="Why the run failed", examples=[None])

    @field_validator("progress", mode="before")
    @classmethod
    def _shown(cls, value):
        return _progress_shown(value)


class ProposedMatchPublic(BaseModel):
    id: int = Field(description="What the panel accepts or rejects (POST /match-runs/{id}/proposals/{proposal_id}/...)")
    referral_id: str = Field(examples=["R0002"])
    vacancy_id: str = Field(examples=["V0017"])
    property_id: str
    rank: int = Field(description="0 for the proposal, 1, 2, ... for the alternatives")
    tier: Tier
    weekly_cost: float = Field(examples=[1250.0])
    miles_from_home: float
    miles_from_education: float | None
    out_of_area: bool
    at_a_distance: bool
    approvals_required: list[str] = Field(examples=[["out_of_area:service_manager"]])
    score: dict[str, float | int | None] = Field(
        description="The objective's terms: a proposal's need, distance and cost scores and each penalty; "
                    "an alternative's penalty and cost, and the difference from the proposal")


def _pairs(codes: list[str]) -> list[PairRef]:
    return [PairRef(referral_id=r, vacancy_id=v) for r, v in jobs.pairs_of(codes)]


class MatchRunDetail(MatchRunSummary):
    referral_count: int
    objective: dict[str, Any] = Field(examples=[{"placed": 120, "penalty": 5310, "cost": 61250}])
    best_bound: float | None
    gap: float | None = Field(description="Relative gap on the first level (0 when proven optimal)")
    policy: dict[str, Any]
    locks: list[PairRef]
    bans: list[PairRef]
    worker_pid: int | None
    proposals: list[ProposedMatchPublic]
    alternatives: list[ProposedMatchPublic]

    @field_validator("locks", "bans", mode="before")
    @classmethod
    def _as_pairs(cls, value):
        # Stored as "REFERRAL_ID:VACANCY_ID" codes (as the CLI takes them).
        return _pairs(value or [])


class UnplacedPublic(BaseModel):
    referral_id: str = Field(examples=["R0001"])
    reason: str = Field(examples=["no eligible vacancy: no support at the tier needed"])
    eligible_options: int
    excluded_by: str = Field(description="Each rule's code and how many vacancies it removed",
                             examples=["tier_not_offered=50;not_available_in_time=6"])
    taken_by: str = Field(description="Young people proposed for the beds they could have had")


def detail(run: MatchRun) -> MatchRunDetail:
    ranked = sorted(run.proposals, key=lambda p: (p.referral_id, p.rank))
    fields = {name: getattr(run, name) for name in MatchRunDetail.model_fields
              if name not in ("proposals", "alternatives")}
    return MatchRunDetail.model_validate(fields | {
        "proposals": [ProposedMatchPublic.model_validate(p, from_attributes=True) for p in ranked if p.rank == 0],
        "alternatives": [ProposedMatchPublic.model_validate(p, from_attributes=True) for p in ranked if p.rank > 0],
    })


def _run(session, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise not_found("match run", run_id)
    return run


def _effective_policy(body: MatchRunCreate) -> Policy:
    """The body's policy with its time limit (the body's ``time_limit_seconds`` wins)."""
    policy = body.policy
    if body.time_limit_seconds is not None:
        policy = policy.model_copy(update={
            "solver": policy.solver.model_copy(update={"time_limit_seconds": body.time_limit_seconds})})
    if policy.solver.time_limit_seconds > MAX_TIME_LIMIT:
        raise ApiError(422, "the request is not valid: see fields", fields=[
            ("body.policy.solver.time_limit_seconds", f"at most {MAX_TIME_LIMIT} seconds for a service run")])
    return policy


# ---------------------------------------------------------------------------------------------
# Routes


@router.post("", response_model=MatchRunSummary, status_code=202,
             summary="Submit a match run (solved in the background; poll GET /match-runs/{id})")
def submit_run(body: MatchRunCreate, response: Response, engine: EngineDep, user: Panel):
    locks = [(p.referral_id, p.vacancy_id) for p in body.locks]
    bans = [(p.referral_id, p.vacancy_id) for p in body.bans]
    if body.rerun_of is not None:
        earlier_locks, earlier_bans = _carried(engine, body.rerun_of)
        locks += [pair for pair in earlier_locks if pair not in locks]
        bans += [pair for pair in earlier_bans if pair not in bans]
    run = jobs.submit(
        engine, actor=user, panel_date=body.panel_date or dt.date.today(),
        placing_authority=body.placing_authority or default_placing_authority(),
        policy=_effective_policy(body), locks=locks, bans=bans,
    )
    response.headers["Location"] = f"/match-runs/{run.id}"
    return MatchRunSummary.model_validate(run, from_attributes=True)


def _carried(engine, run_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The locks and bans a re-run of ``run_id`` keeps: the ones that run was given, then the
    panel's lock and ban decisions on it."""
    from api.workflow import next_run_locks_and_bans

    with transaction(engine) as session:
        run = session.get(MatchRun, run_id)
        if run is None:
            raise not_found("match run", run_id)
        given = ([tuple(x.split(":", 1)) for x in run.locks], [tuple(x.split(":", 1)) for x in run.bans])
        decided = next_run_locks_and_bans(session, run_id)
    return (given[0] + [p for p in decided[0] if p not in given[0]],
            given[1] + [p for p in decided[1] if p not in given[1]])


@router.get("", response_model=Page[MatchRunSummary], summary="List match runs, newest first")
def list_runs(session: SessionDep, _: Reader, limit: Limit = 50, offset: Offset = 0,
              status: MatchRunStatus | None = None, panel_date: dt.date | None = None):
    query = select(MatchRun).order_by(MatchRun.id.desc())
    if status is not None:
        query = query.where(MatchRun.status == status)
    if panel_date is not None:
        query = query.where(MatchRun.panel_date == panel_date)
    return page(session, query, limit, offset, MatchRunSummary)


@router.get("/{run_id}", response_model=MatchRunDetail,
            summary="A match run: its progress, the solver's report, the proposals and the alternatives")
def get_run(run_id: RecordId, session: SessionDep, _: Reader):
    return detail(_run(session, run_id))


@router.get("/{run_id}/unplaced", response_model=Page[UnplacedPublic],
            summary="The young people a succeeded run left without a proposal, and why")
def unplaced(run_id: RecordId, session: SessionDep, _: Reader, limit: Limit = 100, offset: Offset = 0):
    run = _run(session, run_id)
    if run.status != MatchRunStatus.succeeded:
        raise ApiError(409, f"match run {run_id} is {run.status.value}: who is unplaced is known once it has succeeded")
    # Runs recorded before the service (the CLI's) have no list: an empty page, not an error.
    rows = (run.progress or {}).get(jobs.UNPLACED_KEY, [])
    return {"items": [UnplacedPublic.model_validate(r) for r in rows[offset:offset + limit]],
            "total": len(rows), "limit": limit, "offset": offset}


@router.post("/{run_id}/cancel", response_model=MatchRunSummary,
             summary="Cancel a queued or running match run (its worker is stopped)")
def cancel_run(run_id: RecordId, session: SessionDep, engine: EngineDep, user: Panel):
    _run(session, run_id)
    try:
        run = jobs.cancel(engine, run_id, user)
    except jobs.JobFinished as finished:
        raise ApiError(409, f"match run {run_id} has finished ({finished.status.value}): "
                            "only a queued or running run can be cancelled") from None
    return MatchRunSummary.model_validate(run, from_attributes=True)
