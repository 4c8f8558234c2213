"""Processes die with their parent, and no run is left "running" with no worker behind it
(issue 13, item 8).

The service tests are real: ``python -m api.cli serve`` in a subprocess on a free port and a copy
of the demo council's SQLite database, killed with SIGKILL as an out-of-memory killer or an
operator would. A process belongs to a test when its environment holds that test's
DATABASE_URL, so the checks see every process the service started (its match workers run in
sessions of their own) and nothing else on the machine; whatever a test started is killed in
its ``finally``, pass or fail.

To make "a worker is running a run" certain rather than likely (the demo's solve takes a fraction
of a second once a worker has started), the test freezes the service's spare worker (SIGSTOP)
before submitting: the service hands the run to it, and it holds the run, alive, for as long as
the test needs. SIGKILL, and a parent-death signal, still end a stopped process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import DEMO_DAY
from fastapi.testclient import TestClient
from signin import PASSWORD, sign_in, username
from sqlalchemy import select

from api import jobs, process_guard
from api.app import create_app
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import MatchRunStatus, Role
from models.panel import MatchRun

ROOT = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")
pytestmark = pytest.mark.skipif(not LINUX, reason="reads /proc to find the service's processes (Linux)")

STARTUP_SECONDS = 60.0  # generous for a loaded CI machine; a start takes about two seconds
GONE_SECONDS = 15.0  # a service process's clean shutdown after SIGTERM is bounded by 10 s


def wait_for(what: str, check: Callable[[], object], timeout: float, every: float = 0.05):
    """Poll ``check`` until it returns something true; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _proc(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # gone meanwhile, or not ours to read
        return b""


# --- the service under test -------------------------------------------------------------------


class Service:
    """``placematch serve`` on a database of its own; ``start`` and ``kill`` as often as needed."""

    def __init__(self, database: Path, log: Path, workers: int = 1) -> None:
        self.url = f"sqlite:///{database}"
        self.log = log
        self.workers = workers
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it (again on the same port: a process still holding it would stop this)."""
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        env = dict(os.environ, DATABASE_URL=self.url)
        env.pop("PLACEMATCH_PLACING_AUTHORITY", None)  # the demo council's panel
        env.pop(process_guard.PARENT_ENV, None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(f"the service answering on port {self.port}\n{self.log_tail()}", self._answers, STARTUP_SECONDS)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the service exited ({self.process.returncode}):\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.base}/sign-in", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def processes(self) -> list[int]:
        """Every live process started for this database: the service, its processes, workers."""
        wanted = f"DATABASE_URL={self.url}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            pid = int(entry.name) if entry.name.isdigit() else 0
            if pid and pid != os.getpid() and wanted in _proc(pid, "environ").split(b"\0") and alive(pid):
                found.append(pid)
        return found

    def armed_workers(self) -> list[int]:
        """Match workers tied to the service (named so once they die with it), not yet given a run."""
        names = (jobs.STARTING_NAME.encode(), jobs.SPARE_NAME.encode())
        return [pid for pid in self.processes() if _proc(pid, "comm").strip() in names]

    def port_free(self) -> bool:
        """Nothing listens on the port (SO_REUSEADDR: closed connections waiting out TIME_WAIT
        do not count, a listening socket does)."""
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return False
            return True

    def token(self, role: Role) -> dict[str, str]:
        answer = httpx.post(f"{self.base}/auth/token", data={"username": username(role), "password": PASSWORD},
                            timeout=30.0)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def kill(self) -> None:
        """kill -9 the service (the supervisor, with ``--workers N``) and nothing else."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def clean_up(self) -> None:
        """Kill everything the test started on this database, however the test went."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        for pid in self.processes():  # match workers run in sessions of their own
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def service(demo_file, tmp_path):
    path = tmp_path / "placematch.db"
    shutil.copy(demo_file, path)
    started: list[Service] = []

    def make(workers: int = 1) -> Service:
        started.append(Service(path, tmp_path / "service.log", workers))
        return started[-1]

    try:
        yield make
    finally:
        for one in started:
            one.clean_up()


def hand_a_run_to_a_frozen_worker(svc: Service, headers: dict[str, str]) -> tuple[int, int]:
    """Submit a run to the service, whose spare worker (frozen first) takes it and holds it."""
    spare = wait_for("a spare match worker tied to the service", svc.armed_workers, STARTUP_SECONDS)[0]
    os.kill(spare, signal.SIGSTOP)
    answer = httpx.post(f"{svc.base}/match-runs", json={"panel_date": DEMO_DAY.isoformat()}, headers=headers,
                        timeout=30.0)
    assert answer.status_code == 202, answer.text
    run = httpx.get(f"{svc.base}/match-runs/{answer.json()['id']}", headers=headers, timeout=30.0).json()
    assert run["worker_pid"] == spare and run["status"] in ("queued", "running") and alive(spare)
    return run["id"], spare


def run_on(svc: Service, run_id: int, headers: dict[str, str]) -> dict:
    return httpx.get(f"{svc.base}/match-runs/{run_id}", headers=headers, timeout=30.0).json()


def failed(svc: Service, run_id: int, headers: dict[str, str]) -> dict | None:
    run = run_on(svc, run_id, headers)
    return run if run["status"] == "failed" else None


# --- the service, killed ----------------------------------------------------------------------


def test_kill_9_of_the_service_or_of_its_worker_leaves_no_process_and_no_run_running(service):
    svc = service()
    svc.start()
    run_id, worker = hand_a_run_to_a_frozen_worker(svc, svc.token(Role.panel_member))
    assert len(svc.processes()) >= 3  # the service, the worker holding the run, the next spare

    # kill -9 the service while its worker holds a run: the worker (and the spare) die with it.
    svc.kill()
    wait_for("no process of the killed service left", lambda: not svc.processes(), GONE_SECONDS)
    assert not alive(worker)
    wait_for(f"port {svc.port} let go", svc.port_free, GONE_SECONDS)

    # The restart finds the run's worker gone and says so: no run is left queued or running.
    svc.start()
    manager, panel = svc.token(Role.service_manager), svc.token(Role.panel_member)
    runs = httpx.get(f"{svc.base}/match-runs", headers=manager, timeout=30.0).json()["items"]
    assert [r["id"] for r in runs if r["status"] in ("queued", "running")] == []
    run = run_on(svc, run_id, manager)
    assert (run["status"], run["error"]) == ("failed", jobs.INTERRUPTED)

    # kill -9 only a worker: its run is failed, and the service answers on.
    run_id, worker = hand_a_run_to_a_frozen_worker(svc, panel)
    os.kill(worker, signal.SIGKILL)
    run = wait_for("the killed worker's run failed", lambda: failed(svc, run_id, panel), 10.0)
    assert run["error"] == "the match worker stopped unexpectedly (exit code -9)"
    assert httpx.get(f"{svc.base}/match-runs", headers=panel, timeout=30.0).status_code == 200
    assert svc.process.poll() is None

    svc.kill()
    wait_for("no process of the restarted service left", lambda: not svc.processes(), GONE_SECONDS)
    wait_for(f"port {svc.port} let go", svc.port_free, GONE_SECONDS)


def test_kill_9_of_the_supervisor_of_several_service_processes_leaves_nothing_behind(service):
    svc = service(workers=2)
    svc.start()
    # Both service processes up, each with its spare worker tied to it.
    wait_for("two spare workers", lambda: len(svc.armed_workers()) >= 2, STARTUP_SECONDS)
    assert len(svc.processes()) >= 5  # the supervisor, two service processes, two workers

    svc.kill()
    wait_for("no service process or worker left", lambda: not svc.processes(), GONE_SECONDS)
    wait_for(f"port {svc.port} let go", svc.port_free, GONE_SECONDS)


# --- an adopted worker is watched -------------------------------------------------------------


def test_a_worker_adopted_after_a_restart_is_watched_and_its_run_failed_when_it_dies(demo_engine):
    with transaction(demo_engine) as session:
        run = MatchRun(status=MatchRunStatus.running, panel_date=DEMO_DAY)
        session.add(run)
        session.flush()
        run_id = run.id
    # A worker another service process started: alive, and named for its run as workers are.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", (f"import ctypes, time\n"
                                f"ctypes.CDLL(None).prctl(15, {jobs.process_name(run_id).encode()!r}, 0, 0, 0)\n"
                                "print('named', flush=True)\ntime.sleep(120)")], stdout=subprocess.PIPE)
    try:
        assert stand_in.stdout.readline() == b"named\n"
        with transaction(demo_engine) as session:
            session.get(MatchRun, run_id).worker_pid = stand_in.pid
        with TestClient(create_app(demo_engine)) as client:
            headers = sign_in(client, Role.service_manager)
            assert client.get(f"/match-runs/{run_id}", headers=headers).json()["status"] == "running"  # adopted

            stand_in.kill()
            stand_in.wait()
            run = wait_for("the adopted worker's run failed", lambda: next(
                (r for r in [client.get(f"/match-runs/{run_id}", headers=headers).json()] if r["status"] == "failed"),
                None), 10.0)
            assert run["error"] == jobs.ADOPTED_STOPPED and run["finished_at"]
    finally:
        stand_in.kill()
        stand_in.wait()
    with transaction(demo_engine) as session:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.entity_type == "match_run", AuditEvent.entity_id == str(run_id))).all()
    assert actions == ["match_run_failed"]


def test_a_run_just_submitted_survives_another_service_process_starting_up(demo_engine, monkeypatch):
    """A run is never without its worker's pid: another service process's start-up check
    (``recover``), run between the run's insert and the hand-over, adopts it, not fails it."""
    seen: list[str] = []
    start_worker = jobs.start_worker

    def another_service_starts_first(engine, run_id, process=None):
        recovery = subprocess.run(
            [sys.executable, "-c", "from api import jobs; from models.db import make_engine; "
                                   f"print(jobs.recover(make_engine({str(engine.url)!r})))"],
            capture_output=True, text=True, timeout=60, env={**os.environ, **process_guard.child_env()})
        seen.append(recovery.stdout.strip() or recovery.stderr)
        return start_worker(engine, run_id, *([process] if process is not None else []))

    monkeypatch.setattr(jobs, "start_worker", another_service_starts_first)
    with TestClient(create_app(demo_engine)) as client:
        headers = sign_in(client, Role.panel_member)
        started = client.post("/match-runs", json={"panel_date": DEMO_DAY.isoformat()}, headers=headers)
        assert started.status_code in (200, 201, 202), started.text
        run_id = started.json()["id"]
        run = wait_for("the run finished", lambda: next(
            (r for r in [client.get(f"/match-runs/{run_id}", headers=headers).json()]
             if r["status"] not in ("queued", "running")), None), 120.0)
    assert seen == ["[]"]  # the other process failed no run
    assert run["status"] == "succeeded", run.get("error")


# --- api.process_guard on its own -------------------------------------------------------------


CHILD = ("import signal, sys, time\n"
         "from api import process_guard\n"
         "if sys.argv[1] == 'polling':\n"
         "    process_guard._pdeathsig = lambda sig: False  # as on a system without PR_SET_PDEATHSIG\n"
         "print(process_guard.die_with_parent(signal.SIGKILL), flush=True)\n"
         "time.sleep(120)\n")
PARENT = ("import os, sys, time\n"
          "from api import process_guard\n"
          "child = process_guard.spawn([sys.executable, '-c', sys.argv[1], sys.argv[2]],\n"
          "                            env=process_guard.child_env(), stdout=sys.stdout)\n"
          "print(child.pid, flush=True)\n"
          "time.sleep(120)\n")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    env.pop(process_guard.PARENT_ENV, None)
    return env


@pytest.mark.parametrize("how", ["pdeathsig", "polling"])
def test_a_child_dies_when_its_parent_is_killed(how):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, how], env=_env(), stdout=subprocess.PIPE,
                              start_new_session=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        assert parent.stdout.readline() == b"True\n"  # armed, and its parent was still there
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_for(f"the child gone ({how})", lambda: not alive(child), 5.0)
    finally:
        for pid in (parent.pid, child):
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_a_child_whose_parent_died_before_it_armed_the_signal_stops_at_once():
    env = dict(_env(), **{process_guard.PARENT_ENV: "1"})  # a parent it no longer has
    done = subprocess.run([sys.executable, "-c", CHILD, "pdeathsig"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == process_guard.ORPHANED_EXIT_CODE and done.stdout == ""
    assert "has already stopped" in done.stderr


def test_a_process_not_started_by_placematch_follows_no_parent():
    done = subprocess.run([sys.executable, "-c", CHILD.replace("time.sleep(120)", ""), "pdeathsig"], env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "False\n")


def test_a_child_outlives_the_thread_that_asked_for_it():
    """PR_SET_PDEATHSIG follows the thread that started the child; ``spawn`` starts it from a
    thread that lasts as long as the process, so a request thread's end does not kill a worker."""
    started: list[tuple[subprocess.Popen, bytes]] = []
    env = process_guard.child_env(_env())

    def ask() -> None:  # as a request's thread does, then ends
        child = process_guard.spawn([sys.executable, "-c", CHILD, "pdeathsig"], env=env, stdout=subprocess.PIPE)
        started.append((child, child.stdout.readline()))  # once the child has armed its signal

    asker = threading.Thread(target=ask)
    asker.start()
    asker.join()
    child, armed = started[0]
    try:
        assert armed == b"True\n"
        # Had the asking thread started it, the kernel would have killed it as the thread ended.
        time.sleep(0.3)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()

