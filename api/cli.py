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
from sqlalchemy.exc import NoResultFound

from models.base import council_today
from models.db import database_url, is_initialised, make_engine, migrate, transaction

app = typer.Typer(
    help="placematch: accommodation matching and commissioning for young people 16-25 "
    "in and leaving care.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Import an interchange CSV file (all-or-nothing).", no_args_is_help=True)
app.add_typer(import_app, name="import")
from api.forecast_cli import forecast_app  # noqa: E402 (a sub-command group of its own module)

app.add_typer(forecast_app, name="forecast")
from api.scenario_cli import scenario_app  # noqa: E402

app.add_typer(scenario_app, name="scenario")
from api.tender_cli import tender_app  # noqa: E402

app.add_typer(tender_app, name="tender")

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


def _as_of_day(as_of: Optional[str]) -> dt.date:
    try:
        return dt.date.fromisoformat(as_of) if as_of else council_today()
    except ValueError:
        err.print(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2)


@app.command()
def demo(
    seed: int = typer.Option(2026, help="Seed of the generator: the same seed gives the same council."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", help="Panel date the demo is built around (YYYY-MM-DD); default today."
    ),
    reset: bool = typer.Option(False, help="Empty the database first and build the demo again."),
    users: bool = typer.Option(False, "--users", help="Also create one demo user per role and print how to sign in."),
    region: Optional[str] = typer.Option(None, "--region", help="Build a regional demo instead: south-east (the South "
                                         "East's councils as one Regional Care Co-operative, one shared market)"),
) -> None:
    """Create the demo council (Medway) if the database is empty, and print its summary."""
    from models.orm import Referral
    from providers.demo import DEMO_AUTHORITY, build_demo, summarise

    day = _as_of_day(as_of)
    engine = make_engine()
    if reset:
        _drop_everything(engine)
    migrate(engine)
    if region is not None:
        _region_demo(engine, region, seed, day, users)
        return
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
    if users:
        table = Table(title=f"Demo users (demo only), password: {DEMO_PASSWORD}")
        table.add_column("username")
        table.add_column("role")
        for name, role in _demo_users(engine):
            table.add_row(name, role)
        out.print(table)


def _region_demo(engine: Engine, region: str, seed: int, day: dt.date, users: bool) -> None:
    from providers.demo import DemoError
    from scenarios.region_demo import REGIONS, TAGS, build_region_demo

    if region not in REGIONS:
        err.print(f"--region {region!r}: choose {', '.join(REGIONS)}")
        raise typer.Exit(2)
    try:
        with out.status("Building the regional demo..."), transaction(engine) as session:
            built = build_region_demo(session, region, seed=seed, as_of=day)
    except DemoError as exc:
        err.print(f"[bold red]Not built[/]: {exc}")
        raise typer.Exit(1)
    out.print(f"Built {built.rcc} at {_where()}: {len(built.councils)} councils, {built.providers:,} providers, "
              f"{built.homes:,} homes, {built.rows:,} vacancy rows ({built.beds:,} beds)")
    out.print(_table("Councils (sized by their share of the region's postcodes)",
                     ["council", "code", "letters", "share", "young people waiting", "own vacancy rows",
                      "the region's rows in its area"], built.rows_for_print()))
    if users:
        made = _region_users(engine, built)
        table = Table(title=f"Demo users (demo only), password: {DEMO_PASSWORD}")
        table.add_column("username")
        table.add_column("role")
        for name, role, council in made:
            if council is None or council == built.councils[0].code:
                pattern = name if council is None else name.replace(f".{TAGS[council].lower()}.", ".<letters>.")
                table.add_row(pattern, role)
        out.print(table)
        out.print(f"{len(made)} users: each council's staff sign in with its letters, e.g. demo.kcc.panel.member "
                  "for Kent's panel")


# A council's staff in the regional demo: who runs its panel and decides (providers' staff are left out).
_REGION_DEMO_ROLES = ("panel_member", "service_manager", "head_of_service", "director", "commissioner", "admin")


