"""The command line as a council user meets it: a database created from nothing, the demo
council, a bad file refused with nothing written, and an export that imports back."""

from __future__ import annotations

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
