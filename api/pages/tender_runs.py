"""Tender scenario runs started from the commissioner's page, with their progress and a cancel.

The run works in a thread of the service process, as a run the API starts does
(api.routes.tender), and keeps its outcome in the same ``ScenarioResult`` row. In addition:

* Progress: the simulation tells of each replication it finishes (scenarios.simulate), and the
  run keeps how far it has gone (replications done, months simulated, the time left) in this
  process, where the page's status route reads it. The row has no column for progress, so a
  service of several processes shows it only to the requests the run's own process answers;
  the others see the row's status ("running") until it finishes.
* Cancel: one conditional UPDATE (``running`` -> ``cancelled``), so a cancel and the run's
  last write cannot both win; the run looks at its row after each replication and stops when
  it has left ``running`` (a cancel from any process of the service stops it within one
  replication, a fraction of a second on the demo council).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy import Engine, select, update

from models.accounts import User, record
from models.db import transaction
from models.plans import ScenarioResult
from scenarios.tender_run import RunCancelled, RunProgress

log = logging.getLogger("placematch.tender")
CHECK_EVERY_SECONDS = 0.5  # how often a run looks at its row for a cancel from another process
_lock = threading.Lock()
_progress: dict[tuple[str, int], RunProgress] = {}  # (database, result id): the run's progress


def _key(engine: Engine, result_id: int) -> tuple[str, int]:
    return (engine.url.render_as_string(hide_password=True), result_id)


def progress_of(engine: Engine, result_id: int) -> RunProgress | None:
    """The progress of a run this process is working on, or None."""
    with _lock:
        return _progress.get(_key(engine, result_id))


def start(session, scenario, supply, user: User, *, text: str, file_name: str) -> ScenarioResult:
    """Save the checked scenario as running and start it in a background thread."""
    from api.routes.match_runs import default_placing_authority
    from scenarios.tender_run import save_result

    row = save_result(session, scenario, None, None, user, text=text, file_name=file_name)
    engine = session.get_bind()
    started_on = (row.created_at or dt.datetime.now(dt.UTC)).date()
    session.commit()  # the row must exist before the thread reads it
    progress = RunProgress(replications=scenario.replications, months=12 * scenario.horizon_years)
    with _lock:
        _progress[_key(engine, row.id)] = progress
    threading.Thread(target=_work, args=(engine, row.id, scenario, supply, default_placing_authority(), started_on,
                                         progress), name=f"scenario-{row.id}", daemon=True).start()
    return row


def cancel(session, result_id: int, user: User) -> bool:
    """Cancel a running run (False when it is not running: finished, failed or cancelled)."""
    progress = progress_of(session.get_bind(), result_id)
    moved = session.execute(
        update(ScenarioResult).where(ScenarioResult.id == result_id, ScenarioResult.status == "running")
        .values(status="cancelled", error=f"Cancelled by {user.full_name or user.username}",
                seconds=round(time.monotonic() - progress.started, 1) if progress else 0.0)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        return False
    after = {"status": "cancelled"}
    if progress is not None:
        progress.cancel_requested = True
        after |= {"replications_done": progress.done, "replications": progress.replications}
    record(session, "scenario_run_cancelled", "scenario_result", result_id, actor=user,
           before={"status": "running"}, after=after)
    return True


def _work(engine: Engine, result_id: int, scenario, supply, authority: str, start_on: dt.date,
          progress: RunProgress) -> None:
    from api.routes.forecast import returns_folder
    from matching.instance import from_database
    from scenarios.ssda903 import history_from_folder
    from scenarios.tender_run import demand_for, kpi_records, run_scenario
    from scenarios.what_if import WhatIfError

    looked = [0.0]

    def stop_if_cancelled(force: bool = False) -> None:
        if progress.cancel_requested:
            raise RunCancelled
        now = time.monotonic()
        if force or now - looked[0] >= CHECK_EVERY_SECONDS:
            looked[0] = now
            with transaction(engine) as session:
                status = session.scalar(select(ScenarioResult.status).where(ScenarioResult.id == result_id))
            if status != "running":
                raise RunCancelled

    def replicated(done: int) -> None:
        progress.replicated(done)
        stop_if_cancelled()

    values = None
    try:
        history = history_from_folder(returns_folder(), repair=True)
        with transaction(engine) as session:
            queue = from_database(session, authority, start_on).referrals
            demand = demand_for(session, scenario, history)
        stop_if_cancelled(force=True)
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
    try:
        if values is not None:
            with transaction(engine) as session:
                session.execute(update(ScenarioResult).where(ScenarioResult.id == result_id,
                                                             ScenarioResult.status == "running").values(**values)
                                .execution_options(synchronize_session=False))
    except Exception as exc:  # noqa: BLE001 (the database may be gone: a test's, or at shutdown)
        log.warning("scenario result %s: could not record the outcome (%s)", result_id, type(exc).__name__)
    finally:
        with _lock:
            _progress.pop(_key(engine, result_id), None)