def _region_users(engine: Engine, built) -> list[tuple[str, str, str | None]]:
    """Each council's panel, managers, commissioner and admin, and the co-operative's two roles."""
    from api.routes.users import create_user
    from models.accounts import User
    from models.enums import Role
    from scenarios.region_demo import TAGS

    wanted = [(f"demo.rcc.{role.split('_', 1)[1]}", Role(role), None) for role in ("rcc_commissioner", "rcc_analyst")]
    wanted += [(f"demo.{TAGS[c.code].lower()}.{role.replace('_', '.')}", Role(role), c) for c in built.councils
               for role in _REGION_DEMO_ROLES]
    with transaction(engine) as session:
        for name, role, council in wanted:
            if session.scalar(select(User).where(User.username == name)) is None:
                who = f"{council.name} {role.value.replace('_', ' ')}" if council else \
                    f"Co-operative {role.value.split('_', 1)[1]}"
                create_user(session, name, f"{who} (demo)", role, DEMO_PASSWORD,
                            council_code=council.code if council else None)
    return [(name, role.value, council.code if council else None) for name, role, council in wanted]


def _drop_everything(engine: Engine) -> None:
    from sqlalchemy import text

    from models.orm import Base
    from models.people import views

    with engine.begin() as conn:  # the views first: PostgreSQL will not drop a table a view reads
        for view in views():
            conn.execute(text(f"DROP VIEW IF EXISTS {view}"))
        if engine.dialect.name == "postgresql":  # nor one a row-level security policy reads
            policies = conn.execute(text("SELECT policyname, tablename FROM pg_policies "
                                         "WHERE schemaname = current_schema()")).all()
            for policy, table in policies:
                conn.execute(text(f'DROP POLICY IF EXISTS "{policy}" ON "{table}"'))
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


COUNCIL_HELP = ("The council (ONS code) the file is for, in a service of several councils: only its records are "
                "read and changed")


@import_app.command("referrals")
def import_referrals(file: Path = typer.Argument(..., help="referrals.csv, an Excel workbook or a Placements Data "
                                                         "Standard document (.json; see README)"),
                     sheet: Optional[str] = typer.Option(None, "--sheet", help="The workbook's sheet (default: the first)"),
                     council: Optional[str] = typer.Option(None, "--council", help=COUNCIL_HELP),
                     ) -> None:
    """Import referrals (young people and their needs); existing ids are updated."""
    from providers.placements_standard import import_referrals_file as run

    _run_import(run, file, sheet, council)


@import_app.command("vacancies")
def import_vacancies(file: Path = typer.Argument(..., help="vacancies.csv or an Excel workbook (see README)"),
                     sheet: Optional[str] = typer.Option(None, "--sheet", help="The workbook's sheet (default: the first)"),
                     council: Optional[str] = typer.Option(None, "--council", help=COUNCIL_HELP + "; without it, "
                                                           "new vacancies are the whole region's"),
                     ) -> None:
    """Import vacancies with their providers, properties and tier prices."""
    from providers.interchange import import_vacancies as run

    _run_import(run, file, sheet, council)


def _run_import(run, file: Path, sheet: str | None = None, council: str | None = None) -> None:
    from models.tenancy import Council
    from providers.interchange import ImportFailed

    engine = _engine()
    if council is not None:
        with transaction(engine) as session:
            if session.get(Council, council) is None:
                err.print(f"--council: {council} is not a council of this service")
                raise typer.Exit(2)
    try:
        report = run(engine, file, sheet=sheet, council=council)
    except ImportFailed as failure:
        err.print(f"[bold red]Nothing imported[/]: {len(failure.errors)} problem(s) in {file}")
        for line in str(failure).splitlines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(1)
    out.print(str(report))


