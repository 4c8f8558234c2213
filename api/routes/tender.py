"""Tender scenarios over the service: check a scenario file against the market, run it (in the
background: a five-year run with 100 replications takes a quarter of a minute), and read and
compare the saved results. Results hold counts and money, no young person's details, so
managers read them; commissioners (and heads of service) check and run scenarios.

A run started here works in the background (api.scenario_runs, as one started from the
commissioner's page): ``GET /scenario-results/{id}`` shows how far it has gone from any process
of the service, ``POST /scenario-results/{id}/cancel`` stops it within one replication, and a
run whose process died is failed with the reason, never left running.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Optional

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from api import scenario_runs
from api.deps import COMMISSIONING, MANAGERS, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from models.base import council_today
from models.db import transaction
from models.plans import ScenarioResult
from providers.limits import MAX_ERRORS_SHOWN, MAX_YAML_CHARS

router = APIRouter(tags=["tender scenarios"], responses=ERROR_RESPONSES)
Reader = Allowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = Allowed(*COMMISSIONING)
log = logging.getLogger("placematch.tender")


def on_startup(engine: Engine) -> None:
    with transaction(engine) as session:
        scenario_runs.fail_silent(session)


def on_shutdown(engine: Engine) -> None:
    scenario_runs.stop_here(engine)


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "yaml": "name: Prices up 6%\nhorizon_years: 5\nreplications: 100\nseed: 2026\n"
                "supply:\n  price_changes:\n    - percent: 6\n"}]})

    yaml: str = Field(min_length=1, max_length=MAX_YAML_CHARS, description="The scenario file (see scenarios/tender.py)")
    # No control characters: the name is shown in every problem and kept with the result.
    file_name: str = Field(default="scenario.yaml", min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")


class MarketRow(BaseModel):
    service_type: str
    homes: int
    beds: int
    free_beds: int
    block_beds: int


class Checked(BaseModel):
    name: str
    horizon_years: int
    replications: int
    seed: int
    homes: int
    beds: int
    market: list[MarketRow]


class Progress(BaseModel):
    stage: str = Field(description="preparing (reading the returns, the market and the demand) or simulating")
    replications_done: int
    replications: int
    months_done: int
    months: int
    seconds_left: Optional[float] = Field(description="null until the first replications have been timed")
    text: str = Field(description="The same, in a sentence")


class ResultSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    file_name: str
    status: str
    error: Optional[str]
    seed: int
    replications: int
    months: int
    code_version: str
    seconds: float
    created_at: dt.datetime
    progress: Optional[Progress] = Field(None, description="How far a running scenario has gone (null once finished)")


def summary(row: ScenarioResult, model: type[BaseModel] | None = None):
    """The answer for a saved result, with the progress of a running one."""
    progress = scenario_runs.status(row)
    return (model or ResultSummary).model_validate(row).model_copy(
        update={"progress": Progress(**progress) if progress else None})


class Kpi(BaseModel):
    year: int
    kpi: str
    median: Optional[float]
    p10: Optional[float]
    p90: Optional[float]


class ResultDetail(ResultSummary):
    file_text: str
    file_sha256: str
    kpis: list[Kpi]


def _market(session, body: ScenarioFile):
    """(scenario, the market it leaves), or 422 naming each problem's line and key."""
    from scenarios.award_options import tenders_from
    from scenarios.tender import (
        TenderFileError,
        apply,
        parse_scenario,
        supply_from_database,
    )

    try:
        # Read from the text itself, bounded (providers.safe_yaml): never written to disk first.
        name = Path(body.file_name).name or "scenario.yaml"
        scenario = parse_scenario(body.yaml, name)
        supply = apply(scenario, supply_from_database(session, council_today()), file=name,
                       tenders=tenders_from(session))
    except TenderFileError as exc:
        raise ApiError(422, f"{len(exc.problems)} problem(s) in the scenario file",
                       fields=[(f"body.yaml:line {p.line}" if p.line else "body.yaml",
                                f"{p.where}: {p.reason}" if p.where else p.reason)
                               for p in exc.problems[:MAX_ERRORS_SHOWN]]) from None
    return scenario, supply


