"""The commissioner's forecast page: from the latest data date in the council's returns, the fan
chart, the beds needed by service type and tier in the final year with their ranges said in
words ("80 in 100 chances the number will be between..."), the notes on the data, and saving a
what-if scenario.

Bad input is refused the GOV.UK way, never clamped or turned into JSON: the page is drawn again
(422) with what was typed kept, a summary at the top linking to each field and the message
beside it. No message repeats what the address holds.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy import select

from api.deps import COMMISSIONING, MANAGERS, SessionDep
from api.errors import ApiError
from api.pages.core import PageAllowed, back_to, render
from api.pages.field_errors import FieldErrors
from api.routes.forecast import REPLICATIONS, current_forecast
from models.glossary import FORECAST_STATES, SERVICE_TYPES, TIERS
from models.plans import ForecastScenario
from scenarios.what_if import visible_scenarios

router = APIRouter(include_in_schema=False)
Reader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = PageAllowed(*COMMISSIONING)
STATE_NAMES = FORECAST_STATES
FIRST_YEAR, LAST_YEAR = 1, 10  # as the forecast allows (scenarios.forecast.check_horizon)
DEFAULT_YEARS = 5
NAME_LONGEST, DESCRIPTION_LONGEST = 80, 2000  # as PUT /forecast-scenarios takes them


def _years(typed: str, errors: FieldErrors) -> int | None:
    text = typed.strip()
    if not text:
        errors.add("horizon", f"Enter the years ahead, from {FIRST_YEAR} to {LAST_YEAR}")
    elif not re.fullmatch(r"\d{1,6}", text):
        errors.add("horizon", f"Enter the years ahead as a whole number from {FIRST_YEAR} to {LAST_YEAR}, like 5")
    elif not FIRST_YEAR <= int(text) <= LAST_YEAR:
        errors.add("horizon", f"The years ahead must be from {FIRST_YEAR} to {LAST_YEAR}")
    else:
        return int(text)
    return None


def _page(request: Request, session, user, *, horizon: int | None, scenario: str, typed_horizon: str,
          errors: FieldErrors | None = None, status_code: int = 200, saving: dict | None = None):
    """The page: the forecast for ``horizon`` years (none when the options were refused)."""
    scenarios = visible_scenarios(session)
    context = {"horizon": typed_horizon, "scenario": scenario, "scenarios": scenarios, "state_names": STATE_NAMES,
               "service_types": SERVICE_TYPES, "tiers": TIERS, "can_save": user.role in COMMISSIONING,
               "errors": errors or FieldErrors(), "saving": saving or {}, "replications": REPLICATIONS,
               "result": None, "unavailable": None}
    if horizon is not None:
        try:
            result = current_forecast(session, horizon, scenario or None)
        except ApiError as exc:  # the returns cannot be used: say so, with nothing to correct in the form
            context["unavailable"] = f"The forecast cannot be made: {exc.message}."
            return render(request, "forecast.html", user, status_code=503, **context)
        context |= _figures(result, horizon, scenario)
    return render(request, "forecast.html", user, status_code=status_code, **context)


def _figures(result, horizon: int, scenario: str) -> dict:
    last = result.dates[-1]
    beds = result.beds[result.beds["date"] == last].groupby(["service_type", "tier"], sort=False)[
        ["mean", "lo80", "hi80", "lo95", "hi95"]].sum().reset_index()
    first = result.beds[result.beds["date"] == result.dates[0]].groupby(["service_type", "tier"])["mean"].sum()
    beds["now"] = [float(first.get((s, t), 0.0)) for s, t in zip(beds["service_type"], beds["tier"])]
    people = result.people[result.people["date"] == last]
    people = people[(people["mean"] >= 0.5) | (people["hi95"] >= 1)]
    query = urlencode({"horizon": horizon, **({"scenario": scenario} if scenario else {})})
    rows = beds.to_dict("records")
    example = max(rows, key=lambda r: r["mean"]) if rows else None
    return {"result": result, "beds": rows, "people": people.to_dict("records"), "last": last,
            "chart": f"/forecast-page/fan-chart.png?{query}", "example": example, "years": horizon,
            "notes": [note_in_words(n) for n in result.notes]}


def note_in_words(note: str) -> str:
    """A note of the forecast's (scenarios.forecast, .ssda903) as a sentence for the page."""
    if (m := re.fullmatch(r"need mix: placematch database \((\d[\d,]*) placements\)", note)):
        return f"The mix of service types, support tiers and areas comes from this service's own {m[1]} placements."
    if note == "need mix: defaults":
        return ("The mix of service types, support tiers and areas is the documented default: this service has "
                "no placements to take it from yet.")
    if (m := re.fullmatch(r"([\d,]+) moves of ([\d,]+) young people between (\d+) census dates", note)):
        return (f"The rates are read from {m[1]} moves of {m[2]} young people between {m[3]} census dates "
                "(31 March each year) in the returns.")
    if (m := re.fullmatch(r"left out (\d+) episodes of (\d+) children with no header row", note)):
        return f"{m[1]} episodes of {m[2]} children were left out: the returns have no header row for them."
    if (m := re.fullmatch(r"trimmed (\d+) overlapping episodes to end when the next starts", note)):
        return f"{m[1]} episodes that overlapped the next were shortened to end when the next one starts."
    return note[:1].upper() + note[1:]


