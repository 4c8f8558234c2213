"""Tender scenario runs in the background, started from the API or the commissioner's page.

A run works in a thread of the service process that started it (the replications one after
another, so requests keep their share of the CPU) and keeps everything a reader needs in its
``ScenarioResult`` row, so every process of the service (``serve --workers N``) shows the same:

* Progress: the simulation tells of each replication it finishes (scenarios.simulate). A second
  thread, the run's heartbeat, writes how far it has gone into the row about once a second
  (replications done, when the simulating began, when the first replication finished, and the
  time it wrote: ``heard_at``): one writer while the run works, never a write per replication.
* Cancel: one conditional UPDATE, ``running`` -> ``cancelled``, from any process. The heartbeat's
  own UPDATE is conditional on ``running`` too, so once it moves no row the run stops within one
  replication; a cancel and the run's last write cannot both win.
* A run no longer heard from (its process was killed, or the machine restarted) is failed, with
  the reason, once it has been silent for ``SILENT_AFTER_SECONDS``: when the service starts and
  whenever a run is read. A run is never left "running" with nobody working on it, and a second
  process of the service starting up leaves the runs of the first alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy import Engine, func, select, update

from models.accounts import User, record
from models.db import transaction
from models.plans import ScenarioResult
from scenarios.tender_run import RunCancelled, RunProgress

log = logging.getLogger("placematch.tender")
BEAT_SECONDS = 1.0  # how often a run writes its progress (and so finds a cancel from elsewhere)
SILENT_AFTER_SECONDS = 60.0  # a running run not heard from this long has lost its process
INTERRUPTED = "The service stopped while it ran"

_lock = threading.Lock()
_here: dict[tuple[str, int], threading.Thread] = {}  # runs this process is working on


def _key(engine: Engine, result_id: int) -> tuple[str, int]:
    return (engine.url.render_as_string(hide_password=True), result_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _moment(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def start(session, scenario, supply, user: User, *, text: str, file_name: str) -> ScenarioResult:
    """Save the checked scenario as running and start it in a background thread."""
    from api.routes.match_runs import default_placing_authority
    from scenarios.tender_run import save_result

    row = save_result(session, scenario, None, None, user, text=text, file_name=file_name)
    row.heard_at = _now()
    engine = session.get_bind()
    started_on = (row.created_at or row.heard_at).date()
    session.commit()  # the row must exist before the thread reads it
    progress = RunProgress(replications=scenario.replications, months=12 * scenario.horizon_years)
    worker = threading.Thread(target=_work, name=f"scenario-{row.id}", daemon=True,
                              args=(engine, row.id, scenario, supply, user.council_code or default_placing_authority(),
                                    started_on,
                                    progress))
    with _lock:
        _here[_key(engine, row.id)] = worker
    worker.start()
    return row


def progress_of(row: ScenarioResult) -> RunProgress | None:
    """How far a running run has gone, as its row last said (None unless it is running)."""
    if row.status != "running":
        return None
    progress = RunProgress(replications=row.replications, months=row.months, done=row.replications_done, started=row.created_at.timestamp())
    if row.simulating_since is not None:
        progress.stage, progress.simulating_since = "simulating", row.simulating_since.timestamp()
    if row.first_replication_at is not None:
        progress.first_done_at = row.first_replication_at.timestamp()
    return progress


def status(row: ScenarioResult) -> dict:
    """The run's progress as data (an API answer, the run page's poll): stage, replications and
    months done of all, the seconds left and the sentence that says so; {} unless running."""
    progress = progress_of(row)
    if progress is None:
        return {}
    heard = row.heard_at.timestamp() if row.heard_at else time.time()
    left = progress.seconds_left(now=heard)
    if left is not None:
        left = max(0.0, left - (time.time() - heard))  # the time since the row was written
    return {"stage": progress.stage, "replications_done": progress.done, "replications": progress.replications,
            "months_done": progress.months_done, "months": progress.replications * progress.months,
            "seconds_left": None if left is None else round(left, 1), "text": progress.say(left)}


def cancel(session, result_id: int, user: User) -> bool:
    """Cancel a running run (False when it is not running: finished, failed or cancelled)."""
    row = session.get(ScenarioResult, result_id)
    if row is None or row.status != "running":
        return False
    done = row.replications_done
    moved = session.execute(
        update(ScenarioResult).where(ScenarioResult.id == result_id, ScenarioResult.status == "running")
        .values(status="cancelled", error=f"Cancelled by {user.full_name or user.username}",
                seconds=round(max(0.0, (_now() - row.created_at).total_seconds()), 1))
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        return False
    session.expire(row)
    record(session, "scenario_run_cancelled", "scenario_result", result_id, actor=user,
           before={"status": "running"},
           after={"status": "cancelled", "replications_done": done, "replications": row.replications})
    return True


def fail_silent(session, *, now: dt.datetime | None = None) -> int:
    """Fail the runs not heard from for ``SILENT_AFTER_SECONDS`` (their process has gone); the
    number failed. A run from before progress was kept counts from its start."""
    cutoff = (now or _now()) - dt.timedelta(seconds=SILENT_AFTER_SECONDS)
    heard = func.coalesce(ScenarioResult.heard_at, ScenarioResult.created_at)
    # Looked for first: readers call this, and an UPDATE would take the write lock every time.
    silent = session.scalars(select(ScenarioResult.id).where(ScenarioResult.status == "running",
                                                             heard < cutoff)).all()
    if not silent:
        return 0
    moved = session.execute(
        update(ScenarioResult).where(ScenarioResult.id.in_(silent), ScenarioResult.status == "running",
                                     heard < cutoff)
        .values(status="failed", error=INTERRUPTED).execution_options(synchronize_session=False)).rowcount
    if moved:
        log.warning("%s tender scenario run(s) failed: not heard from for %.0f s", moved, SILENT_AFTER_SECONDS)
    return moved


def stop_here(engine: Engine) -> None:
    """At shutdown: fail the runs this process is working on (their threads die with it), so they
    say why at once rather than after a minute's silence."""
    with _lock:
        url = _key(engine, 0)[0]
        ids = [result_id for (database, result_id) in _here if database == url]
    if not ids:
        return
    try:
        with transaction(engine) as session:
            session.execute(update(ScenarioResult).where(ScenarioResult.id.in_(ids), ScenarioResult.status == "running")
                            .values(status="failed", error=INTERRUPTED).execution_options(synchronize_session=False))
    except Exception as exc:  # noqa: BLE001 (the database may be gone: a test's, or at shutdown)
        log.warning("tender scenario runs: could not record the shutdown (%s)", type(exc).__name__)


