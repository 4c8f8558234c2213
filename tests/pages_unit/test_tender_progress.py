"""A tender scenario run started from the page shows how far it has gone (replications done,
months simulated, time left) and can be cancelled: it stops within a replication, keeps
nothing, and the cancel is audited; a finished run cannot be cancelled."""

from __future__ import annotations

import re
import time

from sqlalchemy import select
from test_tender_page import finished

from api import scenario_runs
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import Role
from models.plans import ScenarioResult

LONG = "name: A long run\nhorizon_years: 2\nreplications: 400\nseed: 3\n"
SHORT = "name: A short run\nhorizon_years: 1\nreplications: 1\nseed: 3\n"


def test_a_run_shows_its_progress_and_is_cancelled(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    started = client.post("/tender-page/runs", data={"scenario_yaml": LONG})
    assert started.url.path == "/tender-page/runs/1"
    assert 'data-watch-scenario="1"' in started.text and 'id="cancel-scenario"' in started.text
    deadline = time.monotonic() + 60
    while (status := client.get("/tender-page/runs/1/status").json()).get("replications_done", 0) < 2:
        assert status["status"] == "running" and time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["replications"] == 400 and status["months"] == 400 * 24
    assert status["months_done"] == status["replications_done"] * 24 and status["seconds_left"] > 0
    assert re.fullmatch(r"[\d,]+ of 400 replications done \([\d,]+ of 9,600 months simulated\)\. "
                        r"(About \d+ (seconds|minutes?) left|Almost done)\.", status["text"]), status["text"]
    listed = client.get("/tender-page")
    assert re.search(r'data-watch-scenario="1"[^>]*>[\d,]+ of 400 replications done', listed.text)

    cancelled = client.post("/tender-page/runs/1/cancel")
    assert cancelled.status_code == 200 and "Cancelled &#39;A long run&#39;" in cancelled.text
    assert "Nothing was kept from it" in cancelled.text
    assert scenario_runs.wait(demo_engine, 1, timeout=30)  # the run's thread has stopped
    with transaction(demo_engine) as session:
        row = session.get(ScenarioResult, 1)
        assert row.status == "cancelled" and row.kpis == [] and row.error.startswith("Cancelled by")
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "scenario_run_cancelled")).one()
        assert event.entity_id == "1" and event.after["replications"] == 400
    assert client.get("/tender-page/runs/1/status").json() == {
        "id": 1, "status": "cancelled", "status_words": "Cancelled", "finished": True, "text": row.error + "."}


def test_a_finished_run_cannot_be_cancelled(client, sign_in_as):
    sign_in_as(Role.commissioner)
    client.post("/tender-page/runs", data={"scenario_yaml": SHORT})
    assert finished(client, 1)["status"] == "succeeded"
    refused = client.post("/tender-page/runs/1/cancel")
    assert "Not cancelled: the run has already finished" in refused.text
    sign_in_as(Role.director)
    assert client.post("/tender-page/runs/1/cancel").status_code == 403
    assert client.get("/tender-page/runs/1").status_code == 200  # managers read it