@app.command("export")
def export(directory: Path = typer.Argument(..., help="Folder to write referrals.csv and vacancies.csv into"),
           council: Optional[str] = typer.Option(None, "--council", help="Only this council's young people and "
                                                 "the market it may use (a service of several councils)")) -> None:
    """Export open referrals and current vacancies as interchange CSV files."""
    from providers.interchange import export_dir

    written = export_dir(_engine(), directory, council=council)
    for name, path in written.items():
        out.print(f"wrote {name}: {path}")


@app.command("export-903")
def export_903(
    directory: Path = typer.Argument(..., help="Folder to write header.csv and episodes.csv into"),
    year: str = typer.Option(..., help="Collection year, 1 April to 31 March, e.g. 2026-27"),
    placing_authority: str = typer.Option("E06000035", help="ONS code of the council making the return"),
    check: bool = typer.Option(False, help="Check the files with the DfE's own validator (make dfe903)"),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", help="Report up to this day in a year not yet over (YYYY-MM-DD); default today."),
) -> None:
    """Write the looked-after young people's placements as SSDA903 Header and Episodes tables."""
    from providers import dfe_validator
    from providers.ssda903_export import CollectionYear, ExportRefused, build_export

    try:
        export = build_export(_engine(), CollectionYear.parse(year), placing_authority, today=_as_of_day(as_of))
    except ExportRefused as refused:
        err.print(f"[bold red]Nothing written[/]: {refused}")
        raise typer.Exit(2)
    written = export.write(directory)
    out.print(str(export), markup=False, highlight=False)
    for name, path in written.items():
        out.print(f"wrote {name}: {path}")
    if check:
        report = dfe_validator.check(written["header"], written["episodes"], export.year.start,
                                     export.placing_authority, directory / "dfe-validator")
        out.print(f"DfE validator ({report.ruleset}): {len(report.ran)} rules ran, {len(report.issues)} rows flagged")
        for rule, count in report.counts().items():
            message = next(i.message for i in report.issues if i.rule == rule)
            out.print(f"  rule {rule}: {count} - {message}", markup=False, highlight=False)


def _council_policies(folder: Path | None, default):
    """``policy_of(council)``: the council's own panel policy from ``folder/<ONS code>.yaml``, else
    ``default``; every file is read (and refused, naming it) before anything runs."""
    from matching.policy import load_policy

    if folder is None:
        return None
    if not folder.is_dir():
        raise ValueError(f"--policies {folder}: not a folder (one <ONS code>.yaml a council)")
    own = {path.stem: load_policy(path) for path in sorted(folder.glob("*.yaml"))}
    return lambda council: own.get(council, default)


