"""The commissioner's forecast page: the fan chart, the beds needed by service type and tier in
the final year with their intervals, the notes on the data, and saving a what-if scenario."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy import select

from api.errors import ApiError
from api.pages.core import PageAllowed, back_to, render
from api.deps import COMMISSIONING, MANAGERS, SessionDep
from api.routes.forecast import current_forecast
from models.plans import ForecastScenario

router = APIRouter(include_in_schema=False)
Reader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = PageAllowed(*COMMISSIONING)
STATE_NAMES = {
    "la_fostering": "Looked after: fostering", "la_residential": "Looked after: residential",
    "la_supported": "Looked after: supported accommodation", "la_other": "Looked after: other",
    "staying_put": "Staying Put", "care_leaver": "Care leaver",
}


@router.get("/forecast-page")
def forecast_page(request: Request, session: SessionDep, user: Reader, horizon: int = 5, scenario: str = ""):
    horizon = min(10, max(1, horizon))
    scenarios = session.scalars(select(ForecastScenario).order_by(ForecastScenario.name)).all()
    try:
        result = current_forecast(session, horizon, scenario or None)
    except ApiError as exc:
        return back_to("/forecast-page", problem=exc.message)
    last = result.dates[-1]
    beds = result.beds[result.beds["date"] == last].groupby(["service_type", "tier"], sort=False)[
        ["mean", "lo80", "hi80", "lo95", "hi95"]].sum().reset_index()
    first = result.beds[result.beds["date"] == result.dates[0]].groupby(["service_type", "tier"])["mean"].sum()
    beds["now"] = [float(first.get((s, t), 0.0)) for s, t in zip(beds["service_type"], beds["tier"])]
    people = result.people[result.people["date"] == last]
    people = people[(people["mean"] >= 0.5) | (people["hi95"] >= 1)]
    query = urlencode({"horizon": horizon, **({"scenario": scenario} if scenario else {})})
    return render(request, "forecast.html", user, result=result, beds=beds.to_dict("records"),
                  people=people.to_dict("records"), horizon=horizon, scenario=scenario, scenarios=scenarios,
                  chart=f"/forecast-page/fan-chart.png?{query}", last=last, state_names=STATE_NAMES,
                  can_save=user.role in COMMISSIONING)


@router.post("/forecast-page/scenarios")
def save_scenario_form(request: Request, session: SessionDep, user: Commissioner,
                       name: Annotated[str, Form()] = "", adjustments: Annotated[str, Form()] = "",
                       continue_to_25_share: Annotated[str, Form()] = "", description: Annotated[str, Form()] = ""):
    from scenarios.what_if import WhatIfError, save_scenario

    lines = [line.strip() for line in adjustments.splitlines() if line.strip()]
    rules = {}
    try:
        if continue_to_25_share.strip():
            rules["continue_to_25_share"] = float(continue_to_25_share)
        save_scenario(session, name, lines, rules, user, description or None)
    except (WhatIfError, ValueError) as exc:
        return back_to("/forecast-page", problem=f"Scenario not saved: {exc}")
    return back_to(f"/forecast-page?{urlencode({'scenario': name.strip()})}", done=f"Saved the scenario '{name.strip()}'")