def wait(engine: Engine, result_id: int, timeout: float) -> bool:
    """Wait for this process's thread of a run to stop; False if it is still working."""
    with _lock:
        worker = _here.get(_key(engine, result_id))
    if worker is not None:
        worker.join(timeout)
        return not worker.is_alive()
    return True


def _write(engine: Engine, result_id: int, progress: RunProgress, **values) -> bool:
    """Write the progress (and ``values``) if the run is still running; False if it is not."""
    with transaction(engine) as session:
        return session.execute(
            update(ScenarioResult).where(ScenarioResult.id == result_id, ScenarioResult.status == "running")
            .values(replications_done=progress.done, simulating_since=_moment(progress.simulating_since),
                    first_replication_at=_moment(progress.first_done_at), heard_at=_now(), **values)
            .execution_options(synchronize_session=False)).rowcount == 1


def _beat(engine: Engine, result_id: int, progress: RunProgress, finished: threading.Event) -> None:
    while not finished.wait(BEAT_SECONDS):
        try:
            if not _write(engine, result_id, progress):
                progress.cancel_requested = True  # cancelled (or failed) from elsewhere
                return
        except Exception as exc:  # noqa: BLE001 (a busy database: the next beat tries again)
            log.info("scenario result %s: progress not written (%s)", result_id, type(exc).__name__)


def _work(engine: Engine, result_id: int, scenario, supply, authority: str, start_on: dt.date,
          progress: RunProgress) -> None:
    from api.routes.forecast import returns_folder
    from matching.instance import from_database
    from scenarios.ssda903 import history_from_folder
    from scenarios.tender_run import demand_for, kpi_records, run_scenario
    from scenarios.what_if import WhatIfError

    def replicated(done: int) -> None:
        progress.replicated(done)
        if progress.cancel_requested:
            raise RunCancelled

    finished = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(engine, result_id, progress, finished),
                                 name=f"scenario-{result_id}-progress", daemon=True)
    heartbeat.start()
    values = None
    try:
        history = history_from_folder(returns_folder(), repair=True)
        with transaction(engine, council=authority) as session:  # the council's own queue and what-ifs
            queue = from_database(session, authority, start_on).referrals
            demand = demand_for(session, scenario, history)
        replicated(0)
        progress.simulating()
        result = run_scenario(scenario, supply, demand, queue=queue, placing_authority=authority, start=start_on,
                              workers=1, progress=replicated)
        values = {"status": "succeeded", "kpis": kpi_records(result), "seconds": float(result.seconds)}
    except RunCancelled:
        log.info("scenario result %s: cancelled after %s of %s replications", result_id, progress.done,
                 progress.replications)
    except WhatIfError as exc:  # the saved forecast scenario it names was deleted or renamed
        values = {"status": "failed", "error": f"The forecast what-if could not be used: {exc}"[:2000]}
    except Exception as exc:  # noqa: BLE001 (whatever stopped it, the run's row says why; the log names the run only)
        log.warning("scenario result %s failed (%s)", result_id, type(exc).__name__)
        values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    finally:
        finished.set()
        heartbeat.join()
    try:
        if values is not None:
            _write(engine, result_id, progress, **values)
    except Exception as exc:  # noqa: BLE001 (the database may be gone: a test's, or at shutdown)
        log.warning("scenario result %s: could not record the outcome (%s)", result_id, type(exc).__name__)
    finally:
        with _lock:
            _here.pop(_key(engine, result_id), None)
