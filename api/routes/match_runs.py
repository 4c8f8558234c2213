"""Match runs as background jobs: submit one, follow its progress, read its proposals, cancel it.

A run is solved by a worker process (see :mod:`api.jobs`), so ``POST /match-runs`` answers
202 at once with the queued run; poll ``GET /match-runs/{id}`` until its status is
``succeeded``, ``failed`` or ``cancelled``.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine, select

from api import counterfactuals, jobs, panel_memory
from api.deps import MANAGERS, PANEL, Allowed, RecordId, SessionDep, get_engine
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.input_checks import TypedDate
from api.pagination import Limit, Offset, Page, page
from api.routes.decisions import refusals_as_errors
from matching.policy import Policy
from models.base import council_today
from models.db import transaction
from models.enums import DecisionKind, MatchRunStatus, Tier
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


# An id as the panel's records keep it: anything but ':' (it joins the pair in a code) and the
# control characters no id holds (api.input_checks).
PAIR_ID = r"^[^:\x00-\x1f\x7f-\x9f]+$"


class PairRef(BaseModel):
    referral_id: str = Field(min_length=1, max_length=40, pattern=PAIR_ID, examples=["R0002"])
    vacancy_id: str = Field(min_length=1, max_length=40, pattern=PAIR_ID, examples=["V0017"])


class PairGiven(PairRef):
    reason: str | None = Field(None, max_length=2000, description="Why (kept with the run and shown with the pair)",
                               examples=["She asked to stay near her college"])


class MatchRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "panel_date": "2026-11-23", "placing_authority": "E06000035",
        "policy": {"distance_cap_miles": 40}, "time_limit_seconds": 60,
        "locks": [{"referral_id": "R0002", "vacancy_id": "V0017"}], "bans": [],
    }]})

    panel_date: TypedDate | None = Field(None, description="The panel's date (1950-2099); default today")
    placing_authority: str | None = Field(
        None, pattern=r"^[EWSN]\d{8}$", description="ONS code of the placing council; default the configured one",
        examples=["E06000035"])
    policy: Policy = Field(
        default_factory=Policy,
        description="Changes to the panel policy (matching/policy.yaml); every key is optional and the rest "
                    "keep their defaults", examples=[{"distance_cap_miles": 40, "weekly_budget_cap": 60000}])
    time_limit_seconds: float | None = Field(None, ge=1, le=MAX_TIME_LIMIT,
                                             description="Seconds the solver may take (default: the policy's)")
    locks: list[PairGiven] = Field([], max_length=2000, description="Placements the proposal must include")
    bans: list[PairGiven] = Field([], max_length=2000, description="Placements the proposal must not include")
    rerun_of: int | None = Field(
        None, description="Re-run after the panel's decisions on this run: the locks and bans it was given (which "
                          "include those of the runs it re-ran), the locks and bans recorded on it, and every "
                          "proposal rejected on it (as a ban) are added to these, less what the panel lifted on it. "
                          "A request that contradicts what is carried is refused (409): lift it first",
        examples=[12])


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
    why_not: str | None = Field(None, description="An alternative's reason, in words, for not being the proposal "
                                                  "(a bed another young person holds, a rule of the whole "
                                                  "proposal it breaks, or what makes it worse)",
                                examples=["held by R0005 in this proposal"])
    held_by: list[str] = Field([], description="The young people whose proposal uses an alternative's bed")
    why: str | None = Field(None, description="A proposal's reason, in a sentence a panel can read out: what the "
                                              "home offers, where it is, and why nearer homes were not chosen",
                            examples=["Rainham flat (supported tenancy) offers the support assessed, in the "
                                      "council's area: 1.4 miles from home. It is the nearest of the 4 homes "
                                      "listed for them."])

    @model_validator(mode="before")
    @classmethod
    def _words_apart(cls, value):
        """The stored score keeps the words (a proposal's why, an alternative's why not) beside its
        figures: split them out."""
        score = dict((value.get("score") if isinstance(value, dict) else getattr(value, "score", None)) or {})
        if not isinstance(value, dict):
            value = {name: getattr(value, name) for name in cls.model_fields if hasattr(value, name)}
        why_not, held_by, why = score.pop("why_not", None), score.pop("held_by", ""), score.pop("why", None)
        return {**value, "score": score, "why_not": why_not or None, "why": why or None,
                "held_by": [h for h in (held_by or "").split(";") if h]}


class CarriedPublic(BaseModel):
    """A lock, ban or rejection a run was given, with who set it, on which run, when and why; or a
    lift the panel made before the run, with what it lifted."""

    kind: DecisionKind = Field(description="lock, ban, reject (a proposal the panel rejected: kept out as a ban) "
                                           "or lift", examples=[DecisionKind.reject])
    referral_id: str = Field(examples=["R0002"])
    vacancy_id: str = Field(examples=["V0017"])
    run_id: int | None = Field(description="The match run it was set on", examples=[12])
    decision_id: int | None = Field(description="The panel's decision; none when given in a run's request")
    set_by: str | None = Field(description="Who set it (their name then)", examples=["Pat Panel"])
    set_by_role: str | None = Field(examples=["panel member"])
    set_at: dt.datetime | None
    reason: str | None = Field(examples=["The provider could not meet her mental health needs"])
    words: str = Field(description="The same, in a sentence", examples=[
        "R0002's proposal of V0017 rejected by Pat Panel (panel member) on match run 12 (23 November 2026), so it "
        "is kept out of later runs. Reason: The provider could not meet her mental health needs."])
    lifted: CarriedPublic | None = Field(None, description="For a lift: what it lifted")


def carried_public(item: panel_memory.Carried) -> CarriedPublic:
    return CarriedPublic(
        kind=item.kind, referral_id=item.referral_id, vacancy_id=item.vacancy_id, run_id=item.run_id,
        decision_id=item.decision_id, set_by=item.set_by, set_by_role=item.set_by_role, set_at=item.set_at,
        reason=item.reason, words=item.words(), lifted=carried_public(item.lifted) if item.lifted else None)


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
    rerun_of_id: int | None = Field(description="The match run this one re-ran", examples=[11])
    carried: list[CarriedPublic] = Field(description="Each of the locks and bans with who set it and why")
    lifted: list[CarriedPublic] = Field(description="What the panel lifted on the run this one re-ran")
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
    nearest_miss: str = Field("", description="The one change that would place them, in a sentence (a bed, a rule "
                                              "a panel may set aside, the panel's own lock or ban, a side "
                                              "constraint), or \"No single change would place them\" and why",
                              examples=[("One more bed at home P056 (vacancy V0042, now taken by R0013) would "
                                         "place them, and no one else would move")])
    nearest_miss_kind: str = Field("", description="bed, rule, panel, side constraint or none (empty for a run "
                                                   "recorded before nearest misses)", examples=["bed"])
    nearest_miss_checked: str = Field("", description="yes: a re-run of the queue with the change backs it; no: "
                                                      "not checked by a re-run", examples=["yes"])
    providers_asked: str = Field("", description="When the referral was sent to providers: how many offered, "
                                                 "declined (with their reasons) or did not answer",
                                 examples=["Sent to 4 providers: 3 declined (no free bed in time 2, cannot manage "
                                           "the risks 1); 1 did not answer by the deadline."])


# An id: no colon and, as in every parameter (api.input_checks), no control character.
ONE_ID = r"^[^:\x00-\x1f\x7f-\x9f]+$"
ReferralQuery = Annotated[str, Query(min_length=1, max_length=40, pattern=ONE_ID,
                                     description="The young person", examples=["R0002"])]
VacancyQuery = Annotated[str, Query(min_length=1, max_length=40, pattern=ONE_ID,
                                    description="The vacancy to give them", examples=["V0017"])]


class MovePublic(BaseModel):
    referral_id: str = Field(examples=["R0005"])
    from_vacancy_id: str = Field(examples=["V0017"])
    to_vacancy_id: str = Field(examples=["V0031"])


class WhatIfPublic(BaseModel):
    referral_id: str = Field(examples=["R0002"])
    vacancy_id: str = Field(examples=["V0017"])
    possible: bool = Field(description="False: no proposal can give them that vacancy (reason says why)")
    reason: str = Field(description="Why it is not possible; empty when it is",
                        examples=["lock R0002 -> V0017 breaks the home is for the other sex"])
    moved: list[MovePublic] = Field(description="Young people placed elsewhere than in the run's proposal")
    lose_placement: list[str] = Field(description="Placed in the proposal, not with this change")
    gain_placement: list[str] = Field(description="Placed with this change, not in the proposal")
    change: dict[str, int] = Field(
        description="Each headline measure after the change minus before: young_people, placed (weighted by "
                    "urgency), over_20_miles, at_a_distance, out_of_area, total_miles (tenths of a mile), "
                    "weekly_cost (pounds)", examples=[{"young_people": 0, "total_miles": 34, "weekly_cost": -1145}])
    words: str = Field(description="The same, in a sentence", examples=[
        "Giving V0017 to R0002: R0005 would move to another home; 3.4 more total miles from home."])
    same_as_run: bool = Field(description="False when the vacancies have changed since the run, so the queue "
                                          "rebuilt now is proposed differently from the run's own proposal")


def detail(session, run: MatchRun) -> MatchRunDetail:
    ranked = sorted(run.proposals, key=lambda p: (p.referral_id, p.rank))
    fields = {name: getattr(run, name) for name in MatchRunDetail.model_fields
              if name not in ("proposals", "alternatives", "carried", "lifted")}
    return MatchRunDetail.model_validate(fields | {
        "carried": [carried_public(c) for c in panel_memory.given_to(session, run)],
        "lifted": [carried_public(c) for c in panel_memory.lifted_before(run)],
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
    """With ``rerun_of``, the new run is given the panel's memory of that run (see the field);
    ``GET /match-runs/{id}`` shows, for each lock and ban, who set it and why."""
    council = user.council_code
    if body.placing_authority not in (None, council):
        raise ApiError(422, "the request is not valid: see fields", fields=[
            ("body.placing_authority", f"you place for your own council only ({council})")])
    with transaction(engine, user) as session, refusals_as_errors():
        memory = panel_memory.memory_for_new_run(
            session, user, body.rerun_of,
            [(p.referral_id, p.vacancy_id, p.reason) for p in body.locks],
            [(p.referral_id, p.vacancy_id, p.reason) for p in body.bans])
    run = jobs.submit(
        engine, actor=user, panel_date=body.panel_date or council_today(),
        placing_authority=council,
        policy=_effective_policy(body), locks=memory.locks, bans=memory.bans,
    )
    # The worker reads only the pairs; who set each and why is written beside them.
    with transaction(engine, user) as session:
        panel_memory.remember(session, user, run.id, body.rerun_of, memory)
    response.headers["Location"] = f"/match-runs/{run.id}"
    return MatchRunSummary.model_validate(run, from_attributes=True)


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
    return detail(session, _run(session, run_id))


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


@router.get("/{run_id}/what-if", response_model=WhatIfPublic,
            summary="What giving a young person another home would do: the run's queue re-run with that pair locked")
def what_if(run_id: RecordId, session: SessionDep, _: Reader, referral_id: ReferralQuery, vacancy_id: VacancyQuery):
    """The counterfactual behind an alternative (matching.counterfactual): the run's young people,
    against the vacancies as they are now, solved with the run's policy, locks and bans, then
    again with the young person locked to the vacancy: who else moves, who loses a placement,
    and what happens to placements, miles and weekly cost. Answered while you wait (both solves
    take about a second each at panel size); a queue above 25,000 eligible pairs is refused (409)."""
    run = _run(session, run_id)
    with refusals_as_errors():
        answer = counterfactuals.what_if_for_run(session, run, referral_id, vacancy_id)
    cf = answer.counterfactual
    return WhatIfPublic(
        referral_id=cf.referral_id, vacancy_id=cf.vacancy_id, possible=cf.possible, reason=cf.reason,
        moved=[MovePublic(referral_id=r, from_vacancy_id=a, to_vacancy_id=b) for r, a, b in cf.moved],
        lose_placement=cf.lose_placement, gain_placement=cf.gain_placement,
        change={k: int(v) for k, v in cf.change.items()}, words=cf.words(),
        same_as_run=answer.same_as_run)


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
