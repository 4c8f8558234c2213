"""What a page loads besides its HTML, with the page's session cookie: a match run's status for
the run page's live view (static/placematch.js), the forecast's fan chart, the tender comparison
chart and the audit log's CSV download.

The JSON API takes bearer tokens only (api.deps), so the pages read through routes of their own.
Each answers exactly what its API twin answers (it calls the same function), for the same roles.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy import select

from api.deps import AUDITORS, COMMISSIONING, MANAGERS, PANEL, RecordId, SessionDep
from api.pages.core import PageAllowed, not_found_page
from api.routes import audit, forecast, tender
from api.routes.match_runs import MatchRunSummary
from models.panel import MatchRun
from models.plans import ScenarioResult

router = APIRouter(include_in_schema=False)
RunReader = PageAllowed(*dict.fromkeys(PANEL + MANAGERS))  # as the run page and GET /match-runs/{id}
PlanReader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))  # as the forecast and tender pages
Auditor = PageAllowed(*AUDITORS)  # as the audit page and GET /audit-events


@router.get("/panel/runs/{run_id}/status", response_model=MatchRunSummary)
def run_status(request: Request, run_id: RecordId, session: SessionDep, user: RunReader):
    """The run without its proposals (GET /match-runs/{id}'s summary), polled while it runs."""
    run = session.get(MatchRun, run_id)
    if run is None:
        return not_found_page(request, user, f"match run {run_id}")
    return MatchRunSummary.model_validate(run, from_attributes=True)


@router.get("/forecast-page/fan-chart.png")
def fan_chart(session: SessionDep, user: PlanReader, horizon: forecast.Horizon = 5,
              scenario: forecast.ScenarioName = None):
    """The figures of GET /forecast/fan-chart.png, drawn in the page's words (labelled axes,
    dates, the ranges named by their chances: scenarios.forecast_chart)."""
    import tempfile
    from pathlib import Path

    from fastapi.responses import Response

    from scenarios.forecast_chart import fan_chart as chart

    result = forecast.current_forecast(session, horizon, scenario)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fan_chart.png"
        chart(result, path)
        return Response(path.read_bytes(), media_type="image/png")


@router.get("/tender-page/compare.png")
def comparison_chart(session: SessionDep, user: PlanReader,
                     ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Query(min_length=1, max_length=8)],
                     baseline: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None):
    """As GET /scenario-results/compare.png (the same results, 404 / 409 alike), drawn as the
    page's table reads: the baseline first, each year as the date it ends (from the day each
    run started)."""
    import tempfile
    from pathlib import Path

    from fastapi.responses import Response

    from scenarios.tender_run import chart

    results = tender.saved_results(session, list(dict.fromkeys(ids)))
    rows = {r.id: r for r in session.scalars(select(ScenarioResult).where(ScenarioResult.id.in_(ids)))}
    order = sorted(results, key=lambda name: (int(name.split(":", 1)[0]) != baseline, int(name.split(":", 1)[0])))
    starts = {name: rows[int(name.split(":", 1)[0])].created_at.date() for name in order}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compare.png"
        chart({name: results[name] for name in order}, path, starts=starts)
        return Response(path.read_bytes(), media_type="image/png")


@router.get("/audit/export.csv")
def audit_export(session: SessionDep, user: Auditor, entity_type: str | None = None, entity_id: str | None = None,
                 actor: str | None = None, action: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None):
    """As GET /audit-events/export.csv (the audit page's filters, the same query)."""
    return audit.export_events(session, user, entity_type, entity_id, actor, action, since, until)
