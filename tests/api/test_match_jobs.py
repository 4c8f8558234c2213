"""Match runs as background jobs, end to end: a real worker process and the real solver on the
demo council (64 young people, solved in well under a second once the worker has started)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import jobs
from api.app import create_app
from conftest import DEMO_DAY
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import MatchRunStatus, Role
from models.panel import MatchRun
from providers.demo import DEMO_AUTHORITY
from signin import sign_in

FINISHED = {"succeeded", "failed", "cancelled"}
BREAKING_LOCK = {"referral_id": "R0001", "vacancy_id": "V0001"}  # wrong tier, needs, grade, not self-contained


def submit(client, headers, **body):
    return client.post("/match-runs", json={"panel_date": DEMO_DAY.isoformat(), **body}, headers=headers)


def wait_until_finished(client, headers, run_id: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/match-runs/{run_id}", headers=headers).json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.2)
    pytest.fail(f"match run {run_id} did not finish within {timeout} s (last: {run['status']}, {run['progress']})")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def exits(pid: int, timeout: float = 10.0) -> bool:
    """The worker writes its result, then exits (and the service reaps it) a moment later."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def audit_actions(engine, run_id: int) -> list[tuple[str, str]]:
    with transaction(engine) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.entity_type == "match_run", AuditEvent.entity_id == str(run_id)).order_by(AuditEvent.id))
        return [(e.action, e.actor) for e in events]


