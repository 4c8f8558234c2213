"""``placematch scenario``: tender scenarios (scenarios/tender.py) from the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from models.base import council_today

scenario_app = typer.Typer(help="Tender scenarios: test framework options against forecast demand.",
                           no_args_is_help=True)
out = Console(width=160)
err = Console(stderr=True, width=200)


def _fail(message: str) -> None:
    err.print(f"[bold red]Nothing run[/]: {message}", highlight=False)
    raise typer.Exit(1)


def load_market(files: list[Path], on: dt.date | None = None):
    """[(file, scenario, supply)] for each file, checked against the database's market; every
    file's problems are listed before anything runs."""
    from models.db import is_initialised, make_engine, transaction
    from scenarios.award_options import tenders_from
    from scenarios.tender import (
        TenderFileError,
        apply,
        read_scenario,
        supply_from_database,
    )

    engine = make_engine()
    loaded, problems = [], []
    try:
        if not is_initialised(engine):
            _fail("the database has no market yet: run `placematch demo` or import vacancies first")
        with transaction(engine) as session:
            supply = supply_from_database(session, on or council_today())
            for file in files:  # an award option's tender: kept in the database, or next to the file
                try:
                    scenario = read_scenario(file)
                    loaded.append((file, scenario, apply(scenario, supply, file=file.name,
                                                         tenders=tenders_from(session, Path(file).parent))))
                except TenderFileError as exc:
                    problems.append(str(exc))
    finally:
        engine.dispose()
    if problems:
        _fail("\n".join(problems))
    return supply, loaded


@scenario_app.command("check")
def check(files: list[Path] = typer.Argument(..., help="Scenario files (YAML)")) -> None:
    """Read scenario files, check them against the council's market, and show the market each
    one leaves: homes, beds, free beds, block beds and median prices by service type."""
    from scenarios.tender import summary

    supply, loaded = load_market(files)
    for file, scenario, changed in loaded:
        table = Table(title=f"{scenario.name} ({file.name}): the market it leaves")
        frame = summary(changed).reset_index()
        for column in frame.columns:
            table.add_column(str(column), justify="left" if column == "service_type" else "right")
        for row in frame.itertuples(index=False):
            table.add_row(*[(f"{v:,.0f}" if isinstance(v, float) and v == v else "-" if isinstance(v, float)
                             else str(v)) for v in row])
        out.print(table)
        out.print(f"  {len(changed)} homes, {int(changed['beds'].sum())} beds (the market today: {len(supply)} homes, "
                  f"{int(supply['beds'].sum())} beds); {scenario.horizon_years} years, {scenario.replications} "
                  f"replications, seed {scenario.seed}", style="dim")


def _history(input: str, out_dir: Path):
    """The forecast's history: an SSDA903 folder, or the demo's returns."""
    from api.forecast_cli import _load

    history, table = _load(input, out_dir, False, None)
    if table is None:
        return history
    _fail("tender scenarios need SSDA903 returns (a table of counts has no flows to draw referrals from)")


def _simulate_all(files: list[Path], input: str, out_dir: Path, workers: int, start: dt.date | None, save: bool,
                  address: str | None = None, region: bool = False):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from api.routes.match_runs import default_placing_authority
    from providers.demo import DEMO_AUTHORITY
    from matching.instance import from_database
    from models.db import make_engine, migrate, transaction
    from scenarios.sweep import SweepError, cluster, run_sweep
    from scenarios.tender_run import (
        RegionalDemandError,
        comparison,
        demand_for,
        prepare_scenario,
        regional_demand,
        regional_queue,
        save_result,
        write,
    )
    from scenarios.what_if import WhatIfError

    start = start or council_today()
    _, loaded = load_market(files, start)
    history = _history(input, out_dir)
    authority = default_placing_authority()
    engine = make_engine()
    migrate(engine)
    results, saved = {}, []
    try:
        with transaction(engine) as session:
            if region:
                try:
                    councils, queue = regional_queue(session, start)
                except RegionalDemandError as exc:
                    _fail(str(exc))
                authority = councils[0]
            else:
                queue = from_database(session, authority, start).referrals
            demands = {}
            for file, scenario, _ in loaded:
                try:
                    demands[file] = regional_demand(session, scenario, history, demo_council=(
                        DEMO_AUTHORITY if input == "demo" else None)) if region else demand_for(
                        session, scenario, history)
                except WhatIfError as exc:
                    _fail(f"{scenario.name}: demand > forecast_scenario: {exc}")
                except RegionalDemandError as exc:
                    _fail(f"{scenario.name}: {exc}")
        prepared = {scenario.name: prepare_scenario(scenario, supply, demands[file], queue=queue,
                                                    placing_authority=authority, start=start)
                    for file, scenario, supply in loaded}
        try:
            with cluster(address, workers) as client, Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=out) as bar:
                tasks = {s.name: bar.add_task(s.name, total=s.replications) for _, s, _ in loaded}
                results = run_sweep(prepared, client, lambda name, done: bar.update(tasks[name], completed=done))
        except SweepError as exc:
            _fail(str(exc))
        if save:
            for file, scenario, _ in loaded:
                with transaction(engine) as session:
                    saved.append(save_result(session, scenario, file, results[scenario.name], "cli").id)
    finally:
        engine.dispose()
    table = Table(title=f"Tender scenarios: year {max(r.years['year'].max() for r in results.values())} "
                        "(median over replications, 10th-90th percentile)")
    frame = comparison(results)
    table.add_column("KPI")
    for name in frame.columns:
        table.add_column(name, justify="right")
    for label, row in frame.iterrows():
        table.add_row(label, *row.tolist())
    out.print(table)
    if region:
        out.print(_by_council(results))
    for name, result in results.items():
        out.print(f"  {name}: {result.replications} replications of {result.months} months, seed {result.seed}, "
                  f"{result.seconds:.1f} s", style="dim", highlight=False)
    paths = write(results, out_dir)
    out.print("Wrote " + ", ".join(str(p) for p in paths) + (f"; saved as result(s) {saved}" if saved else ""))


