"""The commissioner's tender scenarios page: build a scenario with a form (or write its file),
check it against the market, run it and watch it (replications done, months simulated, time
left; cancel), and compare saved results side by side with the change against a baseline.

The builder writes the scenario file for the commissioner (scenarios.tender_form) and checks it
exactly as a file written by hand is checked, so both are refused for the same reasons, in the
same words. A form with problems is drawn again (422) with everything typed kept, a summary at
the top linking to each field and each message beside its field; nothing is saved or run.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api import scenario_runs
from api.deps import COMMISSIONING, MANAGERS, RecordId, SessionDep
from api.pages.core import PageAllowed, back_to, not_found_page, render
from api.pages.field_errors import FieldErrors
from models.base import council_today
from models.glossary import SCENARIO_STATUSES, SERVICE_TYPES, TIERS
from models.plans import ScenarioResult
from providers.limits import MAX_ERRORS_SHOWN, MAX_YAML_CHARS
from scenarios import tender_form
from scenarios.what_if import visible_scenarios

router = APIRouter(include_in_schema=False)
Reader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = PageAllowed(*COMMISSIONING)
EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"
MAX_COMPARED = 8
STATUS_WORDS = SCENARIO_STATUSES
STATUS_TAGS = {"running": "yellow", "succeeded": "green", "failed": "red", "cancelled": "grey"}
INTERRUPTED_WORDS = "The service stopped while it ran: run it again."


# --- the market the builder offers ------------------------------------------------------------


def _market(session):
    """Today's supply (scenarios.tender), its providers [(id, name)] and lots ["framework: lot"]
    as the scenario file names them, and the saved forecast scenarios' names."""
    from models.supply import Provider
    from scenarios.tender import supply_from_database

    supply = supply_from_database(session, council_today())
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    providers = sorted(((p, names.get(p, p)) for p in set(supply["provider_id"])), key=lambda x: (x[1], x[0]))
    lots = sorted({lot for lot in supply["lot"] if lot})
    forecasts = [s.name for s in visible_scenarios(session)]
    return supply, providers, lots, list(forecasts)


def _examples() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))}


# --- comparing saved results ------------------------------------------------------------------


class _Saved:
    def __init__(self, row: ScenarioResult) -> None:
        import pandas as pd

        self.years = pd.DataFrame(row.kpis, columns=["year", "kpi", "median", "p10", "p90"])


def _comparison(session, ids: list[int], baseline: int | None, year: int | None):
    """The rows compared, the baseline's id, the table (scenarios.tender_run.compare), the years
    they share, and a problem in words (or None)."""
    from models.glossary import SCENARIO_MEASURES
    from scenarios.tender_run import compare

    rows = {r.id: r for r in session.scalars(select(ScenarioResult).where(ScenarioResult.id.in_([i for i in ids if i])))}
    missing = [i for i in ids if i not in rows]
    unfinished = [rows[i] for i in ids if i in rows and rows[i].status != "succeeded"]
    if missing:
        return None, None, None, [], "One of the results to compare no longer exists: tick them again."
    if unfinished:
        return None, None, None, [], (f"'{unfinished[0].name}' has no figures to compare: it is "
                                      f"{STATUS_WORDS.get(unfinished[0].status, 'not finished').lower()}.")
    chosen = [rows[i] for i in ids]
    if baseline not in rows:
        named = [r for r in chosen if r.name.lower().startswith("baseline")]
        baseline = (named[0] if named else min(chosen, key=lambda r: r.id)).id
    chosen.sort(key=lambda r: (r.id != baseline, r.id))
    results = {_column(r): _Saved(r) for r in chosen}
    years = sorted(set.intersection(*({int(y) for y in s.years["year"]} for s in results.values()))) \
        if results else []
    if year not in years:
        year = years[-1] if years else None
    table = compare(results, _column(rows[baseline]), year, labels=SCENARIO_MEASURES)
    return chosen, baseline, {"rows": table, "year": year}, years, None