def test_a_run_is_solved_in_the_background_and_proposes_what_run_panel_does(client, as_role, demo_engine):
    panel, manager = as_role(Role.panel_member), as_role(Role.service_manager)
    started = time.monotonic()
    response = submit(client, panel)
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 2.0
    queued = response.json()
    assert queued["status"] == "queued" and queued["placing_authority"] == DEMO_AUTHORITY
    assert response.headers["location"] == f"/match-runs/{queued['id']}"

    # The service answers while the worker starts and solves.
    started = time.monotonic()
    listed = client.get("/match-runs", headers=manager)
    assert listed.status_code == 200 and time.monotonic() - started < 1.0
    assert listed.json()["items"][0]["id"] == queued["id"]
    assert listed.json()["items"][0]["status"] in ("queued", "running")

    run = wait_until_finished(client, manager, queued["id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["solver_status"] == "OPTIMAL" and run["gap"] == 0.0 and run["objective"]
    assert run["progress"]["stage"] == "done" and run["progress"]["placed"] == len(run["proposals"])
    assert jobs.UNPLACED_KEY not in run["progress"]
    assert exits(run["worker_pid"])
    assert {"need", "distance", "cost"} <= set(run["proposals"][0]["score"])
    assert run["alternatives"] and all(a["rank"] >= 1 for a in run["alternatives"])
    # Each proposal says why in words (as matches.csv does), each alternative why not; the
    # score keeps figures only.
    assert all(p["why"] and " miles from home" in p["why"] for p in run["proposals"])
    assert all(a["why_not"] and a["why"] is None for a in run["alternatives"])
    assert all(isinstance(v, (int, float)) or v is None for p in run["proposals"] for v in p["score"].values())

    same = run_panel(engine=demo_engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                     policy=Policy(), approvals=ApprovalPolicy())
    expected = set(zip(same.result.matches["referral_id"], same.result.matches["vacancy_id"], strict=True))
    assert {(p["referral_id"], p["vacancy_id"]) for p in run["proposals"]} == expected

    unplaced = client.get(f"/match-runs/{run['id']}/unplaced", headers=manager).json()
    assert [u["referral_id"] for u in unplaced["items"]] == same.result.unplaced
    assert all(u["reason"] for u in unplaced["items"])

    assert client.post(f"/match-runs/{run['id']}/cancel", headers=panel).status_code == 409
    assert client.get("/match-runs?status=succeeded", headers=manager).json()["total"] == 2  # with run_panel's
    assert audit_actions(demo_engine, run["id"]) == [("match_run_submitted", "panel.member"),
                                                     ("match_run", "panel.member")]


def test_a_lock_that_breaks_a_hard_rule_fails_the_run_and_names_the_lock(client, as_role):
    panel = as_role(Role.head_of_service)
    queued = submit(client, panel, locks=[BREAKING_LOCK]).json()
    run = wait_until_finished(client, panel, queued["id"])
    assert run["status"] == "failed"
    assert "lock R0001 -> V0001 breaks" in run["error"] and "tier_not_offered" in run["error"]
    assert run["locks"] == [BREAKING_LOCK] and run["proposals"] == []
    assert run["progress"]["stage"] == "solving"  # how far it got
    assert client.get(f"/match-runs/{run['id']}/unplaced", headers=panel).status_code == 409


def test_cancel_stops_the_worker(client, as_role, demo_engine):
    panel = as_role(Role.panel_member)
    queued = submit(client, panel, time_limit_seconds=600).json()
    pid = client.get(f"/match-runs/{queued['id']}", headers=panel).json()["worker_pid"]
    assert alive(pid)  # the worker takes a second or so to start: it is cancelled while it runs
    response = client.post(f"/match-runs/{queued['id']}/cancel", headers=panel)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"

    run = client.get(f"/match-runs/{queued['id']}", headers=panel).json()
    assert run["status"] == "cancelled" and run["finished_at"] and run["proposals"] == []
    assert run["worker_pid"] == pid and not alive(pid)  # stopped and reaped before the answer
    again = client.post(f"/match-runs/{queued['id']}/cancel", headers=panel)
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]
    assert audit_actions(demo_engine, queued["id"]) == [("match_run_submitted", "panel.member"),
                                                        ("match_run_cancelled", "panel.member")]


def test_a_worker_that_dies_fails_its_run(client, as_role):
    panel = as_role(Role.panel_member)
    queued = submit(client, panel, time_limit_seconds=600).json()
    pid = client.get(f"/match-runs/{queued['id']}", headers=panel).json()["worker_pid"]
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    run = wait_until_finished(client, panel, queued["id"], timeout=10)
    assert (run["status"], run["error"]) == ("failed", "the match worker stopped unexpectedly (exit code -9)")


def test_runs_a_previous_service_left_behind_are_failed_at_startup(demo_engine):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    gone_pid = int(finished.stdout)
    with transaction(demo_engine) as session:
        left = [MatchRun(status=MatchRunStatus.running, panel_date=DEMO_DAY, worker_pid=gone_pid),
                MatchRun(status=MatchRunStatus.queued, panel_date=DEMO_DAY),
                MatchRun(status=MatchRunStatus.succeeded, panel_date=DEMO_DAY)]
        session.add_all(left)
        session.flush()
        ids = [r.id for r in left]

    with TestClient(create_app(demo_engine)) as client:
        headers = sign_in(client, Role.service_manager)
        runs = [client.get(f"/match-runs/{i}", headers=headers).json() for i in ids]
    assert [(r["status"], r["error"]) for r in runs] == [
        ("failed", jobs.INTERRUPTED), ("failed", jobs.INTERRUPTED), ("succeeded", None)]


def test_shutdown_stops_the_workers_it_started(demo_engine):
    with TestClient(create_app(demo_engine)) as client:
        panel = sign_in(client, Role.panel_member)
        run_id = submit(client, panel, time_limit_seconds=600).json()["id"]
    with transaction(demo_engine) as session:
        run = session.get(MatchRun, run_id)
        assert (run.status, run.error) == (MatchRunStatus.failed, jobs.SHUT_DOWN)
        assert not alive(run.worker_pid)


@pytest.mark.parametrize("role", [Role.commissioner, Role.service_manager, Role.director, Role.admin])
def test_only_the_panel_submits_and_cancels(client, as_role, role):
    headers = as_role(role)
    assert submit(client, headers).status_code == 403
    assert client.post("/match-runs/1/cancel", headers=headers).status_code == 403


def test_the_panel_and_managers_read_runs_and_no_one_else(client, as_role):
    for role in (Role.panel_member, Role.head_of_service, Role.service_manager, Role.director):
        assert client.get("/match-runs", headers=as_role(role)).status_code == 200
    for role in (Role.commissioner, Role.admin):
        assert client.get("/match-runs", headers=as_role(role)).status_code == 403
    assert client.get("/match-runs/999", headers=as_role(Role.panel_member)).status_code == 404


@pytest.mark.parametrize(("body", "path"), [
    ({"time_limit_seconds": 0}, "body.time_limit_seconds"),
    ({"time_limit_seconds": 601}, "body.time_limit_seconds"),
    ({"policy": {"mode": "cheapest"}}, "body.policy.mode"),
    ({"policy": {"solver": {"time_limit_seconds": 3000}}}, "body.policy.solver.time_limit_seconds"),
    ({"policy": {"no_such_rule": 1}}, "body.policy.no_such_rule"),
    ({"locks": [{"referral_id": "R1:V2", "vacancy_id": "V2"}]}, "body.locks.0.referral_id"),
    ({"placing_authority": "Medway"}, "body.placing_authority"),
])
def test_invalid_requests_are_refused_before_anything_is_queued(client, as_role, body, path):
    panel = as_role(Role.panel_member)
    response = submit(client, panel, **body)
    assert response.status_code == 422, response.text
    assert path in [f["path"] for f in response.json()["error"]["fields"]]
    assert client.get("/match-runs", headers=panel).json()["total"] == 0


def test_a_rerun_keeps_the_panels_locks_and_bans(client, as_role):
    panel = as_role(Role.panel_member)
    first = wait_until_finished(client, panel, submit(client, panel, panel_date=str(DEMO_DAY)).json()["id"])
    proposals = first["proposals"]
    kept, dropped = proposals[0], proposals[1]
    # Lock the second choice's young person to an alternative the engine did not pick, ban the first.
    alternative = next(a for a in first["alternatives"] if a["referral_id"] == dropped["referral_id"])
    lock = {"referral_id": alternative["referral_id"], "vacancy_id": alternative["vacancy_id"], "reason": "wish to be near sister"}
    ban = {"referral_id": kept["referral_id"], "vacancy_id": kept["vacancy_id"], "reason": "provider concern"}
    assert client.post(f"/match-runs/{first['id']}/locks", json=lock, headers=panel).status_code == 201
    assert client.post(f"/match-runs/{first['id']}/bans", json=ban, headers=panel).status_code == 201

    rerun = submit(client, panel, panel_date=str(DEMO_DAY), rerun_of=first["id"])
    assert rerun.status_code == 202, rerun.text
    second = wait_until_finished(client, panel, rerun.json()["id"])
    assert second["status"] == "succeeded", second.get("error")
    pairs = {(p["referral_id"], p["vacancy_id"]) for p in second["proposals"]}
    assert (lock["referral_id"], lock["vacancy_id"]) in pairs
    assert (ban["referral_id"], ban["vacancy_id"]) not in pairs
    assert {"referral_id": lock["referral_id"], "vacancy_id": lock["vacancy_id"]} in second["locks"]


def test_a_rerun_of_an_unknown_run_is_404(client, as_role):
    response = submit(client, as_role(Role.panel_member), rerun_of=999_999)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_service_that_keeps_workers_warm_hands_each_job_to_a_waiting_worker(demo_engine):
    with TestClient(create_app(demo_engine, warm_workers=True)) as client:
        spare = jobs.spare_pid(demo_engine)
        assert spare is not None and alive(spare)
        panel = sign_in(client, Role.panel_member)
        run = client.get(f"/match-runs/{submit(client, panel).json()['id']}", headers=panel).json()
        assert run["worker_pid"] == spare  # the waiting worker took the job...
        next_spare = jobs.spare_pid(demo_engine)
        assert next_spare not in (None, spare) and alive(next_spare)  # ...and another waits for the next

        # The worker names itself for its run, so another service process (or a restart) knows
        # it from a process that happens to reuse its pid.
        deadline = time.monotonic() + 30
        while not jobs.is_worker(spare, run["id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert jobs.is_worker(spare, run["id"]) and not jobs.is_worker(spare, run["id"] + 1)
        assert not jobs.is_worker(next_spare, run["id"])

        finished = wait_until_finished(client, panel, run["id"])
        assert finished["status"] == "succeeded" and finished["proposals"]
        assert exits(spare)
    assert exits(next_spare)  # shutdown stops the spare no job took
