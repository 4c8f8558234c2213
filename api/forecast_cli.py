"""``placematch forecast``: the sufficiency forecast and its backtest from the command line.

``--input`` is a folder of SSDA903 CSV files (header, episodes, oc3, uasc; one set per year or
combined, told apart by name), a published age table (one CSV file), or ``demo`` for the demo
council's generated returns (written beside the output so their format can be seen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from models.spreadsheet import inert_frame

forecast_app = typer.Typer(help="Sufficiency forecast: 16-25 demand by tier and service type, with intervals.",
                           invoke_without_command=True, no_args_is_help=False)
scenario_app = typer.Typer(help="Named what-if forecast scenarios, saved in the database.", no_args_is_help=True)
forecast_app.add_typer(scenario_app, name="scenario")

out = Console(width=160)
err = Console(stderr=True, width=200)

InputOption = typer.Option(None, "--input", help="SSDA903 folder, an age table CSV, or 'demo'")
RepairOption = typer.Option(False, "--repair", help="Trim overlapping episodes and leave out children with no "
                                                    "header row (each repair is reported) instead of refusing")
YearOption = typer.Option(None, "--year", help="The collection year of files with no YEAR column (2023 = 2023/24)")
LaOption = typer.Option(None, "--la", help="Only this council, when the files hold several (their LA column)")


def _fail(message: str) -> None:
    err.print(f"[bold red]Nothing computed[/]: {message}", markup=True, highlight=False)
    raise typer.Exit(1)


def _load(input: Optional[str], out_dir: Path, repair: bool, year: Optional[int], group: Optional[str] = None):
    """(history, None) for SSDA903 files or the demo; (None, table) for an age table."""
    from scenarios.aggregate import read_table
    from scenarios.demo_history import demo_history
    from scenarios.ssda903 import SSDA903Error, history_from_folder

    if not input:
        _fail("give --input: a folder of SSDA903 files, an age table CSV, or 'demo'")
    try:
        if input == "demo":
            return demo_history(out_dir / "ssda903"), None
        path = Path(input)
        if path.is_dir():
            return history_from_folder(path, default_year=year, repair=repair), None
        if path.is_file():
            return None, read_table(path, group=group)
        _fail(f"{input}: no such file or folder")
    except SSDA903Error as exc:
        _fail(str(exc))


@forecast_app.callback()
def forecast(
    ctx: typer.Context,
    input: Optional[str] = InputOption,
    horizon: int = typer.Option(5, "--horizon", help="Years ahead, 1 to 10"),
    out_dir: Path = typer.Option(Path("out/forecast"), "--out", help="Folder for projection.csv, beds.csv, fan_chart.png"),
    adjust: list[str] = typer.Option([], "--adjust", help="A what-if on a rate, e.g. entries*1.2@16-17 (repeatable)"),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="A saved forecast scenario's adjustments"),
    replications: int = typer.Option(500, "--replications", min=50, max=5000, help="Bootstrap replications"),
    seed: int = typer.Option(2026, "--seed"),
    la: Optional[str] = LaOption,
    region: bool = typer.Option(False, "--region", help="Every council in the files, each projected from its own "
                                "returns, and the region's sum (its intervals from the summed replications)"),
    repair: bool = RepairOption,
    year: Optional[int] = YearOption,
    group: Optional[str] = typer.Option(
        None, "--group", help="Whose counts an age table without a group column holds: "
                              "'looked after', 'care leavers' or 'all' (the default)"),
) -> None:
    """Project people by age band and state and beds by service type, tier and area, each 31
    March, with 80% and 95% intervals; write the CSV files and a fan chart."""
    if ctx.invoked_subcommand is not None:
        return
    from scenarios.cohort import Rules
    from scenarios.forecast import (
        ForecastError,
        check_horizon,
        forecast_history,
        forecast_region,
        forecast_table,
        write,
    )
    from scenarios.what_if import WhatIfError, parse_adjustment

    try:
        check_horizon(horizon)
        adjustments = [parse_adjustment(a) for a in adjust]
        rules = Rules()
        if scenario:
            saved, rules = _saved_scenario(scenario)
            adjustments = saved + adjustments
    except (ForecastError, WhatIfError) as exc:
        _fail(str(exc))
    history, table = _load(input, out_dir, repair, year, group)
    try:
        if table is not None:
            if adjustments:
                _fail("what-if adjustments need SSDA903 files (a table has no rates by state)")
            result = forecast_table(table, horizon, replications=replications, seed=seed)
        elif region:
            if la:
                _fail("--region forecasts every council in the files: leave out --la")
            result = forecast_region(history, horizon, rules=rules, adjustments=adjustments, mix=_need_mix(),
                                     replications=replications, seed=seed)
        else:
            result = forecast_history(history, horizon, rules=rules, adjustments=adjustments, mix=_need_mix(),
                                      replications=replications, seed=seed, la=la)
    except ForecastError as exc:
        _fail(str(exc))
    paths = write(result, out_dir)
    _print_people(result)
    for note in result.notes:
        out.print(f"  {note}", style="dim", highlight=False)
    out.print("Wrote " + ", ".join(str(p) for p in paths))


def _need_mix():
    """The council's own tier and area mix when the database has placements (else defaults)."""
    from models.db import is_initialised, make_engine, transaction
    from scenarios.demand import NeedMix, need_mix_from_database

    engine = make_engine()
    try:
        if not is_initialised(engine):
            return NeedMix()
        with transaction(engine) as session:
            return need_mix_from_database(session)
    finally:
        engine.dispose()


def _saved_scenario(name: str):
    from models.db import make_engine, migrate, transaction
    from scenarios.what_if import load_scenario

    engine = make_engine()
    migrate(engine)
    try:
        with transaction(engine) as session:
            return load_scenario(session, name)
    finally:
        engine.dispose()