@router.get("/forecast-page")
def forecast_page(request: Request, session: SessionDep, user: Reader, horizon: str = str(DEFAULT_YEARS),
                  scenario: str = ""):
    errors = FieldErrors()
    years = _years(horizon, errors)
    if scenario and session.scalar(select(ForecastScenario.id).where(ForecastScenario.name == scenario)) is None:
        errors.add("scenario", "Choose one of the saved scenarios, or the forecast as observed")
    if errors:
        return _page(request, session, user, horizon=None, scenario="", typed_horizon=horizon, errors=errors,
                     status_code=422)
    return _page(request, session, user, horizon=years, scenario=scenario, typed_horizon=str(years))


@router.post("/forecast-page/scenarios")
def save_scenario_form(request: Request, session: SessionDep, user: Commissioner,
                       name: Annotated[str, Form()] = "", adjustments: Annotated[str, Form()] = "",
                       continue_to_25_share: Annotated[str, Form()] = "", description: Annotated[str, Form()] = ""):
    from scenarios.tender_form import what_if_in_words
    from scenarios.what_if import WhatIfError, parse_adjustment, save_scenario

    typed = {"name": name, "adjustments": adjustments, "continue_to_25_share": continue_to_25_share,
             "description": description}
    errors = FieldErrors()
    if not name.strip():
        errors.add("scenario-name", "Enter a name for the what-if scenario")
    elif len(name.strip()) > NAME_LONGEST:
        errors.add("scenario-name", f"The name must be {NAME_LONGEST} characters or fewer")
    lines = [line.strip() for line in adjustments.splitlines() if line.strip()]
    for k, line in enumerate(lines, start=1):
        try:
            parse_adjustment(line)
        except WhatIfError as exc:
            errors.add("scenario-adjustments", what_if_in_words(f"Line {k} of the changes", str(exc)))
    rules = {}
    if continue_to_25_share.strip():
        try:
            share = float(continue_to_25_share.strip())
        except ValueError:
            share = None
        if share is None or not 0 <= share <= 1:
            errors.add("scenario-continue", "Enter the share as a number from 0 to 1, like 0.35")
        else:
            rules["continue_to_25_share"] = share
    if len(description) > DESCRIPTION_LONGEST:
        errors.add("scenario-description", f"The reason must be {DESCRIPTION_LONGEST:,} characters or fewer")
    if not errors:
        try:
            save_scenario(session, name, lines, rules, user, description.strip() or None)
        except WhatIfError:  # checked above: a rule the model cannot take
            errors.add("scenario-continue", "Enter the share as a number from 0 to 1, like 0.35")
    if errors:
        return _page(request, session, user, horizon=DEFAULT_YEARS, scenario="", typed_horizon=str(DEFAULT_YEARS),
                     errors=errors, status_code=422, saving=typed)
    return back_to(f"/forecast-page?{urlencode({'scenario': name.strip()})}",
                   done=f"Saved the scenario '{name.strip()}'")
