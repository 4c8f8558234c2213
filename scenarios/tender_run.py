"""Running tender scenarios end to end: the market a scenario leaves (scenarios.tender), the
demand the forecast gives with the scenario's what-ifs (scenarios.forecast, .what_if), the
month-by-month simulation (scenarios.simulate), and the result saved with the file, the seed
and the code version, so that it can be reproduced; side-by-side tables, CSV files and charts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from models.accounts import User, record
from models.plans import ScenarioResult
from models.spreadsheet import inert_frame
from scenarios.simulate import KPIS, Fallback, SimulationResult, SupportPlan, arrivals_from_history, simulate
from scenarios.tender import TenderScenario

# What the comparison shows for each KPI: its label, and how to print it.
KPI_LABELS = {
    "placements_made": ("Placements made a year", "{:,.0f}"),
    "spot_purchases": ("Spot purchases a year", "{:,.0f}"),
    "emergency_nights": ("Emergency nights a year", "{:,.0f}"),
    "unmet_need": ("Young people waiting (month end, average)", "{:,.1f}"),
    "total_cost": ("Total cost a year (£)", "{:,.0f}"),
    "weekly_cost": ("Weekly cost (£)", "{:,.0f}"),
    "unit_weekly_cost": ("Cost per placed week (£)", "{:,.0f}"),
    "void_cost": ("Void cost a year (£)", "{:,.0f}"),
    "share_over_20_miles": ("Share over 20 miles", "{:.0%}"),
    "share_out_of_area": ("Share out of area", "{:.0%}"),
    "average_wait_days": ("Average wait (days)", "{:,.1f}"),
}


def code_version() -> str:
    """The package version and, in a git checkout, the commit (with +dirty for local changes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("placematch")
    except PackageNotFoundError:
        base = "unknown"
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty=+dirty"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{base} {commit}".strip()[:80]


@dataclass
class Demand:
    """Where arriving referrals come from: the SSDA903 history, and the need mix."""

    history: object
    mix: object = None
    forecast_adjustments: tuple = ()
    rules: object = None


def demand_for(session: Session, scenario: TenderScenario, history) -> Demand:
    """The scenario's demand: the history, this database's need mix, and the saved forecast
    scenario it names (its what-ifs and rules; WhatIfError when there is none of that name)."""
    from scenarios.demand import need_mix_from_database
    from scenarios.what_if import load_scenario

    adjustments, rules = ([], None)
    if scenario.demand.forecast_scenario:
        adjustments, rules = load_scenario(session, scenario.demand.forecast_scenario)
    return Demand(history=history, mix=need_mix_from_database(session), forecast_adjustments=tuple(adjustments),
                  rules=rules)


def fallback_of(scenario: TenderScenario) -> Fallback:
    spot, emergency = scenario.fallback.spot, scenario.fallback.emergency
    return Fallback(spot_price_multiplier=spot.price_multiplier, spot_typical_miles=spot.typical_miles,
                    spot_share_available=1.0 if spot.available else 0.0,
                    emergency_weekly_price=emergency.weekly_price)


def plan_of(scenario: TenderScenario) -> SupportPlan:
    """The support plan with step-down ``step_down_speed`` times as fast (2.0: half the months)."""
    base = SupportPlan()
    steps = {tier: max(1, round(months / scenario.step_down_speed)) if months else months
             for tier, months in base.step_down_after_months.items()}
    return dataclasses.replace(base, step_down_after_months=steps)


def run_scenario(scenario: TenderScenario, supply: pd.DataFrame, demand: Demand, *, queue: pd.DataFrame,
                 placing_authority: str, start: dt.date, workers: int = 1,
                 progress: Callable[[int], None] | None = None) -> SimulationResult:
    from scenarios.what_if import parse_adjustment

    months = 12 * scenario.horizon_years
    what_ifs = list(demand.forecast_adjustments) + [
        parse_adjustment(a) for a in scenario.demand.adjustments]
    arrivals = arrivals_from_history(demand.history, start, months, rules=demand.rules, adjustments=what_ifs,
                                     mix=demand.mix)
    return simulate(supply, arrivals, months=months, replications=scenario.replications, seed=scenario.seed,
                    fallback=fallback_of(scenario), plan=plan_of(scenario), placing_authority=placing_authority,
                    start=start, workers=workers, progress=progress, initial_queue=queue)


def kpi_records(result: SimulationResult) -> list[dict]:
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in result.years.to_dict("records")]