def _print_people(result) -> None:
    people = result.people
    first, last = result.dates[0], result.dates[-1]
    table = Table(title=f"Young people at 31 March {first.year} and {last.year} (mean, 80% interval)")
    for col in ("age band", "state", str(first.year), str(last.year), "80% interval"):
        table.add_column(col, justify="left" if col in ("age band", "state") else "right")
    for (band, state), g in people.groupby(["band", "state"], sort=False):
        g = g.set_index("date")
        if g["mean"].max() < 0.5 and g["hi95"].max() < 1:
            continue
        end = g.loc[last]
        table.add_row(band, state, f"{g.loc[first, 'mean']:.0f}", f"{end['mean']:.1f}",
                      f"{end['lo80']:.0f}-{end['hi80']:.0f}")
    out.print(table)


@forecast_app.command("backtest")
def backtest(
    input: Optional[str] = InputOption,
    replications: int = typer.Option(200, "--replications", min=50, max=5000),
    seed: int = typer.Option(2026, "--seed"),
    out_dir: Path = typer.Option(Path("out/forecast"), "--out", help="Folder for backtest.csv"),
    la: Optional[str] = LaOption,
    repair: bool = RepairOption,
    year: Optional[int] = YearOption,
) -> None:
    """Train on years up to t-1, predict t and t+2: WAPE and MAE one year ahead and three years
    ahead against naive persistence and linear trend, by fold and by age band and state, and how
    often the forecast's own intervals cover what happened."""
    import dataclasses

    from scenarios.backtest import run_backtest
    from scenarios.cohort import Rules

    history, table = _load(input, out_dir, repair, year)
    if table is not None:
        _fail("the backtest needs SSDA903 files (a table has no states to score)")
    if la:
        history = dataclasses.replace(history, episodes=history.episodes[history.episodes["LA"] == la])
    # Care leavers are seen in the returns only to 21, so the backtest scores the model as the
    # data can check it: no one continuing past 21.
    result = run_backtest(history, Rules(continue_to_25_share=0.0), replications=replications, seed=seed)
    out.print(backtest_table(result.by_horizon, "Backtest, all cells: share of people wrong (WAPE) and "
                             "mean error per cell (MAE, people); the intervals' coverage"))
    out.print(backtest_table(result.folds, "Each fold (the year the forecast was made from)"))
    out.print(backtest_table(result.summary, "By age band and state (cells with anyone in them)",
                             ["actual people", "WAPE model", "WAPE persistence", "WAPE trend", "cover 80",
                              "cover 95", "verdict"]))
    for note in history.repairs:
        out.print(f"  {note}", style="dim", highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    inert_frame(result.cells.round(2)).to_csv(out_dir / "backtest.csv", index=False)  # opened in spreadsheets
    out.print(f"Wrote {out_dir / 'backtest.csv'}")


_AHEAD = {1: "1 year ahead", 3: "3 years ahead"}


_SCORES = ["cells", "actual people", *(f"WAPE {m}" for m in ("model", "persistence", "trend")),
           *(f"MAE {m}" for m in ("model", "persistence", "trend")), "cover 80", "cover 95"]


def backtest_table(frame, title: str, measures: list[str] = _SCORES) -> Table:
    """One of the backtest's score frames as a table for people: horizons and states in words,
    shares as percentages, and rows where nobody was and nobody was predicted left out."""
    from models.glossary import FORECAST_STATES

    keys = [c for c in ("horizon", "origin", "band", "state") if c in frame.columns]
    table = Table(title=title)
    for col in keys + measures:
        label = {"origin": "made from", "band": "age band", "cover 80": "cover 80%", "cover 95": "cover 95%"}.get(col, col)
        table.add_column(label, justify="left" if col in ("horizon", "band", "state", "verdict") else "right")
    for r in frame.to_dict("records"):
        if r["actual people"] == 0 and r["MAE model"] < 0.5:
            continue
        cells = [_AHEAD.get(r[k], f"{r[k]} years ahead") if k == "horizon"
                 else FORECAST_STATES.get(r[k], r[k]) if k == "state" else str(r[k]) for k in keys]
        for col in measures:
            v = r[col]
            cells.append(v if isinstance(v, str) else str(int(v)) if col in ("cells", "actual people")
                         else _pct(v) if col.startswith(("WAPE", "cover")) else f"{v:.1f}")
        table.add_row(*cells)
    return table


def _pct(value: float) -> str:
    return "-" if value != value else f"{value:.0%}"


@scenario_app.command("save")
def scenario_save(
    name: str = typer.Argument(..., help="The scenario's name"),
    adjust: list[str] = typer.Option([], "--adjust", help="e.g. uasc_entries*1.5 (repeatable)"),
    rule: list[str] = typer.Option([], "--rule", help="NAME=VALUE, e.g. continue_to_25_share=0.4 (repeatable)"),
    description: Optional[str] = typer.Option(None, "--description"),
) -> None:
    """Save (or replace) a named what-if scenario for forecasts (audited)."""
    from models.db import make_engine, migrate, transaction
    from scenarios.what_if import WhatIfError, save_scenario

    rules = {}
    for item in rule:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--rule {item}: write NAME=VALUE")
        try:
            rules[key.strip()] = float(value) if "." in value or "share" in key else int(value)
        except ValueError:
            _fail(f"--rule {item}: {value} is not a number")
    engine = make_engine()
    migrate(engine)
    try:
        with transaction(engine) as session:
            saved = save_scenario(session, name, adjust, rules, "cli", description)
            out.print(f"Saved forecast scenario '{saved.name}': {len(saved.adjustments)} adjustment(s), "
                      f"rules {saved.rules or 'as default'}")
    except WhatIfError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