@router.post("/scenario-checks", response_model=Checked,
             summary="Check a tender scenario file against the market (nothing is run or saved)")
def check_scenario(body: ScenarioFile, session: SessionDep, _: Commissioner):
    from scenarios.tender import summary

    scenario, supply = _market(session, body)
    frame = summary(supply).reset_index()
    return Checked(name=scenario.name, horizon_years=scenario.horizon_years, replications=scenario.replications,
                   seed=scenario.seed, homes=len(supply), beds=int(supply["beds"].sum()),
                   market=[MarketRow(service_type=r["service_type"], homes=int(r["homes"]), beds=int(r["beds"]),
                                     free_beds=int(r["free beds"]), block_beds=int(r["block beds"]))
                           for r in frame.to_dict("records")])


@router.post("/scenario-results", response_model=ResultSummary, status_code=202,
             summary="Run a tender scenario in the background (202: poll GET /scenario-results/{id})")
def start_run(body: ScenarioFile, session: SessionDep, user: Commissioner):
    scenario, supply = _market(session, body)
    row = scenario_runs.start(session, scenario, supply, user, text=body.yaml, file_name=body.file_name)
    return summary(row)


@router.post("/scenario-results/{result_id}/cancel", response_model=ResultSummary,
             summary="Cancel a running tender scenario (it stops within one replication; nothing is kept)")
def cancel_run(result_id: RecordId, session: SessionDep, user: Commissioner):
    row = session.get(ScenarioResult, result_id)
    if row is None:
        raise not_found("scenario result", result_id)
    if not scenario_runs.cancel(session, result_id, user):
        raise ApiError(409, f"scenario result {result_id} has finished ({row.status}): "
                            "only a running scenario can be cancelled")
    return summary(row)


@router.get("/scenario-results", response_model=list[ResultSummary], summary="Saved tender scenario results, newest first")
def list_results(session: SessionDep, _: Reader, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    scenario_runs.fail_silent(session)
    rows = session.scalars(select(ScenarioResult).order_by(ScenarioResult.id.desc()).limit(limit))
    return [summary(r) for r in rows]


@router.get("/scenario-results/compare.png", summary="Chart of saved results side by side (PNG)",
            responses={200: {"content": {"image/png": {}}, "description": "The chart"}}, response_class=Response)
def compare_chart(session: SessionDep, _: Reader,
                  ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                   Query(min_length=1, max_length=8, description="Result ids")]):
    from scenarios.tender_run import chart

    results = saved_results(session, ids)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compare.png"
        chart(results, path)
        return Response(path.read_bytes(), media_type="image/png")


@router.get("/scenario-results/{result_id}", response_model=ResultDetail, summary="One saved result with its KPIs")
def get_result(result_id: RecordId, session: SessionDep, _: Reader):
    scenario_runs.fail_silent(session)
    row = session.get(ScenarioResult, result_id)
    if row is None:
        raise not_found("scenario result", result_id)
    return summary(row, ResultDetail)


def _succeeded(session, ids: list[int]) -> list[ScenarioResult]:
    rows = {r.id: r for r in session.scalars(select(ScenarioResult).where(ScenarioResult.id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise not_found("scenario result", missing[0])
    unfinished = [i for i in ids if rows[i].status != "succeeded"]
    if unfinished:
        raise ApiError(409, f"scenario result {unfinished[0]} has no KPIs ({rows[unfinished[0]].status})")
    return [rows[i] for i in ids]


class _Saved:
    """A saved result in the shape scenarios.tender_run's chart and comparison read."""

    def __init__(self, row: ScenarioResult) -> None:
        import pandas as pd

        self.years = pd.DataFrame(row.kpis, columns=["year", "kpi", "median", "p10", "p90"])


def saved_results(session, ids: list[int]) -> dict:
    """{"id: name": result} for saved, succeeded results (404 / 409 otherwise), as
    scenarios.tender_run's comparison and chart read them."""
    return {f"{r.id}: {r.name}": _Saved(r) for r in _succeeded(session, ids)}

