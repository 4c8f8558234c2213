"""Service benchmark: the real service (``placematch serve``) under load.

Run: .venv/bin/python -m benchmarks.bench_service [--requests 3000] [--clients 50] [--runs 5] [--workers 2]

On a temporary SQLite database holding the demo council (as ``placematch demo --users`` builds
it, for panel day 2026-11-23), the service is started in a subprocess on 127.0.0.1 and a free
port, and measured from outside over HTTP (httpx, asyncio), signed in as a head of service:

* GET /referrals and GET /vacancies (first page, 50 items): latency percentiles and throughput
  for one client; for ``--clients`` clients each sending its next request as soon as its last
  was answered (closed loop: the most the service can take), driven by wrk when it is installed
  (Debian's ``wrk``: a C client, so the load generator takes little of the 2 cores from the
  service) or else by httpx; and for the same clients each sending one request a second (paced:
  people at their screens). GET /auth/me (signed in, no list) under the same closed loop shows
  the floor any authenticated route has on this machine.
* Match jobs: the wall time from POST /match-runs to the poll (GET /match-runs/{id} every
  50 ms) that sees ``succeeded``, ``--runs`` times; first on the demo queue (a panel: 64 young
  people), then on queues of ``--young-people`` (300): the demo's plus synthetic referrals and
  vacancies from benchmarks.instances, uploaded through POST /referrals/upload and
  /vacancies/upload as interchange CSV files. Twice: with the demo's scarcity (1.35 beds per
  young person, the hard case: most proposals compete) and then with 1,500 vacancies (issue 3's
  panel-size instance, 300 x 1,500).

Targets: p95 under 100 ms for the list endpoints; a 300-young-person job done within 2 s.
The service and every match worker it started are stopped on exit, whatever happens (also on
Ctrl-C or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

PANEL_DAY = dt.date(2026, 11, 23)
USERNAME, PASSWORD = "bench.head", "benchmark-only-password"
FINISHED = {"succeeded", "failed", "cancelled"}
POLL_SECONDS = 0.05
LIST_P95_TARGET_MS = 100.0
BIG_QUEUE = 300
BIG_JOB_TARGET_S = 2.0
PACE_SECONDS = 1.0  # paced load: each client sends one request a second
BEDS_PER_YOUNG_PERSON = 1.35  # the demo council's market: 87 beds for 64 young people
AMPLE_VACANCIES = 1500  # issue 3's panel-size instance: 300 young people, 1,500 vacancies


# --- the database ---------------------------------------------------------------------------


def build_database(path: Path) -> str:
    """The demo council and a head of service who may use every route the benchmark calls."""
    from api.routes.users import create_user
    from models.db import make_engine, migrate, transaction
    from models.enums import Role
    from providers.demo import build_demo

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=PANEL_DAY)
    with transaction(engine) as session:
        create_user(session, USERNAME, "Benchmark head of service", Role.head_of_service, PASSWORD)
    engine.dispose()
    return url


def synthetic_files(young_people: int, seed: int, beds: int | None = None,
                    prefix: str = "SYN") -> tuple[bytes, bytes]:
    """referrals.csv and vacancies.csv (interchange format) for a synthetic queue of this many
    young people and ``beds`` beds (about ``BEDS_PER_YOUNG_PERSON`` each by default), ids
    starting ``prefix``, from benchmarks.instances (real
    postcodes around Medway, the demo's proportions of needs, risks, tiers and prices). Each
    vacancy gets a property and provider of its own (the generator draws their details per
    vacancy); education, preferred and avoided places are left out (the generator has
    coordinates, not postcodes, for them)."""
    from benchmarks.instances import make_instance

    beds = round(young_people * BEDS_PER_YOUNG_PERSON) if beds is None else beds
    instance, _ = make_instance(young_people, beds, seed=seed, distance_cap=0.0)  # cap unused: no calibration
    referrals = []
    for r in instance.referrals.itertuples(index=False):
        suits = r.type_suitability
        referrals.append({
            "id": f"{prefix}-{r.referral_id}", "date_of_birth": _day(r.date_of_birth), "sex": r.sex,
            "legal_status": r.legal_status, "home_postcode": r.home_postcode, "education_postcode": "",
            "tier": r.tier, "urgency": r.urgency, "needs": _list(r.needs), "risks_to_self": _list(r.risks_to_self),
            "risks_to_others": _list(r.risks_to_others), "living_with": r.living_with,
            "suitable_types": _list(t for t, s in suits.items() if s == "preferred"),
            "unsuitable_types": _list(t for t, s in suits.items() if s == "unsuitable"),
            "preferred_postcode": "", "avoid_postcodes": "", "avoid_radius_miles": "",
            "sibling_group": f"{prefix}-{r.sibling_group}" if isinstance(r.sibling_group, str) else "",
            "deprivation_of_liberty": "false", "referred_on": _day(r.referred_on),
        })
    vacancies = []
    for k, v in enumerate(instance.vacancies.itertuples(index=False)):
        prices = {t: getattr(v, f"price_{t}") for t in TIERS}
        prices = {t: "" if p is None or math.isnan(p) else f"{p:.0f}" for t, p in prices.items()}
        vacancies.append({
            "id": f"{prefix}-{v.vacancy_id}", "provider_id": f"{prefix}-PRV{k:06d}", "provider_name": f"Synthetic provider {prefix} {k}",
            "property_id": f"{prefix}-P{k:06d}", "postcode": v.postcode, "service_type": v.service_type,
            "setting": v.setting, "ofsted_registered": str(bool(v.ofsted_registered)).lower(),
            "ofsted_grade": v.ofsted_grade, "beds": int(v.beds), "available_from": _day(v.available_from),
            "age_min": int(v.age_min), "age_max": int(v.age_max), "sex": v.sex,
            "tiers": ";".join(t for t in TIERS if prices[t]), **{f"price_{t}": p for t, p in prices.items()},
            "accepts_needs": _list(v.accepts_needs), "excludes_risks": _list(v.excludes_risks), "shared_with": "",
            "reserved_for": "", "ofsted_urn": "", "in_house": "false",
        })
    return _csv(referrals), _csv(vacancies)


TIERS = ("standard", "enhanced", "intensive")


def _day(value) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def _list(values) -> str:
    return ";".join(sorted(values))


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# --- the service ----------------------------------------------------------------------------


def wait_until_answering(process: subprocess.Popen, base: str, log: Path, seconds: float) -> float:
    """Seconds until ``base``'s sign-in page answers 200; RuntimeError (with the end of the
    service's log) when the service exits first or does not answer within ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited ({process.returncode}) at {base}:\n"
                               + log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(f"{base}/sign-in", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the service did not answer within {seconds:.0f} s")


def print_service_log(console: Console, log: Path) -> None:
    """The end of a service's log, when a benchmark fails (what it said before it went wrong)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    if text.strip():
        console.print(f"service log (last lines):\n{text[-3000:]}", style="dim", highlight=False, markup=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """``python -m api.cli serve`` in a subprocess; stopped (with its match workers) by stop()."""

    def __init__(self, url: str, log: Path, workers: int = 1) -> None:
        self.url, self.port, self.log, self.workers = url, free_port(), log, workers
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.peak_rss_mib = float("nan")

    def start(self, timeout: float = 60.0) -> None:
        env = dict(os.environ, DATABASE_URL=self.url)
        env.pop("PLACEMATCH_PLACING_AUTHORITY", None)  # the demo council's panel
        root = Path(__file__).resolve().parent.parent
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=root,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/openapi.json", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGINT (uvicorn shuts down; the lifespan stops the workers it started), SIGKILL after
        15 s; then any worker still alive on this database is stopped."""
        process = self.process
        if process is not None and process.poll() is None:
            self.peak_rss_mib = sum(_peak_rss_mib(pid) for pid in [process.pid, *_children(process.pid)])
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = None
        _stop_leftover_workers(self.url)


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _children(pid: int) -> list[int]:
    """The service's own processes (uvicorn's workers), not the match workers they start."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found if b"api.jobs" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _stop_leftover_workers(url: str) -> list[int]:
    from sqlalchemy import select

    from api import jobs
    from models.db import make_engine, transaction
    from models.panel import MatchRun

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            runs = session.execute(select(MatchRun.id, MatchRun.worker_pid)).all()
        left = [(run_id, pid) for run_id, pid in runs if pid is not None and jobs.is_worker(pid, run_id)]
        for run_id, pid in left:
            jobs.stop_worker(engine, run_id, pid, grace=2.0)
        return [pid for _, pid in left]
    finally:
        engine.dispose()


# --- measurements ---------------------------------------------------------------------------


def sign_in(base: str) -> dict[str, str]:
    response = httpx.post(f"{base}/auth/token", data={"username": USERNAME, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _load(base: str, path: str, headers: dict, requests: int, clients: int, pace: float | None) -> dict:
    """``clients`` clients share ``requests`` requests. Without ``pace`` each sends its next
    request as soon as the last is answered (closed loop: as fast as the service goes); with it,
    each sends one request every ``pace`` seconds (staggered), as people using the pages would."""
    latencies: list[float] = []
    errors = 0
    left = requests
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60.0) as client:
        for _ in range(2):  # warm up: connections, the server's caches
            await asyncio.gather(*(client.get(path) for _ in range(clients)))

        async def one_client(k: int) -> None:
            nonlocal left, errors
            loop = asyncio.get_running_loop()
            due = loop.time() + (pace * k / clients if pace else 0.0)
            while left > 0:
                left -= 1  # taken before any wait, so that the clients send exactly ``requests``
                if pace:
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    due += pace
                t = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - t)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client(k) for k in range(clients)))
        wall = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {"path": path, "clients": clients, "pace": pace, "requests": len(ms), "errors": errors,
            "p50": _pct(ms, 50), "p95": _pct(ms, 95), "p99": _pct(ms, 99), "max": ms[-1],
            "per_second": len(ms) / wall, "wall": wall}


def _pct(sorted_values: list[float], p: float) -> float:
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def list_latency(base: str, path: str, headers: dict, requests: int, clients: int, pace: float | None = None) -> dict:
    return asyncio.run(_load(base, path, headers, requests, clients, pace))


WRK_REPORT = """done = function(summary, latency, requests)
  io.write(string.format("requests %d\\nerrors %d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in pairs({50, 95, 99, 100}) do io.write(string.format("p%d %f\\n", p, latency:percentile(p) / 1000)) end
end
"""


def wrk_latency(base: str, path: str, headers: dict, clients: int, seconds: float, folder: Path) -> dict:
    """The closed loop driven by wrk: ``clients`` connections for ``seconds`` (after a second's
    warm-up run); errors count non-2xx answers and socket errors."""
    script = folder / "report.lua"
    script.write_text(WRK_REPORT)
    auth = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    command = ["wrk", "-t2", f"-c{clients}", "--timeout", "30s", *auth, "-s", str(script), base + path]
    subprocess.run([*command[:1], "-d1s", *command[1:]], capture_output=True, check=True)
    out = subprocess.run([*command[:1], f"-d{seconds:g}s", *command[1:]], capture_output=True, text=True,
                         check=True).stdout
    values = dict(line.split(" ", 1) for line in out.splitlines() if line.split(" ", 1)[0] in
                  {"requests", "errors", "p50", "p95", "p99", "p100"})
    non_2xx = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line)
    requests = int(values["requests"])
    return {"path": path, "clients": clients, "pace": None, "requests": requests, "driver": "wrk",
            "errors": int(values["errors"]) + non_2xx, "p50": float(values["p50"]), "p95": float(values["p95"]),
            "p99": float(values["p99"]), "max": float(values["p100"]), "per_second": requests / seconds,
            "wall": seconds}


def job_time(client: httpx.Client, timeout: float = 300.0) -> dict:
    """Submit a run on the demo panel day and poll it every 50 ms until it has finished."""
    started = time.perf_counter()
    response = client.post("/match-runs", json={"panel_date": PANEL_DAY.isoformat()})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    while True:
        run = client.get(f"/match-runs/{run_id}").json()
        if run["status"] in FINISHED:
            wall = time.perf_counter() - started
            break
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"match run {run_id} not finished after {timeout:.0f} s: {run['progress']}")
        time.sleep(POLL_SECONDS)
    if run["status"] != "succeeded":
        raise RuntimeError(f"match run {run_id} {run['status']}: {run['error']}")
    progress = run["progress"]
    created, began, finished = (dt.datetime.fromisoformat(run[k]) for k in ("created_at", "started_at", "finished_at"))
    return {"id": run_id, "wall": wall, "young_people": progress.get("young_people"),
            "vacancies": progress.get("vacancies"), "pairs": progress.get("eligible_pairs"),
            "placed": progress.get("placed"), "proven_by": progress.get("proven_by"),
            "to_start": (began - created).total_seconds(), "in_worker": (finished - began).total_seconds(),
            "engine": (progress.get("seconds") or {}).get("total", float("nan"))}


def upload(client: httpx.Client, route: str, name: str, data: bytes) -> float:
    started = time.perf_counter()
    response = client.post(route, files={"file": (name, data, "text/csv")})
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


# --- the report -----------------------------------------------------------------------------


def _ok(good: bool) -> str:
    return "[green]yes[/]" if good else "[red]no[/]"


def report(console: Console, lists: list[dict], jobs: dict[str, list[dict]], notes: dict) -> None:
    table = Table(title="Service: list endpoints (first page, 50 items). Closed loop: each client sends its next "
                        "request as soon as the last is answered; paced: each sends one a second")
    for col in ("endpoint", "clients", "load", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s",
                f"p95 < {LIST_P95_TARGET_MS:.0f} ms"):
        table.add_column(col, justify="left" if col in ("endpoint", "load") else "right")
    for r in lists:
        load = f"paced, 1 per {r['pace']:g} s each" if r["pace"] else f"closed loop ({r.get('driver', 'httpx')})"
        table.add_row(f"GET {r['path']}", str(r["clients"]), load, f"{r['requests']:,}", str(r["errors"]),
                      f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}",
                      f"{r['per_second']:.0f}", _ok(r["p95"] < LIST_P95_TARGET_MS and not r["errors"]))
    console.print(table)

    table = Table(title=f"Service: match jobs, from POST /match-runs to the GET /match-runs/{{id}} that says "
                        f"succeeded (polled every {POLL_SECONDS * 1000:.0f} ms)")
    for col in ("queue", "young people", "vacancies", "eligible pairs", "placed", "proven by", "runs",
                "median s", "min s", "max s", "to worker start s", "in worker s", "engine s", "target"):
        table.add_column(col, justify="left" if col in ("queue", "proven by", "target") else "right")
    for name, runs in jobs.items():
        walls = [r["wall"] for r in runs]
        first = runs[0]
        big = first["young_people"] >= BIG_QUEUE
        table.add_row(
            name, str(first["young_people"]), str(first["vacancies"]), f"{first['pairs']:,}", str(first["placed"]),
            str(first["proven_by"]), str(len(runs)), f"{statistics.median(walls):.2f}", f"{min(walls):.2f}",
            f"{max(walls):.2f}", f"{statistics.median(r['to_start'] for r in runs):.2f}",
            f"{statistics.median(r['in_worker'] for r in runs):.2f}",
            f"{statistics.median(r['engine'] for r in runs):.2f}",
            f"< {BIG_JOB_TARGET_S:.0f} s: {_ok(max(walls) < BIG_JOB_TARGET_S)}" if big else "-",
        )
    console.print(table)
    console.print(
        f"{notes['cpus']} CPUs, shared by the clients, the service ({notes['workers']} processes) and its match "
        f"workers; the service's peak RSS {notes['peak_rss_mib']:.0f} MiB in all. The larger queues: the demo's "
        f"{notes['demo_open']} open referrals and {notes['demo_vacancies']} vacancies, plus {notes['referral_rows']} "
        f"synthetic referrals and {notes['vacancy_rows']} vacancies uploaded through the service (referrals.csv in "
        f"{notes['referrals_s']:.2f} s, vacancies.csv in {notes['vacancies_s']:.2f} s); then "
        f"{notes['more_vacancy_rows']} more vacancies (in {notes['more_vacancies_s']:.2f} s). "
        "Medians per column: 'to worker start' is created_at to "
        "started_at (the worker process starting and claiming the run), 'in worker' started_at to finished_at "
        "(loading, eligibility, solving, explaining), 'engine' the matching engine's own time.",
        style="dim",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per list endpoint under load")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients under load")
    parser.add_argument("--runs", type=int, default=5, help="match jobs per queue")
    parser.add_argument("--young-people", type=int, default=BIG_QUEUE, help="size of the larger queue")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="service processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk closed-loop run")
    args = parser.parse_args()

    console = Console(width=180)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the finally below stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    notes: dict = {"cpus": os.cpu_count(), "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="placematch-bench-") as tmp:
        folder = Path(tmp)
        with console.status("Building the demo council..."):
            url = build_database(folder / "placematch.db")
        service = Service(url, folder / "service.log", workers=args.workers)
        try:
            with console.status("Starting the service..."):
                service.start()
            headers = sign_in(service.base)
            lists = []
            wrk = shutil.which("wrk")
            for path in ("/referrals", "/vacancies", "/auth/me"):
                loads = [(args.clients, args.requests, None)]
                if path != "/auth/me":
                    loads = [(1, max(100, args.requests // 10), None), *loads,
                             (args.clients, max(args.clients, args.requests // 3), PACE_SECONDS)]
                for clients, requests, pace in loads:
                    with console.status(f"GET {path}: {clients} client(s)..."):
                        if wrk and clients > 1 and pace is None:
                            lists.append(wrk_latency(service.base, path, headers, clients, args.seconds, folder))
                        else:
                            lists.append(list_latency(service.base, path, headers, requests, clients, pace))
            jobs: dict[str, list[dict]] = {}
            with httpx.Client(base_url=service.base, headers=headers, timeout=60.0) as client:
                with console.status("Match jobs on the demo queue..."):
                    jobs["demo council (a panel)"] = [job_time(client) for _ in range(args.runs)]
                notes["demo_open"] = client.get("/referrals", params={"status": "open", "limit": 1}).json()["total"]
                notes["demo_vacancies"] = client.get("/vacancies", params={"limit": 1}).json()["total"]
                with console.status("Uploading a larger queue..."):
                    referrals_csv, vacancies_csv = synthetic_files(args.young_people - notes["demo_open"],
                                                                   seed=args.young_people)
                    notes["referral_rows"] = referrals_csv.count(b"\n") - 1
                    notes["vacancy_rows"] = vacancies_csv.count(b"\n") - 1
                    notes["referrals_s"] = upload(client, "/referrals/upload", "referrals.csv", referrals_csv)
                    notes["vacancies_s"] = upload(client, "/vacancies/upload", "vacancies.csv", vacancies_csv)
                with console.status(f"Match jobs on a queue of {args.young_people}, scarce beds..."):
                    jobs[f"demo + synthetic ({args.young_people}), scarce"] = [job_time(client) for _ in range(args.runs)]
                with console.status(f"Uploading vacancies up to {AMPLE_VACANCIES}..."):
                    more = AMPLE_VACANCIES - notes["demo_vacancies"] - notes["vacancy_rows"]
                    _, vacancies_csv = synthetic_files(1, seed=AMPLE_VACANCIES, beds=more, prefix="SYN2")
                    notes["more_vacancy_rows"] = vacancies_csv.count(b"\n") - 1
                    notes["more_vacancies_s"] = upload(client, "/vacancies/upload", "vacancies.csv", vacancies_csv)
                with console.status(f"Match jobs on a queue of {args.young_people}, {AMPLE_VACANCIES} vacancies..."):
                    jobs[f"demo + synthetic ({args.young_people}), ample"] = [job_time(client) for _ in range(args.runs)]
        except BaseException:
            print_service_log(console, service.log)
            raise
        finally:
            service.stop()
        notes["peak_rss_mib"] = service.peak_rss_mib
    report(console, lists, jobs, notes)


if __name__ == "__main__":
    main()
