"""Running tender scenarios from the command line: on the demo council, two small scenarios
side by side; the results are saved with the file, seed and code version and reproduce."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from models.db import make_engine, transaction
from models.plans import ScenarioResult

sys.path.append(str(Path(__file__).resolve().parents[1] / "api"))
from demo_council import demo_database  # noqa: E402

SMALL = """name: {name}
horizon_years: 1
replications: 4
seed: 7
{extra}
"""


def test_compare_runs_scenarios_side_by_side_saves_and_reproduces(tmp_path, monkeypatch):
    db = demo_database(tmp_path / "placematch.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    base = tmp_path / "base.yaml"
    base.write_text(SMALL.format(name="Base", extra=""))
    block = tmp_path / "block.yaml"
    block.write_text(SMALL.format(name="Unused block", extra="""supply:
  block_contracts:
    - {name: Standard-only block, beds: 6, tier: standard, postcode: ME4 4TR, weekly_price: 1000}
"""))
    out = tmp_path / "out"
    args = ["scenario", "compare", str(base), str(block), "--out", str(out), "--workers", "1", "--start", "2026-11-23"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Base" in first.output and "Unused block" in first.output and "Void cost" in first.output
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis["scenario"]) == {"Base", "Unused block"}
    void = kpis[kpis["kpi"] == "void_cost"].set_index("scenario")["median"]
    assert void["Unused block"] > void["Base"]  # six more beds bought whether used or not
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"

    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as session:
        rows = session.scalars(select(ScenarioResult).order_by(ScenarioResult.id)).all()
        assert [r.name for r in rows] == ["Base", "Unused block", "Base", "Unused block"]
        assert rows[0].file_text == base.read_text() and rows[0].seed == 7 and rows[0].code_version
        assert rows[0].kpis == rows[2].kpis  # the same file and seed give the same result
    engine.dispose()


def test_a_tenders_award_options_run_side_by_side_against_forecast_demand(tmp_path, monkeypatch):
    db = demo_database(tmp_path / "placematch.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    folder = tmp_path / "tender"
    written = CliRunner().invoke(app, ["tender", "example", str(folder)])
    assert written.exit_code == 0, written.output
    files = [folder / n for n in ("baseline.yaml", "award-as-evaluated.yaml", "award-wider.yaml", "award-quality.yaml")]
    for file in files:  # the demo's options, made small enough for a test
        file.write_text(file.read_text().replace("horizon_years: 4", "horizon_years: 1")
                        .replace("replications: 50", "replications: 4"))
    out = tmp_path / "out"
    ran = CliRunner().invoke(app, ["scenario", "compare", *map(str, files), "--out", str(out), "--workers", "1",
                                   "--start", "2026-11-23", "--no-save"])
    assert ran.exit_code == 0, ran.output
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis["scenario"]) == {"Baseline: the market today", "Award as evaluated (top 4)",
                                     "Award wider (the top 6 bids of each lot)", "Quality weighted 50%"}
    unit = kpis[kpis["kpi"] == "unit_weekly_cost"].set_index("scenario")["median"]
    # The bids are below today's prices: every award buys a placed week for less than today.
    assert (unit.drop("Baseline: the market today") < unit["Baseline: the market today"]).all()


def test_a_bad_file_stops_the_whole_comparison_before_anything_runs(tmp_path, monkeypatch):
    db = demo_database(tmp_path / "placematch.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    good = tmp_path / "good.yaml"
    good.write_text(SMALL.format(name="Good", extra=""))
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.format(name="Bad", extra="step_down_speed: -1"))
    refused = CliRunner().invoke(app, ["scenario", "compare", str(good), str(bad), "--out", str(tmp_path / "o")])
    assert refused.exit_code == 1 and "bad.yaml line 5, step_down_speed" in refused.output
    assert not (tmp_path / "o").exists()
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as session:
        assert session.scalars(select(ScenarioResult)).all() == []
    engine.dispose()