def _by_council(results) -> Table:
    """Each council's placements from the market and young people waiting, in the last year, for
    each scenario (median, 10th-90th percentile)."""
    from providers.authorities import default_authorities

    authorities = default_authorities()
    table = Table(title="By council, last year: placements from the market a year; young people waiting "
                        "(month end, average)")
    table.add_column("council")
    cells: dict[str, list[str]] = {}
    for name, result in results.items():
        table.add_column(name, justify="right")
        last = result.years["year"].max()
        placed = result.placed_by_area[result.placed_by_area["year"] == last].set_index("area")
        waiting = result.unmet_by_area[result.unmet_by_area["year"] == last].set_index("area")
        for council in sorted(set(placed.index) | set(waiting.index)):
            p = placed.loc[council] if council in placed.index else None
            w = waiting.loc[council] if council in waiting.index else None
            text = (f"{p['median']:,.0f} ({p['p10']:,.0f}-{p['p90']:,.0f})" if p is not None else "0") + "; " + (
                f"{w['median']:,.1f}" if w is not None else "0")
            cells.setdefault(council, []).append(text)
    for council, row in sorted(cells.items(), key=lambda kv: authorities.name(kv[0])):
        table.add_row(authorities.name(council), *(row + ["-"] * (len(results) - len(row))))
    return table


RegionOption = typer.Option(False, "--region", help="Every council of the database at once, on one market: each "
                                                   "council's demand from its own returns (with --input demo: the "
                                                   "demo council's, scaled by each council's young people), its "
                                                   "own beds for it alone; figures also by council")
StartOption = typer.Option(None, "--start", formats=["%Y-%m-%d"], help="The first month (default: today)")
WorkersOption = typer.Option(2, "--workers", min=1, max=64,
                             help="Worker processes of the local Dask cluster (not used with --cluster)")
ClusterOption = typer.Option(None, "--cluster", help="A running Dask cluster's address (tcp://host:8786); "
                                                     "default: a local cluster on this machine")


@scenario_app.command("run")
def run(
    file: Path = typer.Argument(..., help="A scenario file (YAML)"),
    input: str = typer.Option("demo", "--input", help="SSDA903 returns for the demand (a folder), or 'demo'"),
    out_dir: Path = typer.Option(Path("out/scenarios"), "--out", help="Folder for kpis.csv and the chart"),
    workers: int = WorkersOption,
    start: Optional[dt.datetime] = StartOption,
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the result in the database"),
    address: Optional[str] = ClusterOption,
    region: bool = RegionOption,
) -> None:
    """Simulate one scenario month by month over its horizon: KPIs per year with intervals."""
    _simulate_all([file], input, out_dir, workers, start.date() if start else None, save, address, region)


@scenario_app.command("compare")
def compare(
    files: list[Path] = typer.Argument(..., help="Scenario files (YAML), e.g. scenarios/examples/*.yaml"),
    input: str = typer.Option("demo", "--input", help="SSDA903 returns for the demand (a folder), or 'demo'"),
    out_dir: Path = typer.Option(Path("out/scenarios"), "--out", help="Folder for kpis.csv and the chart"),
    workers: int = WorkersOption,
    start: Optional[dt.datetime] = StartOption,
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the results in the database"),
    address: Optional[str] = ClusterOption,
    region: bool = RegionOption,
) -> None:
    """Simulate several scenarios on the same demand and show them side by side."""
    _simulate_all(files, input, out_dir, workers, start.date() if start else None, save, address, region)
