"""The commissioner's tender scenarios page: run a scenario file against the market, and
compare saved results side by side (table and chart)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import select

from api.deps import COMMISSIONING, MANAGERS, SessionDep
from api.errors import ApiError
from api.pages.core import PageAllowed, back_to, render
from api.routes.tender import ScenarioFile, saved_results, start_scenario_run
from models.plans import ScenarioResult

router = APIRouter(include_in_schema=False)
Reader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = PageAllowed(*COMMISSIONING)
EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"


@router.get("/tender-page")
def tender_page(request: Request, session: SessionDep, user: Reader,
                ids: Annotated[list[int], Query()] = []):  # noqa: B006 (FastAPI reads the default)
    from scenarios.tender_run import comparison

    results = session.scalars(select(ScenarioResult).order_by(ScenarioResult.id.desc()).limit(50)).all()
    compared, problem = None, None
    ids = [i for i in ids if 1 <= i <= 2**31 - 1][:8]
    if ids:
        try:
            compared = comparison(saved_results(session, ids))
        except ApiError as exc:
            problem = exc.message
    examples = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))}
    return render(request, "tender.html", user, results=results, ids=ids, compared=compared,
                  chart=f"/tender-page/compare.png?{urlencode([('ids', i) for i in ids])}" if compared is not None else None,
                  compare_problem=problem, can_run=user.role in COMMISSIONING, examples=examples,
                  example=examples.get("baseline.yaml", ""))


@router.post("/tender-page/runs")
def run_form(request: Request, session: SessionDep, user: Commissioner,
             scenario_yaml: Annotated[str, Form()] = "", file_name: Annotated[str, Form()] = "scenario.yaml"):
    try:
        body = ScenarioFile(yaml=scenario_yaml or " ", file_name=(file_name or "scenario.yaml")[:200])
        row = start_scenario_run(session, body, user)
    except ApiError as exc:
        details = "; ".join(f"{f.path.replace('body.yaml:', '')}: {f.message}" for f in exc.fields)
        return back_to("/tender-page", problem=f"Not run: {exc.message}" + (f" ({details})" if details else ""))
    except ValueError as exc:
        return back_to("/tender-page", problem=f"Not run: {exc}")
    return back_to("/tender-page", done=f"Started '{row.name}' (result {row.id}); reload in a moment to see it finish")
