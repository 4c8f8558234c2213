"""Tender scenarios over the service: a commissioner checks a file (problems named by line),
runs it in the background, reads the result and its chart; managers read; the panel may not;
a run the service stopped in the middle of is failed at the next start."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.tender import INTERRUPTED
from models.db import transaction
from models.enums import Role
from models.plans import ScenarioResult
from signin import sign_in

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


def test_a_run_the_service_stopped_in_is_failed_at_the_next_start(demo_engine):
    with transaction(demo_engine) as session:
        row = ScenarioResult(name="x", file_name="x.yaml", file_text="name: x\n", file_sha256="0" * 64, seed=1,
                             replications=1, months=12, code_version="test", status="running", seconds=0.0, kpis=[])
        session.add(row)
        session.flush()
        row_id = row.id
    with TestClient(create_app(demo_engine)) as client:
        result = client.get(f"/scenario-results/{row_id}", headers=sign_in(client, Role.commissioner)).json()
    assert (result["status"], result["error"]) == ("failed", INTERRUPTED)