def _column(row: ScenarioResult) -> str:
    return f"{row.id}: {row.name}"


def _run_dates(row: ScenarioResult, year: int | None) -> str:
    """The dates of a run's ``year``, as words: "24 Nov 2030 to 23 Nov 2031"."""
    from scenarios.tender_run import year_ends

    if year is None or row.created_at is None:
        return ""
    start = row.created_at.date()
    first = year_ends(start, year - 1) + dt.timedelta(days=1) if year > 1 else start
    return f"{first:%-d %b %Y} to {year_ends(start, year):%-d %b %Y}"


# --- the page ---------------------------------------------------------------------------------


def _page(request: Request, session, user, *, status_code: int = 200, form: dict | None = None,
          errors: FieldErrors | None = None, which: str | None = None, yaml_text: str | None = None,
          file_name: str = "scenario.yaml", checked: dict | None = None, ids=(), baseline: int | None = None,
          year: int | None = None, market=None):
    scenario_runs.fail_silent(session)
    results = session.scalars(select(ScenarioResult).order_by(ScenarioResult.id.desc()).limit(50)).all()
    compared = None
    ids = list(dict.fromkeys(ids))[:MAX_COMPARED]
    if ids:
        chosen, baseline, table, years, problem = _comparison(session, ids, baseline, year)
        compared = {"results": chosen, "baseline": baseline, "table": table, "years": years, "problem": problem,
                    "chart": f"/tender-page/compare.png?{urlencode([('ids', i) for i in ids])}"
                             + (f"&baseline={baseline}" if baseline else "")}
        if table is not None:
            compared["dates"] = {_column(r): _run_dates(r, table["year"]) for r in chosen}
    can_run = user.role in COMMISSIONING
    providers, lots, forecasts = [], [], []
    if can_run:
        _supply, providers, lots, forecasts = market or _market(session)
    progress = {r.id: scenario_runs.status(r) for r in results if r.status == "running"}
    examples = _examples()
    return render(request, "tender.html", user, status_code=status_code, results=results, ids=ids,
                  compared=compared, can_run=can_run, examples=examples,
                  yaml_text=yaml_text if yaml_text is not None else examples.get("baseline.yaml", ""),
                  file_name=file_name, form=form or tender_form.blank_form(), errors=errors or FieldErrors(),
                  which=which, checked=checked, providers=providers, lots=lots, forecasts=forecasts,
                  tiers=TIERS, service_types=SERVICE_TYPES, status_words=STATUS_WORDS, status_tags=STATUS_TAGS,
                  progress=progress, failure=failure_words, max_yaml=MAX_YAML_CHARS)


def _record_id(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= 2**31 - 1 else None


@router.get("/tender-page")
def tender_page(request: Request, session: SessionDep, user: Reader,
                ids: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI reads the default)
                baseline: str = "", year: str = ""):
    """Read as typed, never refused with JSON: an id that names no result is said to be missing
    in words (0 never names one), and a baseline or year that cannot be used is left to its default."""
    wanted = [_record_id(i.strip()) or 0 for i in ids[:MAX_COMPARED * 2]]
    chosen_year = int(year) if year.strip().isdigit() and 1 <= int(year) <= 10 else None
    return _page(request, session, user, ids=wanted, baseline=_record_id(baseline.strip()), year=chosen_year)


def failure_words(row: ScenarioResult) -> str:
    """Why a run did not finish, for the page: without the exception's class name."""
    if row.status == "cancelled":
        return (row.error or "Cancelled") + "."
    if row.error == scenario_runs.INTERRUPTED:
        return INTERRUPTED_WORDS
    reason = re.sub(r"^[A-Za-z_.]+(Error|Exception): ", "", row.error or "").strip()
    return f"It stopped with a problem: {reason}" if reason else "It stopped with a problem."


