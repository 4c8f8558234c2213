"""What-if changes to the forecast's rates, written as text and saved as named scenarios.

An adjustment is ``RATE*FACTOR`` or ``RATE+AMOUNT`` (or both, ``RATE*1.1+0.02``), optionally
for some ages, ``@16-17``. RATE is ``entries`` (arrivals a year), ``uasc_entries``, or a move
``FROM->TO`` between states (``la_fostering->staying_put``, ``care_leaver->out``); a changed
move is applied on top of the observed rate and the rest of its row renormalised. Examples:
``uasc_entries*1.5`` (UASC arrivals up half), ``la_fostering->staying_put+0.1@17`` (ten points
more Staying Put at 18).
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import User, record
from models.plans import ForecastScenario
from models.tenancy import council_for_new_rows
from scenarios.cohort import FIRST_AGE, LAST_AGE, STATES, Adjustment, Rules

PATTERN = re.compile(r"^\s*(?P<rate>[a-z_]+(?:->[a-z_]+)?)\s*(?:\*\s*(?P<mul>[0-9.]+))?\s*(?:(?P<sign>[+-])\s*(?P<add>[0-9.]+))?"
                     r"\s*(?:@\s*(?P<lo>\d+)(?:\s*-\s*(?P<hi>\d+))?)?\s*$")
RULE_NAMES = {f.name for f in dataclasses.fields(Rules)}


class WhatIfError(ValueError):
    pass


def parse_adjustment(text: str) -> Adjustment:
    match = PATTERN.match(text or "")
    if not match or (match["mul"] is None and match["add"] is None):
        raise WhatIfError(f"'{text}': write RATE*FACTOR or RATE+AMOUNT, optionally @AGE or @AGE-AGE "
                          "(e.g. entries*1.2@16-17)")
    rate = match["rate"]
    if rate not in ("entries", "uasc_entries"):
        source, _, dest = rate.partition("->")
        if source not in STATES or dest not in (*STATES, "out"):
            raise WhatIfError(f"'{text}': unknown rate '{rate}'; use entries, uasc_entries or FROM->TO with states "
                              f"{', '.join(STATES)} (TO may also be out)")
    lo = int(match["lo"]) if match["lo"] else FIRST_AGE
    hi = int(match["hi"]) if match["hi"] else (lo if match["lo"] else LAST_AGE)
    if not FIRST_AGE <= lo <= hi <= LAST_AGE:
        raise WhatIfError(f"'{text}': ages must be within {FIRST_AGE}-{LAST_AGE}, lowest first")
    add = float(match["add"] or 0) * (-1 if match["sign"] == "-" else 1)
    return Adjustment(rate, float(match["mul"]) if match["mul"] else 1.0, add, (lo, hi))


def rules_with(overrides: dict) -> Rules:
    unknown = set(overrides) - RULE_NAMES
    if unknown:
        raise WhatIfError(f"unknown rule(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(RULE_NAMES))}")
    clean = {}
    for name, value in overrides.items():
        if name.endswith("_share"):
            if not 0 <= float(value) <= 1:
                raise WhatIfError(f"{name} is a share: 0 to 1, not {value}")
            clean[name] = float(value)
        else:  # an age: Staying Put and eligibility end at 18 to 25
            if float(value) != int(value) or not 18 <= int(value) <= LAST_AGE:
                raise WhatIfError(f"{name} is an age from 18 to {LAST_AGE}, not {value}")
            clean[name] = int(value)
    return dataclasses.replace(Rules(), **clean)


def save_scenario(session: Session, name: str, adjustments: list[str], rules: dict, actor: User | str,
                  description: str | None = None) -> ForecastScenario:
    """Create or replace a named scenario (one audit event with before and after)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise WhatIfError("a scenario needs a name of 1 to 80 characters")
    parsed = [parse_adjustment(a) for a in adjustments]
    checked = rules_with(rules)
    rules = {name: getattr(checked, name) for name in rules}  # stored as the model reads them
    # The saver's own council's scenario of that name (the region's, for the region): a council
    # never rewrites the region's or another council's, it keeps its own under the same name.
    council = council_for_new_rows(session, ForecastScenario.__table__)
    scenario = session.scalar(select(ForecastScenario).where(
        ForecastScenario.name == name, ForecastScenario.council_code.is_(None) if council is None
        else ForecastScenario.council_code == council))
    before = None if scenario is None else {"adjustments": scenario.adjustments, "rules": scenario.rules}
    if scenario is None:
        scenario = ForecastScenario(name=name)
        session.add(scenario)
    scenario.description = description
    scenario.adjustments = [dataclasses.asdict(a) for a in parsed]
    scenario.rules = dict(rules)
    if isinstance(actor, User):
        scenario.created_by_id = actor.id
    session.flush()
    kwargs = {"actor": actor} if isinstance(actor, User) else {"actor_name": actor}
    record(session, "forecast_scenario_saved", "forecast_scenario", scenario.id, before=before,
           after={"name": name, "adjustments": scenario.adjustments, "rules": scenario.rules}, **kwargs)
    return scenario


def visible_scenarios(session: Session) -> list[ForecastScenario]:
    """The saved scenarios the session may use, one a name (its own council's before the
    region's of the same name), by name."""
    rows = session.scalars(select(ForecastScenario).order_by(
        ForecastScenario.name, ForecastScenario.council_code.is_(None), ForecastScenario.council_code)).all()
    seen: set[str] = set()
    return [s for s in rows if not (s.name in seen or seen.add(s.name))]


def load_scenario(session: Session, name: str) -> tuple[list[Adjustment], Rules]:
    """The named scenario the session may see: its own council's before the region's."""
    scenario = session.scalar(select(ForecastScenario).where(ForecastScenario.name == name)
                              .order_by(ForecastScenario.council_code.is_(None), ForecastScenario.council_code))
    if scenario is None:
        known = [s.name for s in visible_scenarios(session)]
        raise WhatIfError(f"no forecast scenario named '{name}'" + (f"; saved: {', '.join(known)}" if known else ""))
    adjustments = [Adjustment(a["rate"], a["multiply"], a["add"], tuple(a["ages"])) for a in scenario.adjustments]
    return adjustments, rules_with(scenario.rules)
