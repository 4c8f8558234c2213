"""Tender scenario sweeps on Dask distributed: a local cluster gives the single-process result
seed for seed, a worker killed mid-sweep is retried rather than dropped, and a cluster that
cannot be reached is refused at once by its address."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.scenario_cli import load_market
from matching.instance import from_database
from models.db import make_engine, transaction
from scenarios.demo_history import demo_history
from scenarios.sweep import SweepError, cluster, run_sweep
from scenarios.tender_run import demand_for, kpi_records, prepare_scenario, run_scenario

sys.path.append(str(Path(__file__).resolve().parents[1] / "api"))
from demo_council import demo_database  # noqa: E402

START = dt.date(2026, 11, 23)
MEDWAY = "E06000035"
SMALL = "name: {name}\nhorizon_years: 1\nreplications: {reps}\nseed: {seed}\n{extra}"
BLOCK = """supply:
  block_contracts:
    - {name: Standard-only block, beds: 6, tier: standard, postcode: ME4 4TR, weekly_price: 1000}
"""


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    url = f"sqlite:///{demo_database(folder / 'placematch.db')}"
    engine = make_engine(url)
    files = [folder / "base.yaml", folder / "block.yaml"]
    files[0].write_text(SMALL.format(name="Base", reps=6, seed=7, extra=""))
    files[1].write_text(SMALL.format(name="Block", reps=5, seed=11, extra=BLOCK))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        _, loaded = load_market(files, START)
    history = demo_history(folder / "ssda903")
    with transaction(engine) as session:
        queue = from_database(session, MEDWAY, START).referrals
        demands = {scenario.name: demand_for(session, scenario, history) for _, scenario, _ in loaded}
    engine.dispose()
    runs = [(scenario, supply, demands[scenario.name]) for _, scenario, supply in loaded]
    kwargs = {"queue": queue, "placing_authority": MEDWAY, "start": START}
    sequential = {s.name: run_scenario(s, supply, demand, workers=1, **kwargs) for s, supply, demand in runs}
    prepared = {s.name: prepare_scenario(s, supply, demand, **kwargs) for s, supply, demand in runs}
    return prepared, sequential


def _same(swept, sequential):
    assert set(swept) == set(sequential)
    for name in sequential:
        pd.testing.assert_frame_equal(swept[name].years, sequential[name].years)
        assert kpi_records(swept[name]) == kpi_records(sequential[name])
        assert swept[name].replications == sequential[name].replications


def test_a_sweep_on_a_local_cluster_equals_the_single_process_run_seed_for_seed(market):
    prepared, sequential = market
    heard = []
    with cluster(None, workers=2) as client:
        swept = run_sweep(prepared, client, lambda name, done: heard.append((name, done)))
    _same(swept, sequential)
    # progress is heard for every replication of every option, from both workers
    assert sorted(heard) == [("Base", k) for k in range(1, 7)] + [("Block", k) for k in range(1, 6)]


def test_a_worker_killed_mid_sweep_has_its_replications_run_again_not_dropped(market):
    prepared, sequential = market
    with cluster(None, workers=2) as client:
        pids = list(client.run(os.getpid).values())
        killed = []

        def kill_one(name, done):
            if not killed:
                killed.append(pids[0])
                os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; its tasks go elsewhere

        swept = run_sweep(prepared, client, kill_one)
    assert killed
    _same(swept, sequential)


def test_an_unreachable_cluster_is_refused_at_once_naming_its_address(tmp_path, monkeypatch):
    with pytest.raises(SweepError, match="cannot reach the cluster at tcp://127.0.0.1:9 within"):
        with cluster("tcp://127.0.0.1:9"):
            pass
    db = demo_database(tmp_path / "placematch.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    base = tmp_path / "base.yaml"
    base.write_text(SMALL.format(name="Base", reps=2, seed=7, extra=""))
    result = CliRunner().invoke(app, ["scenario", "compare", str(base), "--cluster", "tcp://127.0.0.1:9",
                                      "--no-save", "--out", str(tmp_path / "out"), "--start", "2026-11-23"])
    assert result.exit_code == 1 and "cannot reach the cluster at tcp://127.0.0.1:9" in result.output
    assert not (tmp_path / "out" / "kpis.csv").exists()
