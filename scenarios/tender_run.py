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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from models.accounts import User, record
from models.plans import ScenarioResult
from models.spreadsheet import inert_frame
from scenarios.simulate import (
    KPIS,
    Fallback,
    Prepared,
    SimulationResult,
    SupportPlan,
    arrivals_from_history,
    prepare,
    simulate,
)
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
    "trial_stay_cost": ("Trial stays a year (£)", "{:,.0f}"),
    "floating_support_cost": ("Floating support a year (£)", "{:,.0f}"),
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


@dataclass
class RegionalDemand:
    """A region's demand (issue 17): each member council's own (its returns, its need mix, the
    scenario's what-ifs) times ``scale``, and where its young people live (``homes``: postcode,
    easting, northing, la_code rows, drawn from with replacement)."""

    members: dict[str, tuple[Demand, float]]
    homes: dict[str, pd.DataFrame]


class RegionalDemandError(ValueError):
    pass


def regional_demand(session: Session, scenario: TenderScenario, history, *, demo_council: str | None = None
                    ) -> RegionalDemand:
    """Every council of the database with young people recorded: its demand from its own council's
    returns in ``history`` (the files' LA column: its ONS code or its name); with
    ``demo_council`` (the demo's returns, which are one council's), every council's demand is
    that council's scaled by its young people recorded here against the demo council's. Their
    homes are where this council's recorded young people live."""
    from sqlalchemy import func, select

    from models.people import Referral
    from providers.authorities import default_authorities

    authorities = default_authorities()
    base = demand_for(session, scenario, history)
    counts = dict(session.execute(select(Referral.council_code, func.count()).group_by(Referral.council_code)).all())
    if not counts:
        raise RegionalDemandError("no council of the database has a young person recorded to draw homes from")
    members: dict[str, tuple[Demand, float]] = {}
    if demo_council is not None:
        if demo_council not in counts:
            raise RegionalDemandError(f"the demo's returns are {authorities.name(demo_council)}'s, which has no "
                                      "young people here: give every council's SSDA903 returns with --input")
        members = {c: (base, n / counts[demo_council]) for c, n in sorted(counts.items())}
    else:
        from scenarios.forecast import council_history

        in_files = {str(la) for la in history.episodes["LA"].unique()}
        missing = []
        for council in sorted(counts):
            la = next((x for x in (council, authorities.name(council)) if x in in_files), None)
            if la is None:
                missing.append(f"{authorities.name(council)} ({council})")
            else:
                members[council] = (dataclasses.replace(base, history=council_history(history, la)), 1.0)
        if missing:
            raise RegionalDemandError(f"the SSDA903 files hold no returns for {', '.join(missing)}; they hold: "
                                      f"{', '.join(sorted(in_files))}")
    homes = {}
    for council in members:
        rows = session.execute(select(Referral.home_postcode, Referral.home_easting, Referral.home_northing,
                                      Referral.home_la_code).where(Referral.council_code == council)
                               .distinct().order_by(Referral.home_postcode)).all()
        homes[council] = pd.DataFrame(rows, columns=["postcode", "easting", "northing", "la_code"])
    return RegionalDemand(members, homes)


def regional_queue(session: Session, start: dt.date) -> tuple[list[str], pd.DataFrame]:
    """The councils with young people recorded, and their young people waiting on ``start``, each
    with its placing council (``council``): a region's queue at the start of a simulation."""
    from sqlalchemy import select

    from matching.instance import from_database
    from models.people import Referral

    councils = sorted(set(session.scalars(select(Referral.council_code).distinct())))
    if not councils:
        raise RegionalDemandError("no council of the database has a young person recorded")
    return councils, pd.concat([from_database(session, c, start).referrals.assign(council=c) for c in councils],
                               ignore_index=True)


