"""The ``placematch`` command line.

Commands are thin: each opens the database named by ``DATABASE_URL`` (a local SQLite file by
default), calls one function of the domain packages, and prints the outcome. Errors in input
files are printed one per line, naming file, row, column and reason, and exit with status 1;
nothing is written when there is any error.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from models.db import database_url, is_initialised, make_engine, migrate, transaction

app = typer.Typer(
    help="placematch: accommodation matching and commissioning for young people 16-25 "
    "in and leaving care.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Import an interchange CSV file (all-or-nothing).", no_args_is_help=True)
app.add_typer(import_app, name="import")

# Piped output (CI logs, `| less`) gets a width that fits the summary tables, not rich's 80.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)


def _engine() -> Engine:
    engine = make_engine()
    migrate(engine)  # idempotent: brings any existing database up to the current schema
    return engine


def _where() -> str:
    return make_url(database_url()).render_as_string(hide_password=True)


@app.command("init-db")
def init_db() -> None:
    """Create the database, or bring an existing one up to the current schema."""
    engine = make_engine()
    fresh = not is_initialised(engine)
    migrate(engine)
    out.print(f"{'Created' if fresh else 'Upgraded'} database at {_where()}")


@app.command()
def demo(
    seed: int = typer.Option(2026, help="Seed of the generator: the same seed gives the same council."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", help="Panel date the demo is built around (YYYY-MM-DD); default today."
    ),
    reset: bool = typer.Option(False, help="Empty the database first and build the demo again."),
) -> None:
    """Create the demo council (Medway) if the database is empty, and print its summary."""
    from providers.demo import DEMO_AUTHORITY, build_demo, summarise
    from models.orm import Referral

    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        err.print(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2)
    engine = make_engine()
    if reset:
        _drop_everything(engine)
    migrate(engine)
    with transaction(engine) as session:
        empty = session.scalar(select(func.count()).select_from(Referral)) == 0
        if empty:
            with out.status("Building the demo council..."):
                build_demo(session, seed=seed, as_of=day)
    with transaction(engine) as session:
        summary = summarise(session, DEMO_AUTHORITY)
    verb = "Built" if empty else "Database already holds data; showing"
    out.print(f"{verb} the demo council at {_where()}")
    _print_summary(summary)


def _drop_everything(engine: Engine) -> None:
    from models.orm import Base
    from sqlalchemy import text

    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP FUNCTION IF EXISTS audit_event_append_only() CASCADE"))


def _print_summary(summary) -> None:
    totals = Table(title="Demo council: " + summary.placing_authority_name, show_header=False)
    for label, value in summary.totals():
        totals.add_row(label, f"{value:,}")
    out.print(totals)
    out.print(_table("By local authority", summary.area_headings(), summary.area_rows()))
    out.print(_table("Demand and supply by support tier", summary.tier_headings(), summary.tier_rows()))


def _table(title: str, headings, rows) -> Table:
    """A table whose first column is a label and whose other columns are counts."""
    table = Table(title=title)
    for k, heading in enumerate(headings):
        table.add_column(heading, justify="left" if k == 0 else "right")
    for row in rows:
        table.add_row(*[f"{c:,}" if isinstance(c, int) else str(c) for c in row])
    return table


@import_app.command("referrals")
def import_referrals(file: Path = typer.Argument(..., help="referrals.csv (see README)")) -> None:
    """Import referrals (young people and their needs); existing ids are updated."""
    from providers.interchange import import_referrals as run

    _run_import(run, file)


@import_app.command("vacancies")
def import_vacancies(file: Path = typer.Argument(..., help="vacancies.csv (see README)")) -> None:
    """Import vacancies with their providers, properties and tier prices."""
    from providers.interchange import import_vacancies as run

    _run_import(run, file)


def _run_import(run, file: Path) -> None:
    from providers.interchange import ImportFailed

    engine = _engine()
    try:
        report = run(engine, file)
    except ImportFailed as failure:
        err.print(f"[bold red]Nothing imported[/]: {len(failure.errors)} problem(s) in {file}")
        for line in str(failure).splitlines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(1)
    out.print(str(report))


@app.command("export")
def export(directory: Path = typer.Argument(..., help="Folder to write referrals.csv and vacancies.csv into")) -> None:
    """Export open referrals and current vacancies as interchange CSV files."""
    from providers.interchange import export_dir

    written = export_dir(_engine(), directory)
    for name, path in written.items():
        out.print(f"wrote {name}: {path}")


if __name__ == "__main__":  # pragma: no cover
    app()