def _match_region(day: dt.date, policy, time_limit: float | None, policies: Path | None = None) -> None:
    from api.panel_decisions import council_approval_policy
    from matching.constraints.councils import council_name
    from matching.panel import PanelRunError, run_region
    from matching.policy import PolicyError

    try:
        policy_of = _council_policies(policies, policy)
    except (ValueError, PolicyError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        with out.status("Matching every council's queue at once..."):
            outcome = run_region(engine=_engine(), panel_date=day, policy=policy, approvals_of=council_approval_policy,
                                 time_limit=time_limit, policy_of=policy_of)
    except PanelRunError as exc:
        err.print(f"[bold red]No proposal[/]: {exc}", markup=True)
        raise typer.Exit(1)
    region = outcome.region
    from models.glossary import PROOF

    kept = "; the councils' own proposals kept" if region.kept_own else ""
    table = Table(title=f"The region's run: {PROOF.get(region.result.status, region.result.status)}{kept}")
    for heading in ("council", "run", "placed alone", "placed together", "urgency-weighted: alone", "together"):
        table.add_column(heading, justify="left" if heading == "council" else "right")
    for code, run_id in outcome.run_ids.items():
        table.add_row(council_name(code), str(run_id), str(region.alone_people[code]),
                      str(region.placed_people[code]), str(region.floors[code]), str(region.placed[code]))
    out.print(table)
    out.print(f"The region places {sum(region.placed_people.values())} young people, {region.gain:+d} against the "
              f"councils matching alone ({sum(region.alone_people.values())}); no council places fewer.")


def _pairs_option(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        referral, sep, vacancy = value.partition(":")
        if not sep or not referral or not vacancy:
            err.print(f"--{what} {value!r}: write it as REFERRAL_ID:VACANCY_ID")
            raise typer.Exit(2)
        out.append((referral.strip(), vacancy.strip()))
    return out


@app.command("match")
def match_command(
    referrals: Optional[Path] = typer.Option(None, help="referrals.csv; with --vacancies, match files instead of the database"),
    vacancies: Optional[Path] = typer.Option(None, help="vacancies.csv"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write matches.csv, unplaced.csv, alternatives.csv, summary.json here"),
    policy_file: Optional[Path] = typer.Option(None, "--policy", help="Panel policy YAML (default: matching/policy.yaml)"),
    approvals_file: Optional[Path] = typer.Option(None, "--approvals", help="Approvals policy YAML (default: matching/approvals.yaml)"),
    time_limit: Optional[float] = typer.Option(None, help="Seconds the solver may take (default: the policy's)"),
    baseline: Optional[str] = typer.Option(None, help="Propose with a baseline instead: greedy (one at a time, as panels do) or flow (bare min-cost flow)"),
    placing_authority: str = typer.Option("E06000035", help="ONS code of the placing authority"),
    panel_date: Optional[str] = typer.Option(None, help="Date of the panel (YYYY-MM-DD); default today"),
    lock: list[str] = typer.Option([], help="REFERRAL_ID:VACANCY_ID the proposal must include (repeatable)"),
    ban: list[str] = typer.Option([], help="REFERRAL_ID:VACANCY_ID the proposal must not include (repeatable)"),
    show: int = typer.Option(20, help="Proposals to print (0: none)"),
    why_not: list[str] = typer.Option([], "--why-not", help="REFERRAL_ID:VACANCY_ID: what giving that home to "
                                      "that young person would do to everyone (a re-run with it locked; repeatable)"),
    region: bool = typer.Option(False, "--region", help="Match every council of the database at once on the shared "
                                "market, each guaranteed no fewer placements than alone; each council's part is "
                                "recorded as a run of its own"),
    policies: Optional[Path] = typer.Option(None, "--policies", help="With --region: a folder of each council's own "
                                            "panel policy, <ONS code>.yaml (a council without one gets --policy)"),
) -> None:
    """Match the whole queue at once and explain every proposal and every young person left unplaced.

    On the database (the default) the run is recorded with its proposals; with --referrals and
    --vacancies it reads interchange files and needs --out."""
    from matching.approvals import load_approval_policy
    from matching.panel import PanelRunError, run_panel
    from matching.policy import PolicyError, load_policy

    if (referrals is None) != (vacancies is None):
        err.print("give both --referrals and --vacancies, or neither (to match the database)")
        raise typer.Exit(2)
    if referrals is not None and out_dir is None:
        err.print("matching files needs --out DIR for the results")
        raise typer.Exit(2)
    if baseline not in (None, "greedy", "flow"):
        err.print(f"--baseline {baseline!r}: choose greedy or flow")
        raise typer.Exit(2)
    try:
        day = dt.date.fromisoformat(panel_date) if panel_date else council_today()
        policy = load_policy(policy_file)
        approvals = load_approval_policy(approvals_file)
    except (ValueError, PolicyError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2)
    locks, bans = _pairs_option(lock, "lock"), _pairs_option(ban, "ban")
    questions = _pairs_option(why_not, "why-not")
    if region:
        _match_region(day, policy, time_limit, policies)
        return
    try:
        with out.status("Matching the queue..."):
            outcome = run_panel(
                engine=None if referrals else _engine(), files=(referrals, vacancies) if referrals else None,
                placing_authority=placing_authority, panel_date=day, policy=policy, approvals=approvals,
                locks=locks, bans=bans, time_limit=time_limit, baseline=baseline, out_dir=out_dir,
            )
    except PanelRunError as exc:
        err.print(f"[bold red]No proposal[/]: {exc}")
        raise typer.Exit(1)
    _print_run(outcome, show)
    if questions and not baseline:
        from matching.counterfactual import what_if

        for referral_id, vacancy_id in questions:
            with out.status(f"Re-running with {vacancy_id} for {referral_id}..."):
                answer = what_if(outcome.instance, policy, outcome.result, referral_id, vacancy_id)
            out.print(answer.words(), markup=False, highlight=False)


def _print_run(outcome, show: int) -> None:
    s = outcome.summary
    c = s["counts"]
    if c["young_people"] == 0:
        out.print("The queue is empty: there are no open referrals to match.")
        return
    out.print(
        f"{s['status']} ({s['proven_by'] or 'not proven'}): placed {c['placed']} of {c['young_people']}, "
        f"{c['over_20_miles']} over 20 miles, {c['out_of_area']} out of area, "
        f"{c['needing_approval']} needing approval, £{s['weekly_cost']:,.0f} a week; "
        f"{s['seconds'].get('total', 0):.2f} s"
    )
    if "side_constraints_broken" in s:
        out.print(f"[bold yellow]This baseline ignores the side constraints[/] (intensive support per home, "
                  f"siblings, who may share a home, locks, budget): it breaks {s['side_constraints_broken']}.")
    for line in s.get("against_one_at_a_time", {}).get("in_words", []):
        out.print(f"Against placing one at a time: {line}")
    if outcome.run_id is not None:
        out.print(f"Recorded as match run {outcome.run_id}.")
    for name, path in outcome.written.items():
        out.print(f"wrote {name}: {path}")
    if show:
        m = outcome.explanation.matches.head(show)
        table = Table(title=f"Proposals (first {len(m)} of {c['placed']})")
        for col in ("young person", "vacancy", "tier", "£/week", "miles", "area", "approvals"):
            table.add_column(col, justify="right" if col in ("£/week", "miles") else "left")
        for r in m.itertuples(index=False):
            area = "in area" if not r.out_of_area else ("at a distance" if r.at_a_distance else "adjoining")
            table.add_row(r.referral_id, r.vacancy_id, r.tier, f"{r.weekly_cost:,.0f}", f"{r.miles_from_home:.1f}",
                          area, ", ".join(r.approvals_required) or "-")
        out.print(table)
        u = outcome.explanation.unplaced.head(show)
        if len(u):
            table = Table(title=f"Left unplaced (first {len(u)} of {c['unplaced']})")
            table.add_column("young person")
            table.add_column("why")
            for r in u.itertuples(index=False):
                table.add_row(r.referral_id, r.reason)
            out.print(table)


users_app = typer.Typer(help="People who sign in to the service.", no_args_is_help=True)
app.add_typer(users_app, name="users")

# Demo only: printed by `placematch demo --users` so a newcomer can sign in at once. Never use
# these on a database holding real young people's data.
DEMO_PASSWORD = "placematch-demo-only"


@users_app.command("create")
def users_create(
    username: str = typer.Argument(..., help="Sign-in name, e.g. s.khan"),
    role: str = typer.Option(..., help="panel_member, commissioner, service_manager, head_of_service, director, admin, "
                                       "provider (a provider's staff: give --provider), rcc_commissioner or "
                                       "rcc_analyst (a care co-operative's staff)"),
    full_name: str = typer.Option(..., "--full-name", help="The person's name as shown on pages"),
    provider: Optional[str] = typer.Option(None, "--provider", help="For the provider role: the provider's id"),
    council: Optional[str] = typer.Option(None, "--council", help="For a council's staff: the council's ONS code "
                                          "(default: the service's one council)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Create a user (the password is asked for, or read from stdin; only its hash is kept)."""
    from api.errors import ApiError
    from api.routes.users import create_user
    from models.enums import Role
    from models.tenancy import Council, CrossCouncilWrite

    try:
        chosen = Role(role)
    except ValueError:
        err.print(f"--role: {role!r} is not a role ({', '.join(r.value for r in Role)})")
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with transaction(_engine()) as session:
            if council is not None and session.get(Council, council) is None:
                raise ValueError(f"--council: {council} is not a council of this service")
            create_user(session, username, full_name, chosen, password, actor_name="cli", provider_id=provider,
                        council_code=council)
    except (ApiError, ValueError, CrossCouncilWrite) as exc:
        err.print(str(getattr(exc, "message", exc)))
        raise typer.Exit(1)
    out.print(f"Created {username} ({chosen.value}).")


def _demo_users(engine: Engine) -> list[tuple[str, str]]:
    """One demo user per role (created once); returns (username, role) for printing."""
    from api.routes.users import create_user
    from models.accounts import User
    from models.enums import Role
    from models.supply import Provider
    from providers.demo import DEMO_PROVIDER_STAFF_OF

    made = []
    with transaction(engine) as session:
        # The provider's staff work for the demo's chosen provider (one that referrals reach).
        first = DEMO_PROVIDER_STAFF_OF if session.get(Provider, DEMO_PROVIDER_STAFF_OF) else \
            session.scalars(select(Provider.id).order_by(Provider.id)).first()
        for role in Role:
            name = "demo." + role.value.replace("_", ".")
            if session.scalar(select(User).where(User.username == name)) is None:
                create_user(session, name, "Demo " + role.value.replace("_", " "), role, DEMO_PASSWORD,
                            provider_id=first if role == Role.provider else None)
            made.append((name, role.value))
    return made


@app.command("broadcast")
def broadcast_command(
    sender: str = typer.Option("demo.panel.member", "--as", help="The panel member sending them (a username)"),
    demo_answers: bool = typer.Option(False, "--demo-answers",
                                      help="Then answer every referral as the demo's providers would (demo only)"),
) -> None:
    """Send every young person waiting to the framework providers whose homes could meet the hard
    rules (the anonymised needs profile, a deadline by urgency); offers become candidates in the
    next `placematch match`."""
    from api.market_demo import answer_as_demo_providers, broadcast_queue
    from models import glossary

    engine = _engine()
    try:
        sent = broadcast_queue(engine, sender)
    except NoResultFound:
        err.print(f"--as: there is no user {sender!r}")
        raise typer.Exit(1)
    out.print(f"Sent {len(sent)} young people to providers: {sum(sent.values()):,} referrals in all "
              f"({sum(1 for n in sent.values() if not n)} had no framework provider whose homes could meet the rules).",
              highlight=False)
    if demo_answers:
        said = answer_as_demo_providers(engine)
        declined = ", ".join(f"{glossary.DECLINE_REASONS[k].lower()} {n}" for k, n in said.most_common()
                             if k != "offered")
        out.print(f"The demo's providers answered: {said['offered']} offers; "
                  f"{sum(n for k, n in said.items() if k != 'offered')} declines ({declined}).", highlight=False)
    engine.dispose()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (localhost by default)"),
    port: int = typer.Option(8000, help="Port"),
    workers: int = typer.Option(1, min=1, max=64, help="Service processes (about one per CPU core for many users)"),
) -> None:
    """Serve the API (and its docs at /docs) on the database named by DATABASE_URL."""
    import os

    import uvicorn

    from api.app import create_app

    engine = _engine()  # brings the schema up to date once, before any process serves
    out.print(f"placematch service on http://{host}:{port} (API docs: http://{host}:{port}/docs), database {_where()}"
              + (f", {workers} processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(create_app(engine, warm_workers=True), host=host, port=port, log_level="warning")
    else:
        # Several processes: uvicorn imports the factory in each (the database is the one truth
        # they share; match workers are found through it, see api.jobs). Each process follows
        # this one (api.process_guard): if it dies, even by kill -9, they shut down too and the
        # port is let go.
        from api import process_guard

        engine.dispose()
        os.environ[process_guard.PARENT_ENV] = str(os.getpid())
        uvicorn.run("api.process_guard:service_process_app", factory=True, workers=workers, host=host,
                    port=port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    app()