def _checked(scenario, supply, before, text: str, file_name: str, providers=()) -> dict:
    """What the check found: the file, what it changes in words, and the market the scenario
    leaves against today's."""
    return {"yaml": text, "file_name": file_name, "name": scenario.name, "years": scenario.horizon_years,
            "changes": tender_form.describe(scenario, dict(providers)),
            "replications": scenario.replications, "homes_before": len(before), "beds_before": int(before["beds"].sum()),
            "homes": len(supply), "beds": int(supply["beds"].sum()),
            "block_beds": int(supply.loc[supply["block"], "beds"].sum())}


def _check_or_refuse(session, text: str, file_name: str, market, *, built: dict | None):
    """(scenario, supply) or (None, FieldErrors): the same check for the builder and the file."""
    from scenarios.award_options import tenders_from
    from scenarios.tender import TenderFileError

    supply, _providers, _lots, forecasts = market
    try:
        return tender_form.check(text, file_name, supply, forecasts, tenders=tenders_from(session)), None
    except TenderFileError as exc:
        said = tender_form.in_words(exc.problems[:MAX_ERRORS_SHOWN], text=None if built else text, built=built)
        return None, FieldErrors((s.field, s.message) for s in said)


@router.post("/tender-page/build")
def build_form(request: Request, session: SessionDep, user: Commissioner,
               name: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
               horizon_years: Annotated[str, Form()] = "", replications: Annotated[str, Form()] = "",
               seed: Annotated[str, Form()] = "",
               block_name: Annotated[str, Form()] = "", block_beds: Annotated[str, Form()] = "",
               block_tier: Annotated[str, Form()] = "", block_service_type: Annotated[str, Form()] = "",
               block_postcode: Annotated[str, Form()] = "", block_weekly_price: Annotated[str, Form()] = "",
               block_void_weekly_cost: Annotated[str, Form()] = "",
               remove_providers: Annotated[list[str], Form()] = [],  # noqa: B006
               remove_lots: Annotated[list[str], Form()] = [],  # noqa: B006
               price_standard: Annotated[str, Form()] = "", price_enhanced: Annotated[str, Form()] = "",
               price_intensive: Annotated[str, Form()] = "", step_down_speed: Annotated[str, Form()] = "",
               forecast_scenario: Annotated[str, Form()] = "", adjustments: Annotated[str, Form()] = "",
               action: Annotated[str, Form()] = "check"):
    """The builder: the form's fields -> the scenario file -> the same check as a file's; then
    shown (check) or run (run)."""
    form = {k: v for k, v in locals().items() if k in tender_form.FIELDS}
    built = tender_form.from_form(form)
    text = tender_form.yaml_text(built)
    file_name = "scenario-builder.yaml"
    market = _market(session)
    checked, errors = _check_or_refuse(session, text, file_name, market, built=built)
    if errors:
        return _page(request, session, user, status_code=422, form=form, errors=errors, which="build", market=market)
    scenario, supply = checked
    if action != "run":
        return _page(request, session, user, form=form, which="build", market=market, yaml_text=text,
                     file_name=file_name, checked=_checked(scenario, supply, market[0], text, file_name, market[1]))
    row = scenario_runs.start(session, scenario, supply, user, text=text, file_name=file_name)
    return back_to(f"/tender-page/runs/{row.id}", done=f"Started '{row.name}'")


@router.post("/tender-page/runs")
def run_form(request: Request, session: SessionDep, user: Commissioner,
             scenario_yaml: Annotated[str, Form()] = "", file_name: Annotated[str, Form()] = "scenario.yaml",
             action: Annotated[str, Form()] = "run"):
    """A scenario file typed or pasted (for those who write YAML): checked, then shown or run."""
    shown_name = Path(file_name.strip() or "scenario.yaml").name[:200] or "scenario.yaml"
    market = _market(session)
    errors = FieldErrors()
    if not scenario_yaml.strip():
        errors.add(tender_form.YAML_FIELD, "Enter the scenario file, or build a scenario with the form above")
    elif len(scenario_yaml) > MAX_YAML_CHARS:
        errors.add(tender_form.YAML_FIELD, f"The scenario file must be {MAX_YAML_CHARS:,} characters or fewer")
    else:
        checked, errors = _check_or_refuse(session, scenario_yaml, shown_name, market, built=None)
    if errors:
        return _page(request, session, user, status_code=422, errors=errors, which="yaml", yaml_text=scenario_yaml,
                     file_name=file_name, market=market)
    scenario, supply = checked
    if action == "check":
        return _page(request, session, user, which="yaml", yaml_text=scenario_yaml, file_name=file_name,
                     market=market, checked=_checked(scenario, supply, market[0], scenario_yaml, shown_name, market[1]))
    row = scenario_runs.start(session, scenario, supply, user, text=scenario_yaml, file_name=shown_name)
    return back_to(f"/tender-page/runs/{row.id}", done=f"Started '{row.name}'")