@dataclass(frozen=True)
class CouncilDraw:
    """Draws a region's arriving young people (``MonthlyArrivals.draw``): each one's council in
    proportion to its expected referrals, their home one of that council's, the rest as
    ``scenarios.synthetic`` draws them."""

    councils: tuple[str, ...]
    shares: tuple[float, ...]
    homes: tuple[pd.DataFrame, ...]

    def __call__(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        from scenarios.simulate import SYNTHETIC_REFERENCE_DAY
        from scenarios.synthetic import synthetic_referrals

        which = rng.choice(len(self.councils), max(n, 1), p=np.asarray(self.shares))
        sizes = np.array([len(h) for h in self.homes])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows = offsets[which] + np.floor(rng.random(len(which)) * sizes[which]).astype(np.int64)
        homes = pd.concat(self.homes, ignore_index=True).iloc[rows].reset_index(drop=True)
        frame = synthetic_referrals(rng, max(n, 1), homes=homes, panel_date=SYNTHETIC_REFERENCE_DAY).iloc[:n]
        frame["sibling_group"] = None
        frame["council"] = np.array(self.councils, dtype=object)[which[:n]]
        return frame


def _regional_arrivals(demand: RegionalDemand, start: dt.date, months: int, what_ifs: list):
    from scenarios.simulate import MonthlyArrivals

    expected = {}
    for council, (own, scale) in demand.members.items():
        expected[council] = arrivals_from_history(own.history, start, months, rules=own.rules, adjustments=what_ifs,
                                                  mix=own.mix, scale=scale).expected
    total = sum(expected.values())
    councils = tuple(expected)
    weight = np.array([expected[c].sum() for c in councils], dtype=float)
    shares = tuple((weight / weight.sum()).tolist()) if weight.sum() else tuple([1 / len(councils)] * len(councils))
    return MonthlyArrivals(total, draw=CouncilDraw(councils, shares, tuple(demand.homes[c] for c in councils)),
                           source=f"{len(councils)} councils' own demand: {total.sum() / months * 12:.1f} new "
                                  "referrals a year")


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
    trials = scenario.trial_stays
    return dataclasses.replace(base, step_down_after_months=steps, trial_share=trials.share, trial_nights=trials.nights)


def _arrivals(scenario: TenderScenario, demand: Demand | RegionalDemand, start: dt.date):
    from scenarios.what_if import parse_adjustment

    months = 12 * scenario.horizon_years
    if isinstance(demand, RegionalDemand):
        own = next(iter(demand.members.values()))[0]  # the what-ifs are the scenario's: every member's alike
        what_ifs = list(own.forecast_adjustments) + [parse_adjustment(a) for a in scenario.demand.adjustments]
        return months, _regional_arrivals(demand, start, months, what_ifs)
    what_ifs = list(demand.forecast_adjustments) + [
        parse_adjustment(a) for a in scenario.demand.adjustments]
    return months, arrivals_from_history(demand.history, start, months, rules=demand.rules, adjustments=what_ifs,
                                         mix=demand.mix)


def run_scenario(scenario: TenderScenario, supply: pd.DataFrame, demand: Demand | RegionalDemand, *,
                 queue: pd.DataFrame,
                 placing_authority: str, start: dt.date, workers: int = 1,
                 progress: Callable[[int], None] | None = None) -> SimulationResult:
    months, arrivals = _arrivals(scenario, demand, start)
    return simulate(supply, arrivals, months=months, replications=scenario.replications, seed=scenario.seed,
                    fallback=fallback_of(scenario), plan=plan_of(scenario), placing_authority=placing_authority,
                    start=start, workers=workers, progress=progress, initial_queue=queue,
                    region=isinstance(demand, RegionalDemand))


def prepare_scenario(scenario: TenderScenario, supply: pd.DataFrame, demand: Demand | RegionalDemand, *,
                     queue: pd.DataFrame,
                     placing_authority: str, start: dt.date) -> Prepared:
    """The scenario's simulation ready to run its replications anywhere (scenarios.sweep): the
    same seeds, so the same result as ``run_scenario``."""
    months, arrivals = _arrivals(scenario, demand, start)
    return prepare(supply, arrivals, months=months, replications=scenario.replications, seed=scenario.seed,
                   fallback=fallback_of(scenario), plan=plan_of(scenario), placing_authority=placing_authority,
                   start=start, initial_queue=queue, region=isinstance(demand, RegionalDemand))


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
    """kpis.csv (every scenario, year and KPI), unmet_by_tier.csv, unmet_by_area.csv,
    placed_by_area.csv (by council in a region) and comparison.png."""
    out.mkdir(parents=True, exist_ok=True)
    kpis = pd.concat([r.years.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    tiers = pd.concat([r.unmet_by_tier.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    areas = pd.concat([r.unmet_by_area.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    placed = pd.concat([r.placed_by_area.assign(scenario=name) for name, r in results.items()], ignore_index=True)
    paths = [out / "kpis.csv", out / "unmet_by_tier.csv", out / "unmet_by_area.csv", out / "placed_by_area.csv",
             out / "comparison.png"]
    # Opened in spreadsheets: a scenario's name (the commissioner's text) must not run as a formula.
    inert_frame(kpis[["scenario", "year", "kpi", "median", "p10", "p90"]].round(4)).to_csv(paths[0], index=False)
    inert_frame(tiers.round(3)).to_csv(paths[1], index=False)
    inert_frame(areas.round(3)).to_csv(paths[2], index=False)
    inert_frame(placed.round(3)).to_csv(paths[3], index=False)
    chart(results, paths[4])
    return paths


def chart(results: dict, path: Path, *, starts: dict[str, dt.date] | None = None) -> None:
    """Four measures by year, one line a scenario (the median, shaded from the 10th to the 90th
    percentile), with labelled axes: money in pounds, the share over 20 miles in per cent, and
    each year shown as the date it ends when ``starts`` gives the date each run started
    (``{name: date}``), else as "year 1", "year 2"..."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    shown = {  # measure: (title, what the vertical axis counts)
        "weekly_cost": ("Cost a week", "£ a week"),
        "unmet_need": ("Young people waiting for a home", "young people (average at a month's end)"),
        "spot_purchases": ("Spot purchases", "spot purchases in the year"),
        "share_over_20_miles": ("Placements more than 20 miles from home", "share of new placements"),
    }
    fig, axes = plt.subplots(1, len(shown), figsize=(16, 4.6), dpi=100)
    colours = ["#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#f47738", "#505a5f"]
    dated = bool(starts) and all(name in starts for name in results)
    for ax, (kpi, (title, unit)) in zip(axes, shown.items()):
        # Lines told apart by colour and by dash and marker too (a scenario equal to another still shows)
        styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]
        for (name, result), colour, (line, marker) in zip(results.items(), colours * 3, styles * 6):
            f = result.years[result.years["kpi"] == kpi].sort_values("year")
            x = [year_ends(starts[name], int(y)) for y in f["year"]] if dated else list(f["year"])
            ax.fill_between(x, f["p10"].astype(float), f["p90"].astype(float), color=colour, alpha=0.15, linewidth=0)
            ax.plot(x, f["median"].astype(float), color=colour, label=name, linewidth=2, linestyle=line, marker=marker)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        if dated:
            ax.set_xlabel("year ending")
            first = next(iter(results))  # a tick at each year's end, as the first scenario's run has them
            years = sorted(int(y) for y in set(results[first].years["year"]))
            ax.set_xticks([mdates.date2num(year_ends(starts[first], y)) for y in years])
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b %Y"))
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
        else:
            ax.set_xlabel("year of the simulation")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"year {v:.0f}"))
        if kpi.startswith("share_"):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.set_ylim(0, max(0.1, ax.get_ylim()[1]))
        elif kpi.endswith("_cost"):
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.0f}"))
            ax.set_ylim(bottom=0)
        else:  # people and purchases: whole numbers, and an axis that shows none at all as none
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(0, max(5, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle("Tender scenarios by year: the middle result of the replications (line) and the range "
                 "8 in 10 of them fall within (shaded)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def year_ends(start: dt.date, year: int) -> dt.date:
    """The last day of a run's ``year`` (1 = the first twelve months from ``start``)."""
    try:
        return start.replace(year=start.year + year) - dt.timedelta(days=1)
    except ValueError:  # started on 29 February
        return start.replace(year=start.year + year, day=28)


# --- the comparison the commissioner's page shows -----------------------------------------------

# How each measure is written: money, a share (in per cent), a count, or an average.
KPI_KINDS = {
    "placements_made": "count", "spot_purchases": "count", "emergency_nights": "count",
    "unmet_need": "average", "total_cost": "money", "weekly_cost": "money", "unit_weekly_cost": "money",
    "void_cost": "money", "trial_stay_cost": "money", "floating_support_cost": "money",
    "share_over_20_miles": "share", "share_out_of_area": "share",
    "average_wait_days": "average",
}
MINUS = "\u2212"


def figure(kind: str, value: float | None) -> str:
    """A measure's value in words and figures: £12,345, 12%, 1,234 or 2.5."""
    if value is None or not np.isfinite(value):
        return "no figure"
    if kind == "money":
        return f"£{value:,.0f}" if value >= 0 else f"{MINUS}£{-value:,.0f}"
    if kind == "share":
        return f"{value:.0%}"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def change(kind: str, value: float | None, baseline: float | None) -> str:
    """The change from the baseline's value, in words: "£1,234 more (+5%)", "3 fewer (−10%)",
    "up from 12% to 15%" (a share's change is its two percentages, never a difference of them)."""
    if value is None or baseline is None or not (np.isfinite(value) and np.isfinite(baseline)):
        return "no figure"
    if kind == "share":
        before, after = round(baseline * 100), round(value * 100)
        if before == after:
            return f"no change ({after}%)"
        return f"{'up' if after > before else 'down'} from {before}% to {after}%"
    diff = value - baseline
    amount = f"{abs(diff):,.0f}" if kind in ("money", "count") else f"{abs(diff):,.1f}"
    if float(amount.replace(",", "")) == 0:  # no change that the figures show
        return "no change"
    share = abs(diff) / abs(baseline) if baseline else 0.0
    relative = f" ({'+' if diff > 0 else MINUS}{share:.0%})" if share >= 0.005 else ""
    if kind == "money":
        return f"£{amount} {'more' if diff > 0 else 'less'}{relative}"
    return f"{amount} {'more' if diff > 0 else 'fewer'}{relative}"


def compare(results: dict, baseline: str, year: int | None = None, labels: dict[str, str] | None = None) -> list[dict]:
    """One row a measure: each scenario's median and 10th-90th percentile in ``year`` (each
    run's last year by default), written out, and each other scenario's change against the
    ``baseline`` (a key of ``results``). ``labels``: the measures' names (KPI_LABELS' by default)."""
    if baseline not in results:
        raise KeyError(baseline)
    at = {}
    for name, result in results.items():
        frame = result.years
        chosen = year or int(frame["year"].max()) if len(frame) else 0
        at[name] = frame[frame["year"] == chosen].set_index("kpi")
    rows = []
    for kpi in KPIS:
        kind = KPI_KINDS[kpi]
        values = {}
        for name, frame in at.items():
            if kpi in frame.index:
                r = frame.loc[kpi]
                values[name] = tuple(float(r[c]) if r[c] is not None else float("nan") for c in ("median", "p10", "p90"))
            else:
                values[name] = (float("nan"),) * 3
        base = values[baseline][0]
        rows.append({
            "kpi": kpi, "kind": kind, "label": (labels or {}).get(kpi, KPI_LABELS[kpi][0]),
            "cells": {name: {"median": figure(kind, v[0]),
                             "range": (f"{figure(kind, v[1])} to {figure(kind, v[2])}"
                                       if np.isfinite(v[1]) and np.isfinite(v[2]) else "")}
                      for name, v in values.items()},
            "changes": {name: change(kind, v[0], base) for name, v in values.items() if name != baseline},
        })
    return rows


# --- a run's progress, for a page to show while it works ----------------------------------------


class RunCancelled(Exception):
    """The run was cancelled (its progress callback stops the simulation between replications)."""


@dataclass
class RunProgress:
    """How far a run has gone: replications done of ``replications``, each ``months`` long.
    The simulation reports each finished replication (``scenarios.simulate``), so months are
    counted a replication at a time; the time left is the time the replications so far took,
    per replication, times those still to do. Times are seconds since the epoch (wall clock,
    not a process's monotonic clock) so that a progress kept in the run's row reads the same
    in every process of the service (api.scenario_runs)."""

    replications: int
    months: int
    done: int = 0
    stage: str = "preparing"  # preparing (the returns, the market, the demand) | simulating
    started: float = dataclasses.field(default_factory=time.time)
    simulating_since: float | None = None
    first_done_at: float | None = None  # the first replication also warms up caches: timed apart
    cancel_requested: bool = False

    def simulating(self) -> None:
        self.stage, self.simulating_since = "simulating", time.time()

    def replicated(self, done: int) -> None:
        if self.first_done_at is None and done >= 1:
            self.first_done_at = time.time()
        self.done = done

    @property
    def months_done(self) -> int:
        return self.done * self.months

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.stage != "simulating" or not self.done or self.simulating_since is None:
            return None
        now = time.time() if now is None else now
        if self.done >= 2 and self.first_done_at is not None:
            per = (now - self.first_done_at) / (self.done - 1)
        else:
            per = (now - self.simulating_since) / self.done
        return max(0.0, per * (self.replications - self.done))

    def words(self) -> str:
        return self.say(self.seconds_left())

    def say(self, seconds_left: float | None) -> str:
        """How far the run has gone, in a sentence, with ``seconds_left`` (None: not known yet)."""
        if self.stage != "simulating":
            return "Getting ready: reading the council's returns, the market and the demand."
        text = (f"{self.done:,} of {self.replications:,} replications done "
                f"({self.months_done:,} of {self.replications * self.months:,} months simulated).")
        return f"{text} {time_left(seconds_left)}" if seconds_left is not None else f"{text} Working out the time left."


def time_left(seconds: float) -> str:
    if seconds < 5:
        return "Almost done."
    if seconds < 90:
        return f"About {max(5, round(seconds / 5) * 5):.0f} seconds left."
    minutes = round(seconds / 60)
    return f"About {minutes} minute{'s' if minutes != 1 else ''} left."
