"""Tender scenarios over the service: a commissioner checks a file (problems named by line),
runs it in the background, reads the result and its chart; managers read; the panel may not;
a run is followed and cancelled over the API; a run whose process died is failed, never left running."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from fastapi.testclient import TestClient
from signin import sign_in

from api import scenario_runs
from api.app import create_app
from models.db import transaction
from models.enums import Role
from models.plans import ScenarioResult

EXAMPLE = (Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "medway_intensive_block.yaml").read_text()
SMALL = EXAMPLE.replace("horizon_years: 5", "horizon_years: 1").replace("replications: 100", "replications: 3")


def test_a_commissioner_checks_runs_and_reads_a_scenario(client, as_role):
    headers = as_role(Role.commissioner)
    checked = client.post("/scenario-checks", json={"yaml": SMALL}, headers=headers)
    assert checked.status_code == 200, checked.text
    assert checked.json()["beds"] == 315 and checked.json()["name"] == "Ten intensive block beds in Chatham"

    started = client.post("/scenario-results", json={"yaml": SMALL, "file_name": "block.yaml"}, headers=headers)
    assert started.status_code == 202 and started.json()["status"] == "running"
    result_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while (result := client.get(f"/scenario-results/{result_id}", headers=headers).json())["status"] == "running":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.3)
    assert result["status"] == "succeeded", result["error"]
    assert result["file_text"] == SMALL and result["seed"] == 2026 and result["code_version"]
    void = next(k for k in result["kpis"] if k["kpi"] == "void_cost")
    assert void["median"] > 0  # the block beds and the demo's own block contract stand empty some weeks
    chart = client.get("/scenario-results/compare.png", params={"ids": [result_id]},
                       headers=as_role(Role.director))
    assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"


def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_saved(client, as_role):
    headers = as_role(Role.commissioner)
    refused = client.post("/scenario-results", headers=headers, json={
        "yaml": "name: x\nhorizon_years: 0\nsupply:\n  remove_providers: [PRV99]\n"})
    assert refused.status_code == 422
    fields = refused.json()["error"]["fields"]
    assert {"path": "body.yaml:line 2", "message": "horizon_years: Input should be greater than or equal to 1"} in fields
    assert client.get("/scenario-results", headers=headers).json() == []
    unknown = client.post("/scenario-checks", headers=headers, json={"yaml": "name: x\nsupply:\n  remove_providers: [PRV99]\n"})
    assert unknown.status_code == 422 and "no provider 'PRV99'" in unknown.text


def test_the_panel_may_not_run_or_read_scenarios(client, as_role):
    panel = as_role(Role.panel_member)
    assert client.post("/scenario-results", json={"yaml": SMALL}, headers=panel).status_code == 403
    assert client.get("/scenario-results", headers=panel).status_code == 403
    assert client.post("/scenario-results", json={"yaml": SMALL}, headers=as_role(Role.director)).status_code == 403


def _running(session, *, heard_seconds_ago: float | None) -> int:
    now = dt.datetime.now(dt.UTC)
    row = ScenarioResult(name="x", file_name="x.yaml", file_text="name: x\n", file_sha256="0" * 64, seed=1,
                         replications=1, months=12, code_version="test", status="running", seconds=0.0, kpis=[],
                         created_at=now - dt.timedelta(seconds=heard_seconds_ago or 0),
                         heard_at=None if heard_seconds_ago is None else now - dt.timedelta(seconds=heard_seconds_ago))
    session.add(row)
    session.flush()
    return row.id


def test_a_run_no_longer_heard_from_is_failed_and_one_still_working_is_left(demo_engine):
    # A run whose process died a while ago (killed, or the machine restarted) is failed at the
    # next start; one another process of the service wrote to seconds ago is still running.
    with transaction(demo_engine) as session:
        silent = _running(session, heard_seconds_ago=scenario_runs.SILENT_AFTER_SECONDS + 30)
        working = _running(session, heard_seconds_ago=5)
    with TestClient(create_app(demo_engine)) as client:
        headers = sign_in(client, Role.commissioner)
        result = client.get(f"/scenario-results/{silent}", headers=headers).json()
        still = client.get(f"/scenario-results/{working}", headers=headers).json()
    assert (result["status"], result["error"], result["progress"]) == ("failed", scenario_runs.INTERRUPTED, None)
    assert still["status"] == "running" and still["progress"]["stage"] == "preparing"


def test_a_run_started_over_the_api_shows_its_progress_and_is_cancelled(client, as_role, demo_engine):
    headers = as_role(Role.commissioner)
    long = SMALL.replace("replications: 3", "replications: 400")
    result_id = client.post("/scenario-results", json={"yaml": long}, headers=headers).json()["id"]
    deadline = time.monotonic() + 60
    while not ((result := client.get(f"/scenario-results/{result_id}", headers=headers).json())["progress"] or {}).get(
            "replications_done"):
        assert result["status"] == "running" and time.monotonic() < deadline, result
        time.sleep(0.2)
    progress = result["progress"]
    assert progress["stage"] == "simulating" and progress["replications"] == 400 and progress["months"] == 400 * 12
    assert progress["months_done"] == progress["replications_done"] * 12
    assert progress["text"].startswith(f"{progress['replications_done']:,} of 400 replications done")
    # The list shows the same progress (it is kept in the row, not in the running process).
    listed = next(r for r in client.get("/scenario-results", headers=headers).json() if r["id"] == result_id)
    assert listed["progress"]["replications"] == 400

    assert client.post(f"/scenario-results/{result_id}/cancel", headers=as_role(Role.director)).status_code == 403
    cancelled = client.post(f"/scenario-results/{result_id}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["progress"] is None
    assert scenario_runs.wait(demo_engine, result_id, timeout=30)  # its thread stopped within a replication
    again = client.post(f"/scenario-results/{result_id}/cancel", headers=headers)
    assert again.status_code == 409 and "only a running scenario can be cancelled" in again.json()["error"]["message"]
    with transaction(demo_engine) as session:
        row = session.get(ScenarioResult, result_id)
        assert row.status == "cancelled" and row.kpis == [] and row.replications_done < 400
    assert client.post("/scenario-results/999999/cancel", headers=headers).status_code == 404
