"""Fault benchmark: kill -9 of match workers and of the service during a scripted panel session.

Run: .venv/bin/python -m benchmarks.bench_faults [--kills 10] [--seed 13] [--workers 1]
     [--decisions 3] [--json PATH]

On a temporary SQLite database holding the demo council (as ``placematch demo --users`` builds
it, for panel day 2026-11-23), the real service (``placematch serve``) runs in a subprocess on
127.0.0.1, and a head of service works through a panel session over HTTP: submit a match run,
wait for it, accept or reject a few of its proposals (seeded choices), and again. Each round
holds one SIGKILL at a seeded random point:

* **target**: the service (with ``--workers N``, uvicorn's supervisor) or a match worker;
* **when**: during the run (a random delay after submitting it: the worker is starting,
  solving or writing its proposals) or during the decisions (the service: in the middle of an
  accept or reject request; a worker: the spare waiting for the next run).

After a service kill the benchmark waits for every process the service had started to go, then
starts the service again on the same port (so a process still holding it would show). After a
worker kill the service lives on and must answer. Then the session goes on (a run, which must
succeed, and the panel's decisions on it: proposals needing a manager's approval first, so
accepts raise approval requests), and the invariants are read from the database:

1. no run is left queued or running (waited for, up to CHECK_SECONDS: a killed worker's run is
   failed by its service at once, an orphan by the next start);
2. no process of a killed service is left (its workers, its service processes);
3. every placement the session made has the approval requests its proposal named, and one is
   awaiting approval exactly when it has requests (a placement is never written without them);
4. the audit log holds one decision event per decision in the database, and the database holds
   every decision the client was told was made, plus at most those whose answer the kill cut off.

A table per kill, a summary, and ``--json PATH`` for the same as data. Timings are this
machine's, printed, never asserted (it is a benchmark, not a test: tests/api/test_processes.py
holds the tests). The service, and every process it started, is killed on exit, whatever
happens.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.bench_service import (
    PANEL_DAY,
    build_database,
    free_port,
    sign_in,
    wait_until_answering,
)

ROOT = Path(__file__).resolve().parent.parent
FINISHED = {"succeeded", "failed", "cancelled"}
ACTIVE = {"queued", "running"}
STARTUP_SECONDS = 90.0
GONE_SECONDS = 20.0  # a service process's clean shutdown after its supervisor dies is bounded by 10 s
CHECK_SECONDS = 15.0
RUN_SECONDS = 120.0
RUN_KILL_DELAY = (0.0, 0.4)  # seconds after submitting: the worker is starting or solving
REQUEST_KILL_DELAY = (0.0, 0.03)  # seconds into an accept/reject request
DECISION_EVENTS = ("decision_accept", "decision_reject")


# --- the service and its processes ----------------------------------------------------------


def _read(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    stat = _read(pid, "stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"


class Service:
    """``placematch serve`` in a session of its own, on a fixed port; killed with SIGKILL."""

    def __init__(self, url: str, log: Path, workers: int) -> None:
        self.url, self.log, self.workers = url, log, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start it and wait until it answers; the seconds that took."""
        env = dict(os.environ, DATABASE_URL=self.url)
        env.pop("PLACEMATCH_PLACING_AUTHORITY", None)
        env.pop("PLACEMATCH_PARENT_PID", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        return wait_until_answering(self.process, self.base, self.log, STARTUP_SECONDS)

    def processes(self) -> list[int]:
        """Every live process started for this database (the service, its processes, workers)."""
        wanted = f"DATABASE_URL={self.url}".encode()
        return [int(e.name) for e in Path("/proc").iterdir()
                if e.name.isdigit() and int(e.name) != os.getpid()
                and wanted in _read(int(e.name), "environ").split(b"\0") and _alive(int(e.name))]

    def workers_now(self) -> dict[int, str]:
        """The match workers alive, by pid, with their names (pmstart, pmspare, pmrunN)."""
        return {pid: _read(pid, "comm").decode().strip() for pid in self.processes()
                if b"api.jobs" in _read(pid, "cmdline").split(b"\0")}

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def kill_everything(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_worker(service: Service, pid: int) -> bool:
    """SIGKILL ``pid`` if it is still one of this service's match workers (not a reused pid)."""
    if pid not in service.workers_now():
        return False
    os.kill(pid, signal.SIGKILL)
    return True


# --- the database, read directly for the invariants ------------------------------------------


@dataclass
class Baseline:
    decision: int
    placement: int
    audit: int


def _engine(url: str):
    from models.db import make_engine

    return make_engine(url)


def baseline(url: str) -> Baseline:
    from sqlalchemy import func, select

    from models.accounts import AuditEvent
    from models.db import transaction
    from models.panel import Decision
    from models.people import Placement

    engine = _engine(url)
    try:
        with transaction(engine) as session:
            top = [session.scalar(select(func.coalesce(func.max(m.id), 0))) for m in (Decision, Placement, AuditEvent)]
    finally:
        engine.dispose()
    return Baseline(*top)


def active_runs(url: str) -> list[int]:
    from sqlalchemy import select

    from models.db import transaction
    from models.enums import MatchRunStatus
    from models.panel import MatchRun

    engine = _engine(url)
    try:
        with transaction(engine) as session:
            return list(session.scalars(select(MatchRun.id).where(
                MatchRun.status.in_((MatchRunStatus.queued, MatchRunStatus.running)))))
    finally:
        engine.dispose()


def ledger(url: str, since: Baseline) -> dict:
    """What the session wrote: decisions, their audit events, placements and their requests."""
    from sqlalchemy import select

    from models.accounts import AuditEvent
    from models.db import transaction
    from models.enums import DecisionKind, PlacementStatus
    from models.panel import ApprovalRequest, Decision, ProposedMatch
    from models.people import Placement

    engine = _engine(url)
    try:
        with transaction(engine) as session:
            decisions = session.scalars(select(Decision).where(
                Decision.id > since.decision, Decision.kind.in_((DecisionKind.accept, DecisionKind.reject)))).all()
            events = session.scalars(select(AuditEvent).where(
                AuditEvent.id > since.audit, AuditEvent.action.in_(DECISION_EVENTS))).all()
            placed_events = session.scalars(select(AuditEvent).where(
                AuditEvent.id > since.audit, AuditEvent.action == "placement_created")).all()
            placements = session.scalars(select(Placement).where(Placement.id > since.placement)).all()
            requests: dict[int, set[str]] = {}
            for r in session.scalars(select(ApprovalRequest).where(ApprovalRequest.placement_id > since.placement)):
                requests.setdefault(r.placement_id, set()).add(f"{r.rule.value}:{r.role.value}")
            by_decision = {e.entity_id: e for e in events}
            missing = []  # placements without the approval requests their proposal named
            for d in decisions:
                if d.kind != DecisionKind.accept:
                    continue
                event = by_decision.get(str(d.id))
                placement_id = (event.after or {}).get("placement_id") if event else None
                proposal = session.get(ProposedMatch, d.proposed_match_id)
                needed = set(proposal.approvals_required) if proposal else set()
                if placement_id is None or not needed <= requests.get(placement_id, set()):
                    missing.append(d.id)
            inconsistent = [p.id for p in placements
                            if (p.status == PlacementStatus.awaiting_approval) != bool(requests.get(p.id))]
            return {
                "decisions": len(decisions), "accepts": sum(d.kind == DecisionKind.accept for d in decisions),
                "decision_events": len(events), "placements": len(placements),
                "placement_events": len(placed_events),
                "approval_requests": sum(len(v) for v in requests.values()),
                "placements_missing_requests": missing + inconsistent,
            }
    finally:
        engine.dispose()


# --- the session -----------------------------------------------------------------------------


@dataclass
class Client:
    base: str
    headers: dict[str, str]
    acknowledged: int = 0  # decisions the service said it made (201)
    in_doubt: int = 0  # decision requests the kill cut off: made or not, the client cannot know
    refused: int = 0  # decisions the service refused (409: a bed taken, already decided)

    def get(self, path: str) -> dict:
        return httpx.get(self.base + path, headers=self.headers, timeout=30.0).json()

    def submit(self) -> dict:
        answer = httpx.post(f"{self.base}/match-runs", json={"panel_date": PANEL_DAY.isoformat()},
                            headers=self.headers, timeout=30.0)
        answer.raise_for_status()
        return answer.json()

    def wait(self, run_id: int) -> dict:
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline:
            run = self.get(f"/match-runs/{run_id}")
            if run["status"] in FINISHED:
                return run
            time.sleep(0.05)
        raise RuntimeError(f"match run {run_id} did not finish within {RUN_SECONDS:.0f} s")

    def decide(self, run_id: int, proposal_id: int, verb: str) -> str:
        """accept or reject; 'made', 'refused', or 'cut off' (no answer: the service died)."""
        try:
            answer = httpx.post(f"{self.base}/match-runs/{run_id}/proposals/{proposal_id}/{verb}",
                                json={"reason": f"Fault benchmark: the panel chose to {verb} this proposal."},
                                headers=self.headers, timeout=30.0)
        except httpx.TransportError:
            self.in_doubt += 1
            return "cut off"
        if answer.status_code == 201:
            self.acknowledged += 1
            return "made"
        if answer.status_code in (409, 422):
            self.refused += 1
            return "refused"
        raise RuntimeError(f"{verb} answered {answer.status_code}: {answer.text[:500]}")


@dataclass
class Kill:
    number: int
    target: str  # service | worker
    when: str  # run | decision
    delay: float  # seconds after the submit, or into the request
    decision_index: int  # which of the round's decisions (when == decision)
    hit: str = ""  # what was killed, in words
    gone_s: float | None = None  # until no process of the killed service was left
    left: int = 0  # processes of the killed service still alive at GONE_SECONDS
    restart_s: float | None = None
    runs_stuck: list[int] = field(default_factory=list)
    active_at_first_look: list[int] = field(default_factory=list)  # queued or running just after the (re)start
    settle_s: float = 0.0  # until no run was queued or running
    service_answers: bool = True
    decisions: dict = field(default_factory=dict)
    next_run: str = ""  # the run the session made after the kill: its outcome and wall time
    ok: bool = False


def plan(kills: int, seed: int, decisions: int) -> list[Kill]:
    rng = random.Random(seed)
    out = []
    for k in range(1, kills + 1):
        target, when = rng.choice(("service", "worker")), rng.choice(("run", "decision"))
        delay = rng.uniform(*(RUN_KILL_DELAY if when == "run" else REQUEST_KILL_DELAY))
        out.append(Kill(k, target, when, round(delay, 3), rng.randrange(max(decisions, 1))))
    return out


def round_with_a_kill(service: Service, client: Client, kill: Kill, rng: random.Random, decisions: int) -> bool:
    """One round of the session with its kill; True if the service was killed."""
    queued = client.submit()
    run_id = queued["id"]
    if kill.when == "run":
        time.sleep(kill.delay)
        status = client.get(f"/match-runs/{run_id}")
        if kill.target == "service":
            service.kill()
            kill.hit = f"service; its run {run_id} {status['status']}"
            return True
        pid, stage = status.get("worker_pid"), status["progress"].get("stage")
        if status["status"] in ACTIVE and pid and kill_worker(service, pid):
            kill.hit = f"worker of run {run_id}, {status['status']}" + (
                f" ({stage})" if stage and stage != status["status"] else "")
        else:
            kill.hit = f"nothing: run {run_id} had {status['status']} already"
        client.wait(run_id)
        return False

    run = client.wait(run_id)
    for i, (proposal, verb) in enumerate(choices(run, rng, decisions)):
        if i != kill.decision_index:
            client.decide(run_id, proposal["id"], verb)
            continue
        if kill.target == "worker":  # the idle spare, between two decisions
            spares = [pid for pid, name in service.workers_now().items() if name in ("pmspare", "pmstart")]
            killed = bool(spares) and kill_worker(service, spares[0])
            kill.hit = "the spare worker, idle" if killed else "nothing: no spare worker"
            client.decide(run_id, proposal["id"], verb)
            continue
        outcome: list[str] = []
        request = threading.Thread(target=lambda o=outcome, p=proposal["id"], v=verb: o.append(client.decide(run_id, p, v)))
        request.start()
        time.sleep(kill.delay)
        service.kill()
        request.join()
        article = "an" if verb == "accept" else "a"
        kill.hit = f"service, {kill.delay * 1000:.0f} ms into {article} {verb} ({outcome[0] if outcome else '?'})"
        return True
    if not kill.hit:
        kill.hit = "nothing: the run had fewer proposals to decide"
    return False


def choices(run: dict, rng: random.Random, decisions: int) -> list[tuple[dict, str]]:
    """The panel's choices on a run: ``decisions`` of its proposals, each accepted or rejected.
    Proposals that need a manager's approval come first, so accepts raise approval requests."""
    if run["status"] != "succeeded":
        return []
    proposals = [p for p in run.get("proposals", []) if p["rank"] == 0]
    rng.shuffle(proposals)
    proposals.sort(key=lambda p: not p.get("approvals_required"))
    return [(p, rng.choice(("accept", "reject"))) for p in proposals[:decisions]]


def session_goes_on(client: Client, kill: Kill, rng: random.Random, decisions: int) -> None:
    """After the kill and the checks' settling: the panel carries on, a run and its decisions
    (so every round adds decisions, and each kill is followed by a run that must succeed)."""
    started = time.monotonic()
    run = client.wait(client.submit()["id"])
    kill.next_run = f"{run['status']} in {time.monotonic() - started:.2f} s"
    for proposal, verb in choices(run, rng, decisions):
        client.decide(run["id"], proposal["id"], verb)


def settle(service: Service, kill: Kill, killed_service: bool) -> None:
    """After the kill: the killed service's processes gone, the service (re)started, runs settled.
    (Until the restart, every process on this database is the killed service's.)"""
    if killed_service:
        started = time.monotonic()
        while time.monotonic() - started < GONE_SECONDS:
            if not service.processes():
                kill.gone_s = time.monotonic() - started
                break
            time.sleep(0.02)
        kill.left = len(service.processes())
        kill.restart_s = service.start()  # on the same port: a process holding it would stop this
    started = time.monotonic()
    kill.active_at_first_look = active_runs(service.url)
    while True:
        stuck = active_runs(service.url)
        if not stuck or time.monotonic() - started > CHECK_SECONDS:
            break
        time.sleep(0.05)
    kill.runs_stuck, kill.settle_s = stuck, time.monotonic() - started
    try:
        kill.service_answers = httpx.get(f"{service.base}/sign-in", timeout=5.0).status_code == 200
    except httpx.TransportError:
        kill.service_answers = False


def check(kill: Kill, client: Client, url: str, since: Baseline) -> None:
    books = ledger(url, since)
    books |= {"acknowledged": client.acknowledged, "cut_off": client.in_doubt, "refused": client.refused}
    kill.decisions = books
    decisions_kept = client.acknowledged <= books["decisions"] <= client.acknowledged + client.in_doubt
    kill.ok = (not kill.runs_stuck and not kill.left and kill.service_answers and decisions_kept
               and kill.next_run.startswith("succeeded")
               and books["decision_events"] == books["decisions"]
               and books["placement_events"] == books["placements"] == books["accepts"]
               and not books["placements_missing_requests"])


# --- the report ------------------------------------------------------------------------------


def _yes(good: bool) -> str:
    return "[green]yes[/]" if good else "[red]no[/]"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(console: Console, kills: list[Kill], notes: dict) -> None:
    table = Table(title=f"Faults: {len(kills)} kill -9s during a panel session on the demo council "
                        f"(seed {notes['seed']}, {notes['workers']} service process(es))")
    for col in ("#", "target", "when", "what was killed", "old processes gone s", "left", "restart s",
                "runs stuck", "settled s", "answers", "next run", "decisions ack/db/audit", "cut off", "placements/requests",
                "missing requests", "ok"):
        table.add_column(col, justify="left" if col in ("target", "when", "what was killed") else "right")
    for k in kills:
        d = k.decisions
        table.add_row(
            str(k.number), k.target, f"{k.when} +{k.delay * 1000:.0f} ms", k.hit, _s(k.gone_s), str(k.left),
            _s(k.restart_s), str(len(k.runs_stuck)), _s(k.settle_s), _yes(k.service_answers), k.next_run,
            f"{d['acknowledged']}/{d['decisions']}/{d['decision_events']}", str(d["cut_off"]),
            f"{d['placements']}/{d['approval_requests']}", str(len(d["placements_missing_requests"])), _yes(k.ok))
    console.print(table)
    s = notes["summary"]
    console.print(
        f"{s['kills_ok']} of {len(kills)} kills kept every invariant; {s['service_kills']} of the service, "
        f"{s['worker_kills']} of a worker ({s['missed']} found nothing left to kill). "
        f"Restarts: median {_s(s['restart_median_s'])} s (the first start {s['first_start_s']:.2f} s). Columns: 'old processes gone' is from the kill to the "
        "last process of the killed service (its workers, its service processes) gone; 'runs stuck' counts runs "
        f"still queued or running {CHECK_SECONDS:.0f} s after the (re)start; 'next run' is the run the session "
        "made once the service was back (then it decided on that run's proposals); decisions are cumulative over the "
        "session: acknowledged by the service to the client / in the database / audit events for them, and "
        "'cut off' the requests whose answer the kill cut off (each may or may not have been made).",
        style="dim")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kill -9s, one per round of the session")
    parser.add_argument("--seed", type=int, default=13, help="seed of the kill points and the panel's choices")
    parser.add_argument("--workers", type=int, default=1, help="service processes (serve --workers)")
    parser.add_argument("--decisions", type=int, default=3, help="proposals the panel decides per round")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("bench_faults reads /proc to find the service's processes: Linux only")

    console = Console(width=200)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the finally kills everything
    kills = plan(args.kills, args.seed, args.decisions)
    rng = random.Random(args.seed + 1)
    with tempfile.TemporaryDirectory(prefix="placematch-faults-") as tmp:
        folder = Path(tmp)
        with console.status("Building the demo council..."):
            url = build_database(folder / "placematch.db")
        service = Service(url, folder / "service.log", args.workers)
        try:
            with console.status("Starting the service..."):
                first_start = service.start()
            client = Client(service.base, sign_in(service.base))
            since = baseline(url)
            for kill in kills:
                with console.status(f"Kill {kill.number} of {len(kills)}: {kill.target} during the {kill.when}..."):
                    killed_service = round_with_a_kill(service, client, kill, rng, args.decisions)
                    settle(service, kill, killed_service)
                    session_goes_on(client, kill, rng, args.decisions)
                    check(kill, client, url, since)
        except BaseException:
            if service.log.exists():
                console.print(service.log.read_text(errors="replace")[-3000:], markup=False, highlight=False)
            raise
        finally:
            service.kill_everything()
    restarts = sorted(k.restart_s for k in kills if k.restart_s is not None)
    summary = {
        "kills_ok": sum(k.ok for k in kills), "service_kills": sum(k.target == "service" for k in kills),
        "worker_kills": sum(k.target == "worker" for k in kills),
        "missed": sum(k.hit.startswith("nothing") for k in kills),
        "first_start_s": first_start, "restart_median_s": restarts[len(restarts) // 2] if restarts else None,
    }
    notes = {"seed": args.seed, "workers": args.workers, "cpus": os.cpu_count(), "summary": summary,
             "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    report(console, kills, notes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**notes, "kills": [asdict(k) for k in kills]}, indent=2))
        console.print(f"wrote {args.json}")
    if summary["kills_ok"] != len(kills):
        sys.exit(1)


if __name__ == "__main__":
    main()
