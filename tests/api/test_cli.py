"""The command line as a council user meets it: a database created from nothing, the demo
council, a bad file refused with nothing written, and an export that imports back."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from models.db import make_engine, transaction
from models.orm import AuditEvent, Property, Referral, Vacancy

runner = CliRunner()


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _counts(url):
    with transaction(make_engine(url)) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Referral, Property, Vacancy, AuditEvent)}


def test_init_db_creates_then_upgrades(database):
    first = runner.invoke(app, ["init-db"])
    assert first.exit_code == 0, first.output
    assert "Created database" in first.output
    again = runner.invoke(app, ["init-db"])
    assert again.exit_code == 0 and "Upgraded database" in again.output


def test_demo_builds_once_and_prints_its_summary(database):
    result = runner.invoke(app, ["demo", "--as-of", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "Built the demo council" in result.output
    assert "Medway" in result.output and "Maidstone" in result.output
    counts = _counts(database)
    assert counts["Referral"] >= 60 and counts["Property"] >= 80
    # Running it again shows the same council rather than adding a second one.
    again = runner.invoke(app, ["demo", "--as-of", "2026-11-23"])
    assert again.exit_code == 0 and "already holds data" in again.output
    assert _counts(database) == counts


def test_demo_refuses_a_bad_date(database):
    result = runner.invoke(app, ["demo", "--as-of", "2026-02-30"])
    assert result.exit_code == 2
    assert "2026-02-30" in result.output


def test_a_bad_file_is_refused_with_its_row_and_nothing_written(database, tmp_path):
    assert runner.invoke(app, ["demo", "--as-of", "2026-11-23"]).exit_code == 0
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(out)]).exit_code == 0
    before = _counts(database)
    lines = (out / "referrals.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("tier")] = "enhnced"
    (tmp_path / "bad.csv").write_text("\n".join([lines[0], ",".join(cells)]) + "\n")
    result = runner.invoke(app, ["import", "referrals", str(tmp_path / "bad.csv")])
    assert result.exit_code == 1
    assert "bad.csv row 2, column tier" in result.output
    assert "enhanced" in result.output  # the nearest valid code is suggested
    assert _counts(database) == before


def test_export_then_import_is_accepted_by_the_cli(database, tmp_path):
    assert runner.invoke(app, ["demo", "--as-of", "2026-11-23"]).exit_code == 0
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "referrals.csv").exists() and (out / "vacancies.csv").exists()
    for kind in ("referrals", "vacancies"):
        r = runner.invoke(app, ["import", kind, str(out / f"{kind}.csv")])
        assert r.exit_code == 0, r.output


def _demo(tmp_path):
    assert runner.invoke(app, ["demo", "--as-of", "2026-11-23"]).exit_code == 0
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(out)]).exit_code == 0
    return out


def test_match_on_the_database_records_the_run_with_its_proposals(database, tmp_path):
    import json

    from models.orm import MatchRun, ProposedMatch

    _demo(tmp_path)
    result = runner.invoke(app, ["match", "--panel-date", "2026-11-23", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "OPTIMAL" in result.output and "Recorded as match run 1" in result.output
    with transaction(make_engine(database)) as s:
        run = s.get(MatchRun, 1)
        proposals = s.scalars(select(ProposedMatch).where(ProposedMatch.rank == 0)).all()
        assert run.solver_status == "OPTIMAL" and run.referral_count == 64
        assert len(proposals) > 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["placed"] == len(proposals)
    assert summary["counts"]["placed"] + summary["counts"]["unplaced"] == 64
    header = (tmp_path / "run" / "matches.csv").read_text().splitlines()[0]
    assert header == ("referral_id,vacancy_id,property_id,tier,weekly_cost,miles_from_home,"
                      "miles_from_education,out_of_area,at_a_distance,approvals_required,"
                      "score_need,score_distance,score_cost,why")
    # The database's homes have names: each proposal's reason names its home as the pages do.
    with transaction(make_engine(database)) as s:
        names = dict(s.execute(select(Property.id, Property.name)).all())
    rows = list(csv.DictReader((tmp_path / "run" / "matches.csv").open(encoding="utf-8")))
    assert all(row["why"].startswith(f"{names[row['property_id']]} (") for row in rows)
    assert (tmp_path / "run" / "unplaced.csv").read_text().startswith(
        "referral_id,reason,eligible_options,excluded_by,taken_by")


def test_match_on_files_and_the_greedy_baseline_write_the_same_files(database, tmp_path):
    out = _demo(tmp_path)
    base = ["match", "--referrals", str(out / "referrals.csv"), "--vacancies", str(out / "vacancies.csv"),
            "--panel-date", "2026-11-23"]
    engine_run = runner.invoke(app, base + ["--out", str(tmp_path / "engine")])
    greedy_run = runner.invoke(app, base + ["--out", str(tmp_path / "greedy"), "--baseline", "greedy"])
    assert engine_run.exit_code == 0 and greedy_run.exit_code == 0, engine_run.output + greedy_run.output
    for name in ("matches.csv", "unplaced.csv", "alternatives.csv", "summary.json"):
        assert (tmp_path / "engine" / name).exists() and (tmp_path / "greedy" / name).exists()
    engine_placed = len((tmp_path / "engine" / "matches.csv").read_text().splitlines())
    greedy_placed = len((tmp_path / "greedy" / "matches.csv").read_text().splitlines())
    assert engine_placed >= greedy_placed


def test_a_lock_that_breaks_a_rule_is_refused_naming_the_lock_and_the_rule(database, tmp_path):
    _demo(tmp_path)
    # R0001 needs intensive support; V0001 offers no intensive tier.
    result = runner.invoke(app, ["match", "--panel-date", "2026-11-23", "--lock", "R0001:V0001"])
    assert result.exit_code == 1
    assert "lock R0001 -> V0001 breaks" in result.output and "tier_not_offered" in result.output


def test_match_refuses_unusable_options_before_solving(database, tmp_path):
    assert runner.invoke(app, ["match", "--lock", "R1V1"]).exit_code == 2
    assert runner.invoke(app, ["match", "--baseline", "fastest"]).exit_code == 2
    assert runner.invoke(app, ["match", "--referrals", "r.csv"]).exit_code == 2
    bad = tmp_path / "policy.yaml"
    bad.write_text("penalties: {out_of_aera: 1}\n")
    result = runner.invoke(app, ["match", "--policy", str(bad)])
    assert result.exit_code == 2 and "out_of_aera" in result.output


def test_matching_an_empty_queue_says_so(database):
    assert runner.invoke(app, ["init-db"]).exit_code == 0
    result = runner.invoke(app, ["match"])
    assert result.exit_code == 0
    assert "no open referrals to match" in result.output


def test_users_create_reads_the_password_and_stores_only_a_hash(database):
    made = runner.invoke(app, ["users", "create", "s.khan", "--role", "service_manager", "--full-name", "Sam Khan",
                               "--password-stdin"], input="a long enough passphrase\n")
    assert made.exit_code == 0, made.output
    from models.accounts import User

    with transaction(make_engine(database)) as s:
        user = s.scalar(select(User).where(User.username == "s.khan"))
        assert user.role.value == "service_manager"
        assert "passphrase" not in user.password_hash and user.password_hash.startswith("$argon2id$")


def test_users_create_refuses_an_unknown_role_and_a_short_password(database):
    role = runner.invoke(app, ["users", "create", "x", "--role", "wizard", "--full-name", "X", "--password-stdin"],
                         input="a long enough passphrase\n")
    assert role.exit_code == 2 and "not a role" in role.output
    short = runner.invoke(app, ["users", "create", "x", "--role", "director", "--full-name", "X", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output


def test_demo_users_are_created_once_per_role(database):
    first = runner.invoke(app, ["demo", "--as-of", "2026-11-23", "--users"])
    assert first.exit_code == 0, first.output
    assert "demo.panel.member" in first.output and "demo only" in first.output
    again = runner.invoke(app, ["demo", "--as-of", "2026-11-23", "--users"])
    assert again.exit_code == 0
    from models.accounts import User
    from models.enums import Role
    from providers.demo import DEMO_PROVIDER_STAFF_OF

    with transaction(make_engine(database)) as s:
        assert s.scalar(select(func.count()).select_from(User)) == len(Role)
        staff = s.scalars(select(User).where(User.role == Role.provider)).one()
        assert staff.username == "demo.provider" and staff.provider_id == DEMO_PROVIDER_STAFF_OF
        assert s.scalar(select(func.count()).select_from(User).where(User.provider_id.is_not(None))) == 1


def test_a_providers_staff_member_is_bound_to_a_provider_and_only_they_are(database):
    assert runner.invoke(app, ["demo", "--as-of", "2026-11-23"]).exit_code == 0
    made = []
    for args in (["--role", "provider"], ["--role", "provider", "--provider", "NO-SUCH"],
                 ["--role", "panel_member", "--provider", "PRV02"], ["--role", "provider", "--provider", "PRV02"]):
        result = runner.invoke(app, ["users", "create", f"u{len(made)}", "--full-name", "A Person", *args,
                                     "--password-stdin"], input="a long enough password\n")
        made.append((result.exit_code, result.output))
    assert [code for code, _ in made] == [1, 1, 1, 0], made
    assert "provider" in made[0][1] and "NO-SUCH" in made[1][1]


def test_the_ssda903_export_is_written_and_a_wrong_year_refused(database, tmp_path):
    assert runner.invoke(app, ["demo", "--as-of", "2026-11-23"]).exit_code == 0
    wrong = runner.invoke(app, ["export-903", str(tmp_path / "903"), "--year", "2026-28"])
    assert wrong.exit_code == 2 and "Nothing written" in wrong.output and "e.g. 2026-27" in wrong.output
    assert not (tmp_path / "903").exists()
    result = runner.invoke(app, ["export-903", str(tmp_path / "903"), "--year", "2026-27", "--as-of", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "SSDA903 2026-27 for Medway: 24 young people, 24 episodes" in result.output
    with (tmp_path / "903" / "episodes.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and all(r["DECOM"][2] == "/" and r["PL_DISTANCE"] for r in rows)
