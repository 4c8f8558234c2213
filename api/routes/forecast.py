"""The sufficiency forecast over the service: the projection (people and beds with intervals),
its fan chart, and the named what-if scenarios commissioners save.

The forecast reads the council's SSDA903 returns from the folder ``PLACEMATCH_SSDA903_DIR``
names (the demo council's generated returns when it is not set), and the need mix from this
database's placements. Forecasts hold counts only, no young person's details, so managers and
commissioners read them; saving a scenario is for commissioners (and heads of service).

A forecast takes a second or two (the bootstrap), so each is kept once computed, by everything
it depends on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Optional

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import COMMISSIONING, MANAGERS, Allowed, SessionDep
from api.errors import ERROR_RESPONSES, ApiError
from scenarios.cohort import Rules
from scenarios.what_if import visible_scenarios

router = APIRouter(tags=["forecast"], responses=ERROR_RESPONSES)
Reader = Allowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
Commissioner = Allowed(*COMMISSIONING)
REPLICATIONS = 300
Horizon = Annotated[int, Query(ge=1, le=10, description="Years ahead (a sufficiency strategy looks 3-5 ahead)")]
ScenarioName = Annotated[Optional[str], Query(max_length=80, description="A saved forecast scenario's name")]
_lock = threading.Lock()


def returns_folder() -> Path:
    configured = os.environ.get("PLACEMATCH_SSDA903_DIR")
    if configured:
        return Path(configured)
    return _demo_folder()


@lru_cache(maxsize=1)
def _demo_folder() -> Path:
    from scenarios.demo_history import write

    folder = Path(tempfile.mkdtemp(prefix="placematch-demo-ssda903-"))
    write(folder)
    return folder


def _stamp(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.csv")))


# Forecasts computed, by everything they depend on (the returns' files as they are, the
# horizon, the what-ifs and rules, the need mix): a saved scenario or a new placement makes a
# new key, so nothing needs clearing. The oldest goes when the cache is full.
_cache: dict[tuple, object] = {}
CACHE_SIZE = 32


def current_forecast(session, horizon: int, scenario: str | None):
    from scenarios.demand import need_mix_from_database
    from scenarios.forecast import forecast_history
    from scenarios.ssda903 import SSDA903Error, history_from_folder
    from scenarios.what_if import WhatIfError, load_scenario

    adjustments, rules = [], Rules()
    if scenario:
        try:
            adjustments, rules = load_scenario(session, scenario)
        except WhatIfError as exc:
            raise ApiError(404, str(exc), fields=[("query.scenario", "no such scenario")]) from None
    mix = need_mix_from_database(session)
    folder = returns_folder()
    key = (str(folder), _stamp(folder), horizon, tuple(adjustments), tuple(sorted(vars(rules).items())),
           json.dumps(dataclasses.asdict(mix), sort_keys=True))
    try:
        with _lock:  # one computation at a time: the second asker waits and reads the cache
            if key not in _cache:
                if len(_cache) >= CACHE_SIZE:
                    _cache.pop(next(iter(_cache)))
                _cache[key] = forecast_history(history_from_folder(folder, repair=True), horizon, rules=rules,
                                               adjustments=adjustments, mix=mix, replications=REPLICATIONS)
            return _cache[key]
    except SSDA903Error as exc:
        raise ApiError(422, f"the council's SSDA903 returns cannot be used: {exc}") from None


class Band(BaseModel):
    date: dt.date
    band: str
    state: str
    mean: float
    lo95: float
    lo80: float
    hi80: float
    hi95: float


class Beds(BaseModel):
    date: dt.date
    service_type: str
    tier: str
    area: str
    mean: float
    lo95: float
    lo80: float
    hi80: float
    hi95: float


class ForecastPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "start": "2025-03-31", "horizon": 5, "scenario": None, "notes": ["need mix: defaults"],
        "people": [{"date": "2030-03-31", "band": "18-20", "state": "care_leaver", "mean": 209.6,
                    "lo95": 183.0, "lo80": 190.0, "hi80": 230.0, "hi95": 236.0}],
        "beds": [{"date": "2030-03-31", "service_type": "supported_accommodation", "tier": "intensive",
                  "area": "all", "mean": 12.4, "lo95": 9.1, "lo80": 10.2, "hi80": 14.8, "hi95": 15.9}]}]})

    start: dt.date = Field(description="The last observed 31 March")
    horizon: int
    scenario: Optional[str]
    notes: list[str]
    people: list[Band]
    beds: list[Beds]


@router.get("/forecast", response_model=ForecastPublic,
            summary="The sufficiency forecast: people by age band and state, beds by service type, tier and area")
def get_forecast(session: SessionDep, _: Reader, horizon: Horizon = 5, scenario: ScenarioName = None):
    result = current_forecast(session, horizon, scenario)
    return ForecastPublic(start=result.start, horizon=result.horizon, scenario=scenario, notes=result.notes,
                          people=result.people.to_dict("records"), beds=result.beds.to_dict("records"))


@router.get("/forecast/fan-chart.png", summary="The forecast's fan chart (PNG)",
            responses={200: {"content": {"image/png": {}}, "description": "The chart"}},
            response_class=Response)
def get_fan_chart(session: SessionDep, _: Reader, horizon: Horizon = 5, scenario: ScenarioName = None):
    from scenarios.forecast import fan_chart

    result = current_forecast(session, horizon, scenario)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fan_chart.png"
        fan_chart(result, path)
        return Response(path.read_bytes(), media_type="image/png")


class RulesIn(BaseModel):
    """Overrides of the model's rules (scenarios.cohort.Rules); leave out what stays as default."""

    model_config = ConfigDict(extra="forbid")

    staying_put_share: Optional[float] = Field(default=None, ge=0, le=1,
                                               description="Of 17-year-olds fostered, the share Staying Put at 18")
    continue_to_25_share: Optional[float] = Field(default=None, ge=0, le=1,
                                                  description="Of care leavers turning 21, the share supported to 25")
    staying_put_until: Optional[int] = Field(default=None, ge=18, le=25)
    eligible_until: Optional[int] = Field(default=None, ge=18, le=25)


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "UASC up by half", "description": "National transfer scheme quota raised",
        "adjustments": ["uasc_entries*1.5"], "rules": {"continue_to_25_share": 0.35}}]})

    name: str = Field(min_length=1, max_length=80)
    description: Optional[str] = Field(default=None, max_length=2000)
    adjustments: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50,
        description="e.g. entries*1.2@16-17, uasc_entries*1.5, la_fostering->staying_put+0.1@17")
    rules: RulesIn = Field(default_factory=RulesIn)


class ScenarioPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: Optional[str]
    adjustments: list[dict]
    rules: dict


@router.get("/forecast-scenarios", response_model=list[ScenarioPublic], summary="Saved forecast scenarios")
def list_scenarios(session: SessionDep, _: Reader):
    return [ScenarioPublic.model_validate(s) for s in visible_scenarios(session)]


@router.put("/forecast-scenarios", response_model=ScenarioPublic,
            summary="Save a named forecast scenario (replaces one of the same name)")
def save_scenario(body: ScenarioIn, session: SessionDep, user: Commissioner):
    from scenarios.what_if import WhatIfError
    from scenarios.what_if import save_scenario as save

    try:
        saved = save(session, body.name, body.adjustments, body.rules.model_dump(exclude_none=True), user,
                     body.description)
    except WhatIfError as exc:
        raise ApiError(422, str(exc), fields=[("body", str(exc))]) from None
    return ScenarioPublic.model_validate(saved)