def save_result(session: Session, scenario: TenderScenario, file: Path | None, result: SimulationResult | None,
                actor: User | str, *, text: str | None = None, file_name: str | None = None) -> ScenarioResult:
    """Keep a run (``result`` None: one just started in the background, status running)."""
    text = Path(file).read_text(encoding="utf-8") if text is None else text
    row = ScenarioResult(
        name=scenario.name, file_name=(file_name or Path(file).name)[:200], file_text=text,
        file_sha256=hashlib.sha256(text.encode()).hexdigest(), seed=scenario.seed,
        replications=scenario.replications, months=12 * scenario.horizon_years, code_version=code_version(),
        status="succeeded" if result is not None else "running",
        kpis=kpi_records(result) if result is not None else [],
        seconds=float(result.seconds) if result is not None else 0.0,
        created_by_id=actor.id if isinstance(actor, User) else None)
    session.add(row)
    session.flush()
    kwargs = {"actor": actor} if isinstance(actor, User) else {"actor_name": actor}
    record(session, "scenario_run", "scenario_result", row.id, after={
        "name": row.name, "file": row.file_name, "sha256": row.file_sha256, "seed": row.seed,
        "replications": row.replications, "code_version": row.code_version}, **kwargs)
    return row


def comparison(results: dict[str, SimulationResult], year: int | None = None) -> pd.DataFrame:
    """One row a KPI, one column a scenario: the median (10th-90th percentile) in ``year``
    (the last year by default)."""
    columns = {}
    for name, result in results.items():
        frame = result.years
        at = frame[frame["year"] == (year or frame["year"].max())].set_index("kpi")
        cells = []
        for kpi in KPIS:
            label, fmt = KPI_LABELS[kpi]
            if kpi not in at.index or not np.isfinite(at.loc[kpi, "median"]):
                cells.append("-")
                continue
            r = at.loc[kpi]
            cells.append(f"{fmt.format(r['median'])} ({fmt.format(r['p10'])}-{fmt.format(r['p90'])})")
        columns[name] = cells
    return pd.DataFrame(columns, index=[KPI_LABELS[k][0] for k in KPIS])


def write(results: dict[str, SimulationResult], out: Path) -> list[Path]:
    """kpis.csv (every scenario, year and KPI), unmet_by_tier.csv, unmet_by_area.csv and
    comparison.png."""
    out.mkdir(parents=True, exist_ok=True)
    kpis = pd.concat([r.years.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    tiers = pd.concat([r.unmet_by_tier.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    areas = pd.concat([r.unmet_by_area.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    paths = [out / "kpis.csv", out / "unmet_by_tier.csv", out / "unmet_by_area.csv", out / "comparison.png"]
    # Opened in spreadsheets: a scenario's name (the commissioner's text) must not run as a formula.
    inert_frame(kpis[["scenario", "year", "kpi", "median", "p10", "p90"]].round(4)).to_csv(paths[0], index=False)
    inert_frame(tiers.round(3)).to_csv(paths[1], index=False)
    inert_frame(areas.round(3)).to_csv(paths[2], index=False)
    chart(results, paths[3])
    return paths


def chart(results: dict[str, SimulationResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["weekly_cost", "unmet_need", "spot_purchases", "share_over_20_miles"]
    fig, axes = plt.subplots(1, len(shown), figsize=(16, 4.2), dpi=100)
    colours = ["#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#f47738", "#505a5f"]
    for ax, kpi in zip(axes, shown):
        for (name, result), colour in zip(results.items(), colours * 3):
            f = result.years[result.years["kpi"] == kpi].sort_values("year")
            ax.fill_between(f["year"], f["p10"], f["p90"], color=colour, alpha=0.15, linewidth=0)
            ax.plot(f["year"], f["median"], color=colour, label=name, linewidth=2, marker="o")
        ax.set_title(KPI_LABELS[kpi][0], fontsize=10)
        ax.set_xlabel("year")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle("Tender scenarios: median and 10th-90th percentile over replications")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