# --- one run ----------------------------------------------------------------------------------


def _status(session, row: ScenarioResult) -> dict:
    progress = scenario_runs.status(row)
    if row.status == "running":
        text = progress["text"]
    elif row.status == "succeeded":
        text = f"Finished in {row.seconds:,.0f} seconds."
    else:
        text = failure_words(row)
    return {"id": row.id, "status": row.status, "status_words": STATUS_WORDS.get(row.status, row.status),
            "finished": row.status != "running", **progress, "text": text}


@router.get("/tender-page/runs/{result_id}")
def run_page(request: Request, result_id: RecordId, session: SessionDep, user: Reader):
    from models.glossary import SCENARIO_MEASURES
    from scenarios.tender_run import compare

    row = session.get(ScenarioResult, result_id)
    if row is None:
        return not_found_page(request, user, f"tender scenario result {result_id}")
    table, baseline = None, None
    if row.status == "succeeded":
        table = compare({_column(row): _Saved(row)}, _column(row), labels=SCENARIO_MEASURES)
        baseline = session.scalar(select(ScenarioResult).where(
            ScenarioResult.status == "succeeded", ScenarioResult.id != row.id,
            ScenarioResult.name.ilike("baseline%")).order_by(ScenarioResult.id.desc()).limit(1))
    last_year = (row.months + 11) // 12
    return render(request, "tender_run.html", user, row=row, status=_status(session, row), table=table,
                  changes=_described(session, row),
                  baseline=baseline, can_run=user.role in COMMISSIONING, column=_column(row),
                  dates=_run_dates(row, last_year), last_year=last_year, status_tags=STATUS_TAGS)


def _described(session, row: ScenarioResult) -> list[str]:
    """What the run's file changes, in words (nothing if the file cannot be read today)."""
    from models.supply import Provider
    from scenarios.tender import TenderFileError, parse_scenario

    try:
        scenario = parse_scenario(row.file_text, row.file_name)
    except TenderFileError:
        return []
    names = dict(session.execute(select(Provider.id, Provider.name)
                                 .where(Provider.id.in_(scenario.supply.remove_providers))).all())
    return tender_form.describe(scenario, names)


@router.get("/tender-page/runs/{result_id}/status")
def run_status(request: Request, result_id: RecordId, session: SessionDep, user: Reader):
    """The run's status and progress, polled by the run page (static/placematch.js)."""
    scenario_runs.fail_silent(session)
    row = session.get(ScenarioResult, result_id)
    if row is None:
        return not_found_page(request, user, f"tender scenario result {result_id}")
    return JSONResponse(_status(session, row))


@router.post("/tender-page/runs/{result_id}/cancel")
def cancel_run(request: Request, result_id: RecordId, session: SessionDep, user: Commissioner):
    row = session.get(ScenarioResult, result_id)
    if row is None:
        return not_found_page(request, user, f"tender scenario result {result_id}")
    if not scenario_runs.cancel(session, result_id, user):
        return back_to(f"/tender-page/runs/{result_id}",
                       problem=f"Not cancelled: the run has already {STATUS_WORDS.get(row.status, row.status).lower()}")
    return back_to(f"/tender-page/runs/{result_id}", done=f"Cancelled '{row.name}'")
