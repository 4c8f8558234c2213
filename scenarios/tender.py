"""Tender scenarios: a YAML file that says how the market would change (a block contract, a
provider or lot lost, prices up or down, tiers offered, step-down speed, the forecast's demand
what-ifs, the spot and emergency fallbacks), read and checked, and applied to the council's
current supply from the database.

The file (every key optional but ``name``; ``scenarios/examples/`` has one per common
question)::

    name: Ten intensive beds in Medway          # shown in every table and chart
    description: Block contract, 3 years          # optional
    horizon_years: 5                              # 1 to 10
    replications: 100                             # 1 to 1000: runs with different chance
    seed: 2026                                    # the same seed gives the same result
    demand:
      forecast_scenario: UASC up by half          # a saved forecast scenario (its what-ifs)
      adjustments: ["entries*1.1@16-17"]          # or what-ifs written here (as in the forecast)
    supply:
      remove_providers: [PRV12]                   # provider ids
      remove_lots: ["16-25 DPS: Lot 2"]           # "framework: lot name", or lot ids
      price_changes:                              # percent, per tier and/or lot (all if neither)
        - {tier: intensive, percent: 6}
        - {lot: "16-25 DPS: Lot 1", percent: -3}
        - {framework: "16-25 DPS", percent: 2}    # every lot of a framework
      stop_offering:                              # tiers a lot (or everyone) no longer offers
        - {lot: "16-25 DPS: Lot 1", tiers: [intensive]}
      award:                                      # an award option for a tender (scenarios.award_options)
        tender: 3                                 # its number on the tenders page, or its tender.yaml
        top: 5                                    # or min_score: 65; and quality_weight: 50
      block_contracts:
        - name: Medway intensive block
          beds: 10
          tier: intensive                         # the tier the beds are bought at
          service_type: supported_accommodation
          postcode: ME4 4TR                       # where the beds are (a real postcode)
          weekly_price: 3200
          void_weekly_cost: 3200                  # an empty bed's cost a week (default: the price)
          shared_by: [Medway, Kent]               # a region's run: the members who may use the beds
    step_down_speed: 1.0                          # 2.0: support steps down twice as fast
    fallback:
      spot: {price_multiplier: 1.25, typical_miles: 25}
      emergency: {weekly_price: 700}
    trial_stays: {nights: 3, share: 0.5}          # half the panel's placements start with a 3-night trial

Every problem is listed with the file, line and key (``tender.yaml line 14, supply >
block_contracts > 1 > tier: ...``); a file with problems is not run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.base import council_today
from models.enums import ServiceType, Tier
from providers import safe_yaml
from providers.safe_yaml import Problem
from scenarios.award_options import (
    AwardOption,
    AwardOptionRefused,
    Tenders,
    awarded_market,
    evaluated,
)

TIERS = tuple(t.value for t in Tier)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlockContract(_Strict):
    name: str = Field(min_length=1, max_length=200)
    beds: int = Field(ge=1, le=500)
    tier: Tier
    service_type: ServiceType = ServiceType.supported_accommodation
    postcode: str = Field(min_length=5, max_length=8)
    weekly_price: float = Field(gt=0, le=50_000)
    void_weekly_cost: Optional[float] = Field(default=None, ge=0, le=50_000)
    # In a region (``--region``): the member councils whose young people may use the beds (ONS
    # codes or names); empty, every member's.
    shared_by: list[str] = Field(default_factory=list, max_length=60)


class PriceChange(_Strict):
    percent: float = Field(ge=-90, le=500)
    tier: Optional[Tier] = None
    lot: Optional[str | int] = None
    framework: Optional[str] = None  # every lot of a framework (a region's: its every member's homes)

    @model_validator(mode="after")
    def _lot_or_framework(self):
        if self.lot is not None and self.framework is not None:
            raise ValueError("give a lot or a framework, not both")
        return self


class StopOffering(_Strict):
    tiers: list[Tier] = Field(min_length=1)
    lot: Optional[str | int] = None


class Supply(_Strict):
    remove_providers: list[str] = Field(default_factory=list)
    remove_lots: list[str | int] = Field(default_factory=list)
    price_changes: list[PriceChange] = Field(default_factory=list)
    stop_offering: list[StopOffering] = Field(default_factory=list)
    block_contracts: list[BlockContract] = Field(default_factory=list)
    award: Optional[AwardOption] = None


class Demand(_Strict):
    forecast_scenario: Optional[str] = None
    adjustments: list[str] = Field(default_factory=list)


class Spot(_Strict):
    price_multiplier: float = Field(default=1.25, ge=1, le=5)
    typical_miles: float = Field(default=25.0, ge=0, le=300)
    available: bool = True


class Emergency(_Strict):
    weekly_price: float = Field(default=700.0, gt=0, le=10_000)


class Fallbacks(_Strict):
    spot: Spot = Field(default_factory=Spot)
    emergency: Emergency = Field(default_factory=Emergency)


class TrialStays(_Strict):
    """Trial stays before placements (api.trial_stays): this share of the panel's placements
    start with this many nights in the home, paid by the night."""

    nights: int = Field(default=3, ge=1, le=7)
    share: float = Field(default=0.0, ge=0, le=1)


class TenderScenario(_Strict):
    name: str = Field(min_length=1, max_length=120)
    description: Optional[str] = None
    horizon_years: int = Field(default=5, ge=1, le=10)
    replications: int = Field(default=100, ge=1, le=1000)
    seed: int = Field(default=2026, ge=0, le=2**32 - 1)
    demand: Demand = Field(default_factory=Demand)
    supply: Supply = Field(default_factory=Supply)
    step_down_speed: float = Field(default=1.0, gt=0, le=10)
    fallback: Fallbacks = Field(default_factory=Fallbacks)
    trial_stays: TrialStays = Field(default_factory=TrialStays)
    _lines: dict = PrivateAttr(default_factory=dict)  # key path -> line in the file it was read from

    @model_validator(mode="after")
    def _demand_what_ifs_read(self):
        from scenarios.what_if import WhatIfError, parse_adjustment

        for k, text in enumerate(self.demand.adjustments):
            try:
                parse_adjustment(text)
            except WhatIfError as exc:
                raise ValueError(f"demand > adjustments > {k + 1}: {exc}") from None
        return self


# --- reading ----------------------------------------------------------------------------------


class TenderFileError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the scenario file:\n" + "\n".join(f"  {p}" for p in problems))


# Where in a YAML file each problem is (shared with the tender evaluation file).
_lines, _where, _line_of = safe_yaml.lines_of, safe_yaml.where, safe_yaml.line_of


def read_scenario(path: Path) -> TenderScenario:
    path = Path(path)
    name = path.name
    try:
        text = safe_yaml.read_text(path, name)  # refused unread if larger than the limit
    except safe_yaml.YamlRefused as exc:
        raise TenderFileError([Problem(name, exc.line, "", exc.reason)]) from None
    except OSError as exc:
        raise TenderFileError([Problem(name, None, "", f"cannot be read ({exc})")]) from None
    return parse_scenario(text, name)


def parse_scenario(text: str, name: str) -> TenderScenario:
    """A scenario from the text of its file (``name`` is the file's name, for the problems):
    the service reads what a commissioner pastes or uploads without writing it to disk."""
    try:
        # One bounded pass (providers.safe_yaml): anchors and aliases refused, so a small file
        # can never stand for a huge one; the nodes give every key's line.
        data, node = safe_yaml.load_with_nodes(text, name)
    except safe_yaml.YamlRefused as exc:
        raise TenderFileError([Problem(name, exc.line, "", exc.reason)]) from None
    if not isinstance(data, dict):
        raise TenderFileError([Problem(name, 1, "", "the file must be a mapping of keys (name: ..., supply: ...)")])
    if {"lots", "bids", "criteria"} <= set(data):
        raise TenderFileError([Problem(name, 1, "", "this is a tender's file (its lots, bids and criteria), not a "
                                                    "scenario: evaluate it with `placematch tender evaluate`, or try "
                                                    "its award options by naming it under supply > award > tender")])
    lines = _lines(node) if node is not None else {}
    try:
        scenario = TenderScenario.model_validate(data)
        scenario._lines = lines
        return scenario
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if p not in ("str", "int"))  # union branches
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (see the scenario file's keys in scenarios/tender.py or the README)"
            if error["type"] == "value_error" and str(error.get("ctx", {}).get("error", "")).startswith("demand"):
                message = str(error["ctx"]["error"])
            problems.append(Problem(name, _line_of(lines, loc), _where(loc), message))
        raise TenderFileError(_unique(problems)) from None


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# --- the supply -------------------------------------------------------------------------------

def supply_from_database(session: Session, on: dt.date) -> pd.DataFrame:
    """Every home the council can place in, one row a home, in the matching engine's vacancy
    columns (``matching.instance``) with its capacity in ``beds`` and the beds taken today in
    ``occupied``, and: ``block`` (beds bought whether used or not),
    ``void_weekly_cost``, ``lot`` ("framework: lot"), ``framework`` and ``councils`` (the
    councils that may use it, in a region: a council's own home; None for the region's)."""
    from matching.instance import (
        SUPPORT_HOURS,
        VACANCY_COLUMNS,
        home_columns,
        vacancies_frame,
    )
    from matching.policy import Policy
    from models.supply import Lot, Property, Provider, TierPrice, Vacancy

    # Beds not free are taken: by this council's young people or by others' (the vacancies are
    # the free beds; a home's other beds are occupied, whoever placed there).
    free: dict[str, int] = {}
    hours: dict[str, int] = {}  # a floating support package's free support hours a week
    owners: dict[str, set] = {}  # the councils whose own vacancies a home lists (None: the region's)
    for prop_id, beds, support, council in session.execute(
            select(Vacancy.property_id, Vacancy.beds, Vacancy.support_hours, Vacancy.council_code)):
        free[prop_id] = free.get(prop_id, 0) + int(beds)
        owners.setdefault(prop_id, set()).add(council)
        if support:
            hours[prop_id] = hours.get(prop_id, 0) + int(support)
    # Those a package supports at the start hold a standard tier's hours each in the simulation
    # (scenarios.simulate), so its size is its free hours plus theirs.
    standard_hours = Policy().hours_needed("standard")
    rows = []
    stmt = (select(Property, Provider).join(Provider, Property.provider_id == Provider.id)
            .options(selectinload(Property.prices).selectinload(TierPrice.lot).selectinload(Lot.framework)))
    for prop, prov in session.execute(stmt):
        lots = {p.lot for p in prop.prices if p.lot is not None}
        lot = next(iter(sorted(lots, key=lambda x: x.id)), None)
        block = bool(lot is not None and lot.block_beds)
        rows.append({
            "vacancy_id": f"H-{prop.id}", "beds": int(prop.total_beds), "available_from": on, "reserved_for": None,
            **home_columns(prop, prov),
            "block": block, "void_weekly_cost": float(lot.void_weekly_cost or 0.0) if block else 0.0,
            "lot": f"{lot.framework.name}: {lot.name}" if lot else None,
            "lot_id": lot.id if lot else None,
            "framework": lot.framework.name if lot else None,
            "occupied": max(0, int(prop.total_beds) - free.get(prop.id, 0)),
            # A home is one council's when all its vacancies are; else (or with none listed) anyone's.
            "councils": None if None in owners.get(prop.id, {None}) else tuple(sorted(owners[prop.id])),
        })
        if prop.id in hours:
            rows[-1][SUPPORT_HOURS] = hours[prop.id] + rows[-1]["occupied"] * standard_hours
    frame = vacancies_frame(rows)
    extra = ["block", "void_weekly_cost", "lot", "lot_id", "framework", "occupied", "councils"]
    for column in extra:
        frame[column] = [r[column] for r in rows]
    return frame[VACANCY_COLUMNS + [SUPPORT_HOURS, *extra]]


def new_home(vacancy_id: str, provider_id: str, beds: int, place, service_type: str, prices: dict, lot: str, *,
             framework: str, block: bool = False, void_weekly_cost: float = 0.0, available_from=None,
             councils: tuple | None = None) -> dict:
    """A home the scenario adds (a block contract's beds, an awarded provider's new beds), in
    the supply's columns: registered, rated good, open to 16-25 of either sex, with no needs it
    is known to meet (what a new home promises until it is inspected)."""
    from matching.instance import PRICE_COLUMNS

    return {
        "vacancy_id": vacancy_id, "property_id": vacancy_id, "provider_id": provider_id, "beds": beds,
        "available_from": available_from or council_today(), "reserved_for": None, "postcode": place.postcode,
        "easting": place.easting, "northing": place.northing, "la_code": place.la_code,
        "service_type": service_type,
        "setting": "shared_care_experienced" if service_type == ServiceType.supported_accommodation.value
        else "self_contained",
        "ofsted_registered": True, "ofsted_grade": "good", "sex": "any", "age_min": 16, "age_max": 25,
        "accepts_needs": [], "excludes_risks": [], **{c: prices.get(c, np.nan) for c in PRICE_COLUMNS.values()},
        "block": block, "void_weekly_cost": void_weekly_cost, "lot": lot, "lot_id": None, "framework": framework,
        "occupied": 0, "councils": councils,
    }


def apply(scenario: TenderScenario, supply: pd.DataFrame, *, file: str = "scenario",
          tenders: Tenders | None = None) -> pd.DataFrame:
    """The supply as the scenario changes it. Names that match nothing (a provider, a lot, a
    postcode, a tender) are refused, naming the key, rather than silently changing nothing.
    ``tenders`` finds the tender an award option names (scenarios.award_options.tenders_from);
    the award is applied first, and the other changes to the market it leaves."""
    from matching.instance import PRICE_COLUMNS
    from providers.geography import PostcodeError, locate_one

    problems: list[Problem] = []
    out = supply.copy()
    changes = scenario.supply

    def refuse(path: tuple, reason: str) -> None:
        problems.append(Problem(file, _line_of(scenario._lines, path), _where(path), reason))

    def lot_rows(ref: str | int, path: tuple) -> pd.Series:
        mask = (out["lot_id"] == ref) if isinstance(ref, int) else (out["lot"] == ref)
        if not mask.any():
            known = sorted({x for x in supply["lot"] if isinstance(x, str) and x})
            refuse(path, f"no lot '{ref}'; the lots are: {'; '.join(known)}")
        return mask

    if changes.award is not None:
        option = changes.award
        try:
            where = locate_one(option.newcomers_at) if option.newcomers_at else None
            out = awarded_market(out, evaluated(tenders, option), new_home, where)
        except PostcodeError as exc:
            refuse(("supply", "award", "newcomers_at"), str(exc))
        except AwardOptionRefused as exc:
            for key, reason in exc.problems:
                refuse(("supply", "award", key), reason)
    for k, provider in enumerate(changes.remove_providers):
        mask = out["provider_id"] == provider
        if not mask.any():
            refuse(("supply", "remove_providers", k), f"no provider '{provider}'")
        out = out[~mask]
    for k, lot in enumerate(changes.remove_lots):
        out = out[~lot_rows(lot, ("supply", "remove_lots", k))]
    for k, change in enumerate(changes.price_changes):
        if change.framework is not None:
            rows = out["framework"] == change.framework
            if not rows.any():
                known = sorted({x for x in supply["framework"] if isinstance(x, str) and x})
                refuse(("supply", "price_changes", k, "framework"),
                       f"no framework '{change.framework}'; the frameworks are: {'; '.join(known)}")
        else:
            rows = lot_rows(change.lot, ("supply", "price_changes", k, "lot")) if change.lot is not None \
                else pd.Series(True, index=out.index)
        columns = [PRICE_COLUMNS[change.tier]] if change.tier else list(PRICE_COLUMNS.values())
        out.loc[rows, columns] = out.loc[rows, columns] * (1 + change.percent / 100)
    for k, stop in enumerate(changes.stop_offering):
        rows = lot_rows(stop.lot, ("supply", "stop_offering", k, "lot")) if stop.lot is not None \
            else pd.Series(True, index=out.index)
        out.loc[rows, [PRICE_COLUMNS[t] for t in stop.tiers]] = np.nan
    blocks = []
    for k, block in enumerate(changes.block_contracts):
        try:
            place = locate_one(block.postcode)
        except PostcodeError as exc:
            refuse(("supply", "block_contracts", k, "postcode"), str(exc))
            continue
        members = _councils_named(block.shared_by, lambda j, reason, k=k: refuse(
            ("supply", "block_contracts", k, "shared_by", j), reason))
        blocks.append(new_home(
            f"B-{k + 1}", f"block:{block.name}", block.beds, place, block.service_type.value,
            {PRICE_COLUMNS[block.tier]: block.weekly_price}, f"block contract: {block.name}",
            framework="block contract", block=True,
            void_weekly_cost=block.void_weekly_cost if block.void_weekly_cost is not None else block.weekly_price,
            available_from=out["available_from"].min() if len(out) else None, councils=members))
    if problems:
        raise TenderFileError(_unique(problems))
    if blocks:
        out = pd.concat([out, pd.DataFrame(blocks)], ignore_index=True)
    priced = out[list(PRICE_COLUMNS.values())].notna().any(axis=1)
    return out[priced].reset_index(drop=True)  # a home with no tier left on offer is out of the market


def _councils_named(names: list[str], refuse) -> tuple | None:
    """The ONS codes of councils named by code or by name (None for none named: every member)."""
    from providers.authorities import default_authorities

    authorities = default_authorities()
    known = authorities.councils_in_any()
    by_name = {authorities.name(c).casefold(): c for c in known}
    codes = []
    for j, name in enumerate(names):
        code = name if name in known else by_name.get(name.strip().casefold())
        if code is None:
            refuse(j, f"no council '{name}': give its ONS code (E06000035) or its name (Medway)")
        else:
            codes.append(code)
    return tuple(sorted(set(codes))) or None


def summary(supply: pd.DataFrame) -> pd.DataFrame:
    """Homes, beds, free beds and the median weekly price per tier, by service type."""
    from matching.instance import PRICE_COLUMNS

    grouped = supply.groupby("service_type")
    out = pd.DataFrame({
        "homes": grouped.size(), "beds": grouped["beds"].sum(),
        "free beds": grouped.apply(lambda g: int((g["beds"] - g["occupied"]).clip(lower=0).sum()), include_groups=False),
        "block beds": grouped.apply(lambda g: int(g.loc[g["block"], "beds"].sum()), include_groups=False),
    })
    for tier, column in PRICE_COLUMNS.items():
        out[f"median £ {tier.value}"] = grouped[column].median()
    return out

