"""``placematch scenario``: tender scenarios (scenarios/tender.py) from the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

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
    from scenarios.tender import TenderFileError, apply, read_scenario, supply_from_database

    engine = make_engine()
    try:
        if not is_initialised(engine):
            _fail("the database has no market yet: run `placematch demo` or import vacancies first")
        with transaction(engine) as session:
            supply = supply_from_database(session, on or dt.date.today())
    finally:
        engine.dispose()
    loaded, problems = [], []
    for file in files:
        try:
            scenario = read_scenario(file)
            loaded.append((file, scenario, apply(scenario, supply, file=file.name)))
        except TenderFileError as exc:
            problems.append(str(exc))
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
