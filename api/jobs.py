"""Match jobs: a panel run solved outside the request, in a worker process of its own.

The ``MatchRun`` row is the job. The service adds it (``queued``) and starts a worker,
``python -m api.jobs RUN_ID``, which opens its own engine on the same database, claims the row
(``running``), reports each stage in ``progress``, and fills in the same row with the solver's
report and the proposals (``succeeded``) or the reason it could not (``failed``)::

    queued -> running -> succeeded | failed
    queued | running -> cancelled   (POST /match-runs/{id}/cancel)
    queued | running -> failed      (the worker died, the service shut down or restarted)

Workers die with their service (``api.process_guard``): each asks the kernel for SIGKILL when
the service goes, even by ``kill -9``, so no worker outlives it to hold a run no one watches.
A run whose worker lives on after a restart of the service (one started by another of
``serve --workers N``'s processes) is adopted: watched until its worker stops, and failed, with
the reason, if the worker stopped without finishing it. So a run is never left "running" with
no worker behind it.

Warm workers: starting Python and importing the solver and pandas takes about a second, more
than a panel-sized solve. So a service that keeps workers warm (``placematch serve``) starts the
next job's worker ahead of time, ``python -m api.jobs --wait`` (started through
``api.process_guard``, which ties it to the service first), which imports everything and
waits for a run id on its standard input; a job is handed to it and a new spare is started. A
spare whose service has gone dies with it (and, failing that, sees its input close and exits).

Why a process and not a thread: a solve can run for minutes, must not slow the service's
requests, and must be stoppable at any moment; a process can be killed (SIGTERM, then SIGKILL),
a thread cannot.

Every change of state is one conditional UPDATE (``... WHERE status IN`` the states it may
leave), so a cancel and the worker's last write cannot both win: whichever commits first
decides, and the other finds the row already moved on and does nothing.

Logs carry run ids, states, counts and process ids only, never anything about a young person.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from api import process_guard
from matching.policy import Policy
from models import glossary
from models.accounts import User, record
from models.base import utcnow
from models.db import make_engine, transaction
from models.enums import MatchRunStatus
from models.panel import MatchRun

log = logging.getLogger("placematch.jobs")

WORKER_MODULE = "api.jobs"
ROOT = Path(__file__).resolve().parent.parent  # holds the api, matching, models packages
ACTIVE = (MatchRunStatus.queued, MatchRunStatus.running)
STOP_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
INTERRUPTED = "interrupted by a service restart"
ADOPTED_STOPPED = ("the match worker stopped unexpectedly (another service process started it, so its "
                   "exit code is not known)")
NEVER_STARTED = "the match worker did not start the run"
WATCH_SECONDS = 0.25  # how often an adopted worker is looked at
STARTING_GRACE_SECONDS = 60.0  # a worker given its run reads the run id within this, or is given up
SHUT_DOWN = "interrupted: the service shut down while it ran"
# The unplaced young people and why, kept with the job's progress once it has succeeded (there
# is no table for them); the API shows them at /match-runs/{id}/unplaced, not in ``progress``.
UNPLACED_KEY = "unplaced_detail"
PRACTICE_KEY = "against_one_at_a_time"  # the proposal beside one-at-a-time practice
STAGES = ("queued", "loading", "eligibility", "solving", "explaining", "done")


class JobFinished(Exception):
    """The run has already finished (or was cancelled): it cannot be cancelled now."""

    def __init__(self, status: MatchRunStatus) -> None:
        super().__init__(status.value)
        self.status = status


def pair_codes(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{r}:{v}" for r, v in pairs]


def pairs_of(codes: Iterable[str]) -> list[tuple[str, str]]:
    return [tuple(code.split(":", 1)) for code in codes]  # type: ignore[misc]


def _move(session: Session, run_id: int, to: MatchRunStatus, source=ACTIVE, **values) -> bool:
    """Move the run to ``to`` only if it is still in one of the ``source`` states."""
    result = session.execute(
        update(MatchRun)
        .where(MatchRun.id == run_id, MatchRun.status.in_(source))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# ---------------------------------------------------------------------------------------------
# The service's side: start, watch, stop and recover workers.


@dataclass
class _Worker:
    run_id: int
    process: subprocess.Popen


_workers: dict[tuple[str, int], _Worker] = {}  # (database, run id): the workers this process started
_workers_lock = threading.Lock()


def _db_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _register(engine: Engine, worker: _Worker) -> None:
    with _workers_lock:
        _workers[(_db_key(engine), worker.run_id)] = worker


def _unregister(engine: Engine, run_id: int) -> _Worker | None:
    with _workers_lock:
        return _workers.pop((_db_key(engine), run_id), None)


def _mine(engine: Engine, run_id: int) -> _Worker | None:
    with _workers_lock:
        return _workers.get((_db_key(engine), run_id))


def submit(engine: Engine, *, actor: User, panel_date: dt.date, placing_authority: str, policy: Policy,
           locks: list[tuple[str, str]], bans: list[tuple[str, str]]) -> MatchRun:
    """Queue a run and start its worker; returns the queued run (with the worker's pid).

    The worker is taken first and the run is written with its pid: a run never exists without
    one, so another service process starting up at that moment (``recover``) sees a live
    worker and leaves the run alone, where it used to fail it as interrupted. The row is
    committed before the worker is told the run id, so the worker always finds it."""
    try:
        process = _take_spare(engine)
    except OSError as exc:
        log.error("the match worker could not start (%s)", type(exc).__name__)
        process = None
    with transaction(engine, actor) as session:
        run = MatchRun(
            created_by_id=actor.id, status=MatchRunStatus.queued, panel_date=panel_date,
            placing_authority=placing_authority, council_code=placing_authority, policy=policy.model_dump(mode="json"),
            locks=pair_codes(locks), bans=pair_codes(bans), progress={"stage": "queued"},
            worker_pid=process.pid if process is not None else None,
        )
        session.add(run)
        session.flush()
        record(session, "match_run_submitted", "match_run", run.id, actor=actor, after={
            "panel_date": panel_date.isoformat(), "placing_authority": placing_authority,
            "locks": run.locks, "bans": run.bans,
            "time_limit_seconds": policy.solver.time_limit_seconds,
        })
    try:
        if process is None:
            raise OSError("no worker")
        run.worker_pid = start_worker(engine, run.id, process)
    except OSError as exc:
        log.error("match run %s: the worker could not start (%s)", run.id, type(exc).__name__)
        with transaction(engine) as session:
            _move(session, run.id, MatchRunStatus.failed, error="the match worker could not start",
                  finished_at=utcnow())
        run.status = MatchRunStatus.failed
    return run


_spares: dict[str, subprocess.Popen] = {}  # database: a worker waiting for its run (``--wait``)
_warm: set[str] = set()  # the databases whose service keeps a spare ready


def keep_warm(engine: Engine) -> None:
    """Keep a worker ready for this database's next job from now on (``placematch serve``)."""
    with _workers_lock:
        _warm.add(_db_key(engine))
    _refill(engine)


def _spawn(engine: Engine) -> subprocess.Popen:
    env = dict(os.environ)
    # The worker's own engine: the URL (with its password) goes in its environment, never on
    # its command line, where any user could read it.
    env["DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    # From the process's spawning thread, with this process named as the parent the worker
    # follows (api.process_guard): it dies with the service, never with a request's thread.
    return process_guard.spawn(
        process_guard.command(WORKER_MODULE, "--wait"), env=process_guard.child_env(env),
        stdin=subprocess.PIPE,
        # Its own session: a Ctrl-C meant for the service does not reach it; the service stops
        # it (on_shutdown) and records why.
        start_new_session=True,
    )


def _refill(engine: Engine) -> None:
    """Start a spare for this database if its service keeps one and has none (or it died)."""
    key = _db_key(engine)
    with _workers_lock:
        spare = _spares.get(key)
        if key not in _warm or (spare is not None and spare.poll() is None):
            return
        _spares[key] = _spawn(engine)


def spare_pid(engine: Engine) -> int | None:
    """The pid of the worker waiting for this database's next job, if there is one."""
    with _workers_lock:
        spare = _spares.get(_db_key(engine))
    return spare.pid if spare is not None and spare.poll() is None else None


def _take_spare(engine: Engine) -> subprocess.Popen:
    with _workers_lock:
        spare = _spares.pop(_db_key(engine), None)
    if spare is not None and spare.poll() is None:
        return spare
    return _spawn(engine)  # none ready: a cold start, the job waits for the imports


def start_worker(engine: Engine, run_id: int, process: subprocess.Popen | None = None) -> int:
    """Hand the run to ``process`` (default: the spare, or a new one) on the same database;
    returns the pid of the worker that took it."""
    process = process or _take_spare(engine)
    try:
        process.stdin.write(f"{run_id}\n".encode())
        process.stdin.close()
    except OSError:  # it died waiting: start one for this run
        _terminate(process, 0.0)
        process = _spawn(engine)
        process.stdin.write(f"{run_id}\n".encode())
        process.stdin.close()
    _register(engine, _Worker(run_id, process))
    with transaction(engine) as session:
        session.execute(update(MatchRun).where(MatchRun.id == run_id).values(worker_pid=process.pid)
                        .execution_options(synchronize_session=False))
    threading.Thread(target=_watch, args=(engine, run_id, process), name=f"match-run-{run_id}",
                     daemon=True).start()
    log.info("match run %s: worker %s started", run_id, process.pid)
    _refill(engine)  # the next job's, importing while this one solves
    return process.pid


def _watch(engine: Engine, run_id: int, process: subprocess.Popen) -> None:
    """Reap the worker when it exits; if it died without finishing the run, say so. (A worker
    that finished, or was cancelled, leaves the run finished, and the update below does nothing.)"""
    code = process.wait()
    _unregister(engine, run_id)
    _fail_unfinished(engine, run_id, f"the match worker stopped unexpectedly (exit code {code})")


# A worker's name (``ps -o comm``) says how far it has got: STARTING_NAME once it is tied to its
# service (it dies with it), SPARE_NAME once it is ready and waiting, process_name(run) once it
# has its run.
STARTING_NAME = "pmstart"
SPARE_NAME = "pmspare"


def process_name(run_id: int) -> str:
    """The name a worker takes once it has its run (Linux keeps 15 bytes of it)."""
    return f"pmrun{run_id}"[:15]


def is_worker(pid: int, run_id: int) -> bool:
    """Whether ``pid`` is alive and is the worker of this run (not a process that reused its pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not one of ours
    comm = Path(f"/proc/{pid}/comm")
    if not comm.parent.parent.exists():
        return True  # no /proc (macOS): alive is the best we can know
    try:
        if comm.read_text().strip() != process_name(run_id):
            return False
        # A zombie keeps its pid and name until its parent reaps it, but it is not working.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _worker_state(pid: int, run_id: int) -> str:
    """``working``: the run's worker (named for it); ``starting``: a worker that was given the
    run and has not read its id yet (a spare still importing, or a cold start); ``gone``."""
    if is_worker(pid, run_id):
        return "working"
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    if WORKER_MODULE.encode() in cmdline and not comm.startswith("pmrun"):
        return "starting"
    return "gone"


def _take_name(name: str) -> None:
    """Name this process: ``process_name(run_id)`` for its run (see is_worker; a spare's command
    line cannot say which run it took, its name can), or STARTING_NAME, SPARE_NAME before.
    PR_SET_NAME is Linux's; elsewhere is_worker does without."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name.encode()), 0, 0, 0)  # 15: PR_SET_NAME
    except (OSError, AttributeError):
        pass


def stop_worker(engine: Engine, run_id: int, pid: int | None, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop the run's worker: SIGTERM, then SIGKILL if it has not gone within ``grace`` seconds."""
    worker = _unregister(engine, run_id)
    if worker is not None:
        _terminate(worker.process, grace)
    elif pid is not None and is_worker(pid, run_id):  # started by another service process
        _signal_until_gone(pid, run_id, grace)
    log.info("match run %s: worker stopped", run_id)


def _terminate(process: subprocess.Popen, grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _signal_until_gone(pid: int, run_id: int, grace: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not is_worker(pid, run_id):
                return
            time.sleep(0.05)


def cancel(engine: Engine, run_id: int, actor: User) -> MatchRun:
    """Cancel a queued or running run and stop its worker; ``JobFinished`` if it has finished.

    The row is marked first, then the worker stopped: once the cancel commits, nothing the
    worker might still write can overwrite it."""
    with transaction(engine) as session:
        before = session.scalar(select(MatchRun.status).where(MatchRun.id == run_id))
        if not _move(session, run_id, MatchRunStatus.cancelled, finished_at=utcnow()):
            raise JobFinished(session.scalar(select(MatchRun.status).where(MatchRun.id == run_id)))
        record(session, "match_run_cancelled", "match_run", run_id, actor=actor,
               before={"status": before.value}, after={"status": MatchRunStatus.cancelled.value})
    with transaction(engine) as session:
        run = session.get(MatchRun, run_id)
    stop_worker(engine, run_id, run.worker_pid)
    return run


def recover(engine: Engine) -> list[int]:
    """At start-up: fail the runs a previous service process left queued or running whose worker
    is gone. A run whose worker still lives (another service process's) is adopted: it is left
    to finish, and watched as this process's own workers are (see ``_watch_adopted``)."""
    failed, adopted = [], []
    with transaction(engine) as session:
        for run in session.scalars(select(MatchRun).where(MatchRun.status.in_(ACTIVE))).all():
            if _mine(engine, run.id) is not None:
                continue
            if run.worker_pid is not None and _worker_state(run.worker_pid, run.id) != "gone":
                adopted.append((run.id, run.worker_pid))
                continue
            if _move(session, run.id, MatchRunStatus.failed, error=INTERRUPTED, finished_at=utcnow()):
                record(session, "match_run_failed", "match_run", run.id, actor_name="service",
                       before={"status": run.status.value}, after={"error": INTERRUPTED})
                failed.append(run.id)
    if failed:
        log.warning("match runs %s: %s", ", ".join(map(str, failed)), INTERRUPTED)
    for run_id, pid in adopted:
        _adopt(engine, run_id, pid)
    return failed


_adopted: dict[tuple[str, int], threading.Event] = {}  # (database, run id): stop watching


def _adopt(engine: Engine, run_id: int, pid: int) -> None:
    key = (_db_key(engine), run_id)
    with _workers_lock:
        if key in _adopted:
            return
        stop = _adopted[key] = threading.Event()
    threading.Thread(target=_watch_adopted, args=(engine, run_id, pid, stop),
                     name=f"match-run-{run_id}-adopted", daemon=True).start()
    log.info("match run %s: worker %s adopted (started by another service process)", run_id, pid)


def _watch_adopted(engine: Engine, run_id: int, pid: int, stop: threading.Event) -> None:
    """``_watch`` for a worker this process did not start (so cannot wait for): look at it every
    WATCH_SECONDS until it has gone, then fail its run if it had not finished it. A worker that
    finishes commits the run's outcome before it exits, so the update then does nothing."""
    since = time.monotonic()
    try:
        while not stop.wait(WATCH_SECONDS):
            state = _worker_state(pid, run_id)
            if state == "working" or (
                    state == "starting" and time.monotonic() - since < STARTING_GRACE_SECONDS):
                continue
            message = ADOPTED_STOPPED if state == "gone" else (
                f"{NEVER_STARTED} within {STARTING_GRACE_SECONDS:.0f} seconds")
            _fail_unfinished(engine, run_id, message)
            return
    finally:
        with _workers_lock:
            _adopted.pop((_db_key(engine), run_id), None)


def _fail_unfinished(engine: Engine, run_id: int, message: str) -> None:
    """Fail the run if it is still queued or running (its worker has gone), and say why."""
    try:
        with transaction(engine) as session:
            if _move(session, run_id, MatchRunStatus.failed, error=message, finished_at=utcnow()):
                record(session, "match_run_failed", "match_run", run_id, actor_name="service",
                       after={"error": message})
                log.warning("match run %s: %s", run_id, message)
    except Exception as exc:  # the database may be gone (a test's, or at shutdown): nothing to mark
        log.warning("match run %s: could not record the worker's exit (%s)", run_id, type(exc).__name__)


def shutdown(engine: Engine) -> list[int]:
    """At shutdown: stop the workers this process started on this database, failing their runs,
    and its spare; stop watching the workers it adopted (they are another process's to stop)."""
    key = _db_key(engine)
    with _workers_lock:
        _warm.discard(key)
        spare = _spares.pop(key, None)
        for (db, _run_id), stop in _adopted.items():
            if db == key:
                stop.set()
    if spare is not None:
        _terminate(spare, 1.0)
    with _workers_lock:
        run_ids = [run_id for (db, run_id) in _workers if db == key]
    for run_id in run_ids:
        with transaction(engine) as session:
            if _move(session, run_id, MatchRunStatus.failed, error=SHUT_DOWN, finished_at=utcnow()):
                record(session, "match_run_failed", "match_run", run_id, actor_name="service",
                       after={"error": SHUT_DOWN})
        stop_worker(engine, run_id, None)
    return run_ids


# ---------------------------------------------------------------------------------------------
# The worker's side: ``python -m api.jobs RUN_ID``.


class _Stopped(Exception):
    """The run left ``running`` under the worker (cancelled, or failed by a restart)."""


@dataclass(frozen=True)
class _Job:
    run_id: int
    panel_date: dt.date
    placing_authority: str
    policy: Policy
    locks: list[tuple[str, str]]
    bans: list[tuple[str, str]]
    created_by_id: int | None
    started_at: dt.datetime


def _claim(engine: Engine, run_id: int) -> _Job | None:
    """queued -> running; None when the run is no longer queued (cancelled before we started)."""
    started = utcnow()
    with transaction(engine) as session:
        if not _move(session, run_id, MatchRunStatus.running, source=(MatchRunStatus.queued,),
                     started_at=started, worker_pid=os.getpid(), progress={"stage": "loading"}):
            return None
        run = session.get(MatchRun, run_id)
        return _Job(run_id, run.panel_date, run.placing_authority, Policy.model_validate(run.policy),
                    pairs_of(run.locks), pairs_of(run.bans), run.created_by_id, started)


def _report(engine: Engine, run_id: int, progress: dict) -> None:
    # The stage in words too, for the run page's live status (models.glossary)
    progress = {**progress, "stage_words": glossary.RUN_STAGES.get(progress.get("stage", ""), "")}
    with transaction(engine) as session:
        moved = session.execute(
            update(MatchRun).where(MatchRun.id == run_id, MatchRun.status == MatchRunStatus.running)
            .values(progress=progress).execution_options(synchronize_session=False)
        ).rowcount
    if moved != 1:
        raise _Stopped


def _solve(engine: Engine, job: _Job):
    """The same steps as ``matching.panel.run_panel``, with a progress report between them."""
    from matching.eligibility import eligible_pairs
    from matching.engine import match
    from matching.explain import explain
    from matching.instance import from_database
    from matching.scoring import totals

    with transaction(engine) as session:
        instance = from_database(session, job.placing_authority, job.panel_date, locks=job.locks, bans=job.bans)
    counts = {"young_people": len(instance.referrals), "vacancies": len(instance.vacancies)}
    _report(engine, job.run_id, {"stage": "eligibility", **counts})
    eligibility = eligible_pairs(instance, job.policy)
    counts["eligible_pairs"] = len(eligibility.pairs)
    # The min-cost flow, then CP-SAT when a side constraint needs it; each feasible proposal
    # the engine finds on the way is shown as the best so far.
    _report(engine, job.run_id, {"stage": "solving", **counts})

    def best_so_far(stage: str, proposal) -> None:
        _report(engine, job.run_id, {"stage": "solving", **counts, "best_so_far": {
            "found_by": stage, "placed": len(proposal), "objective": totals(proposal, job.policy),
            "pairs": pair_codes(zip(proposal["referral_id"], proposal["vacancy_id"], strict=True)),
        }})

    result = match(instance, job.policy, eligibility=eligibility, on_progress=best_so_far)
    counts |= {"placed": len(result.matches), "unplaced": len(result.unplaced)}
    _report(engine, job.run_id, {"stage": "explaining", **counts})
    from api.panel_decisions import council_approval_policy

    # The approvals each proposal will need, under the placing council's own policy.
    explanation = explain(result, instance, job.policy, council_approval_policy(job.placing_authority))
    done = {
        "stage": "done", **counts, "cp_sat": bool(result.model_pairs), "proven_by": result.proven_by,
        "seconds": {k: round(float(v), 3) for k, v in result.seconds.items()},
        # The run page's headline: the proposal beside placing one young person at a time.
        PRACTICE_KEY: _practice(result),
        UNPLACED_KEY: [
            {"referral_id": r.referral_id, "reason": r.reason, "eligible_options": int(r.eligible_options),
             "excluded_by": r.excluded_by, "taken_by": r.taken_by, "nearest_miss": r.nearest_miss,
             "nearest_miss_kind": r.nearest_miss_kind, "nearest_miss_checked": r.nearest_miss_checked,
             "providers_asked": r.providers_asked}
            for r in explanation.unplaced.itertuples(index=False)
        ],
    }
    return instance, result, explanation, done


def _practice(result) -> dict | None:
    """The headline measures of the proposal and of one-at-a-time practice, with what the
    panel reads about them (matching.practice.Comparison), or None when none was computed."""
    comparison = getattr(result, "practice", None)
    if comparison is None:
        return None
    return {"measures": comparison.table(), "in_words": comparison.words(),
            "proposal": dict(comparison.proposal), "practice": dict(comparison.practice)}


def _record(engine: Engine, job: _Job, instance, result, explanation, done: dict) -> bool:
    """running -> succeeded with the proposals, in one transaction; False if it was cancelled."""
    from matching.runs import record_run

    with transaction(engine) as session:
        if not _move(session, job.run_id, MatchRunStatus.succeeded, source=(MatchRunStatus.running,),
                     progress=done):
            return False
        run = session.get(MatchRun, job.run_id)
        user = session.get(User, job.created_by_id) if job.created_by_id else None
        record_run(session, instance, job.policy, result, explanation, started_at=job.started_at,
                   user=user, run=run)
    return True


def _fail(engine: Engine, run_id: int, message: str) -> None:
    with transaction(engine) as session:
        if _move(session, run_id, MatchRunStatus.failed, source=(MatchRunStatus.running,),
                 error=message, finished_at=utcnow()):
            record(session, "match_run_failed", "match_run", run_id, actor_name="match worker",
                   after={"error": message})


def run_job(engine: Engine, run_id: int) -> int:
    """Solve one queued run and record the outcome in its row; the process's exit code."""
    from matching.engine import MatchError
    from matching.panel import PanelRunError

    job = _claim(engine, run_id)
    if job is None:
        log.info("match run %s: not queued any more; nothing to do", run_id)
        return 0
    try:
        outcome = _solve(engine, job)
        recorded = _record(engine, job, *outcome)
    except _Stopped:
        log.info("match run %s: stopped (cancelled or interrupted)", run_id)
        return 0
    except (MatchError, PanelRunError) as exc:  # the panel's choices cannot hold: say which
        _fail(engine, run_id, str(exc))
        log.info("match run %s: failed (no proposal can honour the request)", run_id)
        return 0
    except Exception as exc:
        # The traceback names code, not data; the message (which may quote data) goes only to
        # the access-controlled run row.
        log.error("match run %s: unexpected %s\n%s", run_id, type(exc).__name__,
                  "".join(traceback.format_tb(exc.__traceback__)))
        _fail(engine, run_id, f"the match worker failed unexpectedly ({type(exc).__name__}: {exc})"[:2000])
        return 0
    log.info("match run %s: %s", run_id, "succeeded" if recorded else "finished after it was cancelled")
    return 0


def _preload(engine: Engine) -> None:
    """What a spare does while it waits: the imports and first-use set-up a solve needs (about
    a second, most of it OR-Tools and pandas) and the postcode directory's parts the open
    referrals' postcodes are in (a few tenths of a second each), so a job starts at once."""
    from ortools.sat.python import cp_model
    from sqlalchemy.orm import configure_mappers

    import matching.eligibility  # noqa: F401
    import matching.engine  # noqa: F401
    import matching.explain  # noqa: F401
    import matching.instance  # noqa: F401
    import matching.panel  # noqa: F401
    import matching.runs  # noqa: F401
    from models.enums import ReferralStatus
    from models.people import Referral
    from providers.geography import preload

    configure_mappers()  # otherwise done by the first query
    cp_model.CpSolver().solve(cp_model.CpModel())  # loads the solver's native library
    columns = (Referral.home_postcode, Referral.education_postcode, Referral.preferred_postcode)
    with transaction(engine) as session:
        letters = {letter for column in columns for letter in session.scalars(
            select(func.substr(column, 1, 1)).where(Referral.status == ReferralStatus.open).distinct()) if letter}
    preload(letters)


def main(argv: list[str] | None = None) -> int:
    # Die with the service that started this worker, even by kill -9, and stop now if it has
    # already gone (api.process_guard; the service's command line has done it before the
    # imports, and then this does nothing). A worker run by hand has no service to follow.
    process_guard.die_with_parent(signal.SIGKILL)
    _take_name(STARTING_NAME)
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (args[0].isdigit() or args[0] == "--wait"):
        print("usage: python -m api.jobs RUN_ID | --wait  (DATABASE_URL names the database; with --wait the "
              "run id is read from standard input)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s match-worker[%(process)d] %(levelname)s %(message)s")
    engine = make_engine()
    try:
        if args[0] == "--wait":
            _preload(engine)
            _take_name(SPARE_NAME)
            line = sys.stdin.readline().strip()
            if not line.isdigit():  # the service stopped (its end of the pipe closed) without a job
                return 0
            run_id = int(line)
        else:
            run_id = int(args[0])
        _take_name(process_name(run_id))
        return run_job(engine, run_id)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
