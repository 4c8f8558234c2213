"""Load benchmark: the real service under 50 panel clients, large uploads and a sign-in flood.

Run: .venv/bin/python -m benchmarks.bench_load [--seconds 60] [--clients 50] [--workers 1]
     [--think 0] [--upload-timeout 900] [--json PATH]

The load half of issue 13's reliability figures (benchmarks/bench_faults.py is the kill -9
half). On a temporary SQLite database holding the demo council and its users, built as the
command line builds it (``placematch demo --users``, for panel day 2026-11-23), the real service
(``placematch serve``) runs in a subprocess, in a process group of its own, on 127.0.0.1 and a
free port. Before the load, a panel member submits a match run and accepts three of its
proposals that need approval, so there are a run, proposals and approval requests to read. The
demo users sign in through the real route (``POST /auth/token``, and ``POST /auth/session`` for
the pages' cookie) before the flood starts: the flood soon locks the benchmark's one client
address (127.0.0.1) out of signing in, as it should, and tokens already issued keep working.

Then for ``--seconds`` (asyncio, httpx):

* **panel readers** (``--clients``, each sending its next request as soon as its last was
  answered, or after ``--think`` seconds): the even-numbered ones use the JSON API with a bearer
  token (``GET /referrals``, the run with its proposals, its unplaced young people and its
  decisions, the approval requests and one of them); the odd-numbered ones use the pages with
  the session cookie (the panel board, the run, a proposal, one approval request, and for the
  head of service the approvals queue, a managers' page).
  Signed in as the demo panel member and head of service, alternately. Expected: 200.
* **one uploader**, round after round, of files at the limits in providers/limits.py (20 MB a
  file, 50,000 rows an import), made from the demo's own export before the service starts: a
  request over the upload limit declared by Content-Length and one streamed (chunked, no
  length), the demo's referrals.csv (64 rows, valid: every row updated), then, each about
  19.5 MB, a PNG (as vacancies.csv and as referrals.csv), a file one byte over 20 MB, a UTF-16
  vacancies.csv, 50,001 vacancies, 50,001 referrals, 50,000 vacancies with every tier misspelt,
  and last a valid vacancies.csv of 50,000 rows (the first upload creates them, a later one
  updates them). Expected: 413 or 422 for each wrong one, 200 for the valid ones. No upload
  starts after ``--seconds``; the one in flight then is waited for (up to ``--upload-timeout``)
  and counted, the readers and the flood having stopped. Under load a round takes minutes (the
  valid import alone takes about three on this 2-CPU machine with nothing else running, five
  under the default load), so a 60 s run does not reach its end: ``--seconds 600`` covers a
  whole round and what the service does with 50,000 more vacancies after it.
* **one sign-in flood**: as fast as answers come, a wrong password for demo.director and random
  usernames, alternately. Expected: 401, then 429 once the throttle locks the address.

Reported (a rich table, and ``--json PATH`` for the same as data): requests per client kind
with their statuses and the requests left without an answer (timeouts: a reader waits up to
120 s), every 5xx (target 0) counted and the first few listed by status, path and
the service's error code (never a response body: they carry personal data), 4xx by status,
latency percentiles per reader route with ``GET /referrals`` (the JSON API route: the queue has
no page of its own, the pages show it on /panel) first, the service's memory high-water mark
(VmHWM in /proc of the serve process and of every child of it alive during the load, sampled
every half second),
whether the service still answered when the load stopped and after the last upload (and, for
comparison, GET /referrals from one client before the load), and the
exception types and code lines of any traceback in the service's log. The service (its process
group, then any match worker it started, by pid) is stopped in a ``finally``, and the temporary
folder removed, whatever happens (Ctrl-C or SIGTERM too). Timings are this machine's, printed,
never asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import re
import secrets
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from api.cli import DEMO_PASSWORD
from benchmarks.bench_service import (
    PANEL_DAY,
    free_port,
    print_service_log,
    wait_until_answering,
)
from providers.limits import MAX_FILE_BYTES, MAX_ROWS, MAX_UPLOAD_REQUEST_BYTES, MB

ROOT = Path(__file__).resolve().parent.parent
PANEL_USER, HEAD_USER = "demo.panel.member", "demo.head.of.service"
COMMISSIONER = "demo.commissioner"
FLOODED_USER = "demo.director"  # the account the flood guesses at (no reader signs in as it)
READER_USERS = (PANEL_USER, HEAD_USER)
SESSION_COOKIE = "placematch_session"
MANAGERS_QUEUE_PAGE = "/approvals (page)"
REFERRALS_ROUTE = "GET /referrals"  # the figure the issue asks for: the JSON API's first page of 50
STARTUP_SECONDS = 90.0
RUN_SECONDS = 120.0
SAMPLE_SECONDS = 0.5
READ_TIMEOUT = 120.0
FIRST_5XX_KEPT = 10
BASELINE_REQUESTS = 50  # GET /referrals from one client before the load, for comparison
ACCEPTED_FOR_APPROVALS = 3  # proposals the panel accepts before the load, for approval requests to read
FILE_TARGET_BYTES = MAX_FILE_BYTES - 512 * 1024  # "near the limit": 19.5 MB
READER_OK = {200}
FLOOD_OK = {401, 429}


# --- the demo council and the files to upload -----------------------------------------------


def cli(url: str, *args: str) -> str:
    """``placematch ARGS`` on this database, as a person would run it; its output."""
    env = _env(url)
    done = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"placematch {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url)
    env.pop("PLACEMATCH_PLACING_AUTHORITY", None)  # the demo council's panel
    env.pop("PLACEMATCH_PARENT_PID", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def build_database(folder: Path) -> tuple[str, Path]:
    """The demo council with its users (``placematch demo --users``), and its export (the
    templates the upload files are made from)."""
    url = f"sqlite:///{folder / 'placematch.db'}"
    cli(url, "demo", "--users", "--as-of", PANEL_DAY.isoformat())
    export = folder / "export"
    cli(url, "export", str(export))
    return url, export


@dataclass
class Upload:
    """One file the uploader sends, and the answers that would be right."""

    name: str
    route: str
    user: str
    filename: str
    data: bytes
    expected: frozenset[int]
    rows: int | None = None
    how: str = "multipart"  # or "declared" / "chunked": a request over the limit, sent by hand
    content_type: str = "text/csv"

    @property
    def size(self) -> int:
        return len(self.data)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_csv(columns: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _padded(columns: list[str], rows: list[dict], column: str, longest: int) -> bytes:
    """The rows as CSV, ``column`` padded with the same number of characters in each row (at
    most up to ``longest`` characters, the column's limit) so the file comes to about
    FILE_TARGET_BYTES."""
    plain = len(write_csv(columns, rows))
    pad = max(0, (FILE_TARGET_BYTES - plain) // len(rows))
    for row in rows:
        row[column] = (row[column] + " " + "x" * pad)[:longest] if pad else row[column]
    return write_csv(columns, rows)


def vacancy_rows(export: Path, rows: int, *, tier: str | None = None) -> tuple[list[str], list[dict]]:
    """``rows`` vacancies copied from the demo's own (real postcodes, prices, needs), each with
    a property of its own and one provider per demo vacancy, ids starting LOAD-. The same ids
    every time: a second valid upload updates what the first created."""
    columns, template = _read_csv(export / "vacancies.csv")
    out = []
    for k in range(rows):
        i = k % len(template)
        row = dict(template[i])
        row.update(id=f"LOAD-V{k:05d}", property_id=f"LOAD-P{k:05d}", provider_id=f"LOAD-PRV{i:03d}",
                   provider_name=f"Load test provider {i:03d} ({row['provider_name']})", reserved_for="",
                   ofsted_urn="")
        if tier is not None:
            row["tiers"] = tier
        out.append(row)
    return columns, out


def referral_rows(export: Path, rows: int) -> tuple[list[str], list[dict]]:
    """``rows`` referrals copied from the demo's, ids starting LOAD-."""
    columns, template = _read_csv(export / "referrals.csv")
    out = []
    for k in range(rows):
        row = dict(template[k % len(template)])
        row.update(id=f"LOAD-R{k:05d}", sibling_group="", wishes=row.get("wishes") or "Wants a place near college.")
        out.append(row)
    return columns, out


def png(size: int) -> bytes:
    """A PNG image of about ``size`` bytes (a real header, chunks with their CRCs)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", 4096, 4096, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", os.urandom(size)) + chunk(b"IEND", b"")


def upload_files(export: Path) -> list[Upload]:
    """One round of the uploader, in order: first what is answered without reading a file (the
    requests over the limit, refused by their headers or while streaming) and the demo's own
    referrals.csv, then the files at the limits that are read and refused, and last the valid
    50,000-row import (minutes on its own)."""
    vac, ref = "/vacancies/upload", "/referrals/upload"
    bad, too_large, ok = frozenset({422}), frozenset({413}), frozenset({200})
    # Provider names (at most 200 characters) and young people's wishes (2,000) padded so that
    # the largest files come to about 19.5 MB: near both limits at once.
    columns, rows = vacancy_rows(export, MAX_ROWS)
    valid = _padded(columns, rows, "provider_name", 200)
    over_rows = valid + valid.split(b"\n")[1] + b"\n"  # row 50,001: the first again (the row limit comes first)
    utf16_rows = MAX_ROWS // 2  # twice the bytes in UTF-16
    utf16 = write_csv(columns, rows[:utf16_rows]).decode().encode("utf-16")
    columns, misspelt_rows = vacancy_rows(export, MAX_ROWS, tier="enhnced")
    misspelt = _padded(columns, misspelt_rows, "provider_name", 200)
    over_file = (valid * 2)[:MAX_FILE_BYTES + 1]
    over_request = (valid * 2)[:MAX_UPLOAD_REQUEST_BYTES + MB]
    r_columns, r_rows = referral_rows(export, MAX_ROWS + 1)
    referrals_over_rows = _padded(r_columns, r_rows, "wishes", 2000)
    return [
        Upload("request over the limit, by Content-Length", vac, COMMISSIONER, "vacancies.csv", over_request,
               too_large, how="declared"),
        Upload("request over the limit, chunked", vac, COMMISSIONER, "vacancies.csv", over_request, too_large,
               how="chunked"),
        Upload("referrals.csv, the demo's 64 rows (valid)", ref, PANEL_USER, "referrals.csv",
               (export / "referrals.csv").read_bytes(), ok, rows=len(_read_csv(export / "referrals.csv")[1])),
        Upload("PNG image as vacancies.csv", vac, COMMISSIONER, "vacancies.csv", png(FILE_TARGET_BYTES), bad,
               content_type="image/png"),
        Upload("vacancies.csv, 20 MB + 1 byte", vac, COMMISSIONER, "vacancies.csv", over_file, too_large),
        Upload("vacancies.csv in UTF-16", vac, COMMISSIONER, "vacancies.csv", utf16, bad, rows=utf16_rows),
        Upload("vacancies.csv, 50,001 rows", vac, COMMISSIONER, "vacancies.csv", over_rows, bad, rows=MAX_ROWS + 1),
        Upload("PNG image as referrals.csv", ref, PANEL_USER, "referrals.csv", png(FILE_TARGET_BYTES), bad,
               content_type="image/png"),
        Upload("referrals.csv, 50,001 rows", ref, PANEL_USER, "referrals.csv", referrals_over_rows, bad,
               rows=MAX_ROWS + 1),
        Upload("vacancies.csv, every tier misspelt", vac, COMMISSIONER, "vacancies.csv", misspelt, bad, rows=MAX_ROWS),
        Upload("vacancies.csv, 50,000 rows (valid)", vac, COMMISSIONER, "vacancies.csv", valid, ok, rows=MAX_ROWS),
    ]


# --- the service and its processes ----------------------------------------------------------


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _status_kib(pid: int, key: str) -> int | None:
    for line in _proc(pid, "status").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


class Service:
    """``placematch serve`` in a subprocess, in a process group of its own, with its memory
    sampled (its own and every descendant's VmHWM)."""

    def __init__(self, url: str, log: Path, workers: int) -> None:
        self.url, self.log, self.workers = url, log, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None  # the serve process's, kept after it has stopped
        self.hwm_kib: dict[int, int] = {}  # pid: the largest VmHWM read
        self.names: dict[int, str] = {}  # pid: what it is (service, service process, match worker)
        self.peak_rss_kib = 0  # the largest sum of VmRSS over one sample

    def start(self) -> float:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=_env(self.url), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid = self.process.pid
        return wait_until_answering(self.process, self.base, self.log, STARTUP_SECONDS)

    def tree(self) -> list[int]:
        """The serve process and every live descendant (service processes, match workers)."""
        if self.process is None:
            return []
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            if _proc(pid, "stat"):
                found.append(pid)
                todo += _children(pid)
        return found

    def sample(self) -> None:
        rss = 0
        for pid in self.tree():
            hwm = _status_kib(pid, "VmHWM")
            if hwm is None:
                continue
            rss += _status_kib(pid, "VmRSS") or 0
            self.hwm_kib[pid] = max(hwm, self.hwm_kib.get(pid, 0))
            if pid not in self.names:
                self.names[pid] = self._what(pid)
        self.peak_rss_kib = max(self.peak_rss_kib, rss)

    def _what(self, pid: int) -> str:
        if self.process is not None and pid == self.process.pid:
            return "serve" if self.workers == 1 else "serve (supervisor)"
        command = _proc(pid, "cmdline").split("\0")
        if "api.jobs" in command:
            return f"match worker ({_proc(pid, 'comm').strip()})"
        return "service process"

    def _ours(self, pid: int) -> bool:
        """Still a process of this benchmark's service (pids are reused): it carries our database."""
        return f"DATABASE_URL={self.url}" in _proc(pid, "environ").split("\0")

    def stop(self) -> list[int]:
        """SIGINT to the process group (uvicorn shuts down; its lifespan stops the match workers),
        SIGKILL to the group after 15 s; then SIGKILL to any process it started that is still
        alive (match workers run in sessions of their own), by pid. Returns the pids killed so."""
        process = self.process
        if process is None:
            return []
        self.sample()
        known = set(self.hwm_kib) | set(self.tree())
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the leader is not reaped yet: the group is ours
                process.wait()
        killed = []
        deadline = time.monotonic() + 10.0  # followers (api.process_guard) go by themselves first
        while time.monotonic() < deadline and any(self._ours(pid) for pid in known):
            time.sleep(0.1)
        for pid in known:
            if pid != process.pid and self._ours(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        self.process = None
        return killed


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What each kind of client was answered."""

    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    transport: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: list[dict] = field(default_factory=list)
    server_error_counts: Counter = field(default_factory=Counter)
    no_answers: list[dict] = field(default_factory=list)  # the first few requests left without an answer
    uploads: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    started: float = field(default_factory=time.monotonic)

    def answered(self, kind: str, method: str, label: str, path: str, status: int, seconds: float,
                 expected: set[int] | frozenset[int], code: str | None, retry_after: str | None) -> None:
        self.statuses[kind][status] += 1
        self.latencies[f"{method} {label}"].append(seconds)
        if status >= 500:
            self.server_error_counts[(kind, f"{method} {label}", status, code)] += 1
            if len(self.server_errors) < FIRST_5XX_KEPT:
                # Status, path and the service's error code only: a body may hold personal data.
                self.server_errors.append({"at_s": round(time.monotonic() - self.started, 1), "kind": kind,
                                           "method": method, "path": path, "status": status, "code": code,
                                           "retry_after": retry_after, "seconds": round(seconds, 2)})
        elif status not in expected:
            self.unexpected[kind][f"{status} {method} {label}"] += 1

    def failed(self, kind: str, method: str, label: str, error: BaseException) -> None:
        self.transport[kind][f"{type(error).__name__} on {method} {label}"] += 1
        if len(self.no_answers) < FIRST_5XX_KEPT:
            self.no_answers.append({"at_s": round(time.monotonic() - self.started, 1), "kind": kind,
                                    "request": f"{method} {label}", "error": type(error).__name__})


def _error_code(content: bytes) -> str | None:
    """The service's error code ("busy", "server_error", ...): a fixed word, never case data."""
    try:
        return str(json.loads(content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


async def call(client: httpx.AsyncClient, tally: Tally, kind: str, method: str, label: str, path: str,
               expected: set[int] | frozenset[int], **kwargs) -> int | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        tally.failed(kind, method, label, exc)
        return None
    seconds = time.perf_counter() - started
    code = _error_code(response.content) if response.status_code >= 400 else None
    tally.answered(kind, method, label, path, response.status_code, seconds, expected, code,
                   response.headers.get("retry-after"))
    return response.status_code


Route = Callable[[random.Random], tuple[str, str]]  # (label, path)


def reader_routes(run_id: int, proposal_ids: list[int], approval_ids: list[int]) -> tuple[list[Route], list[Route]]:
    """The routes a panel member reads in one round, through the API and through the pages.
    ``GET /referrals`` is twice in the API's round, so it has as many samples as the others."""
    def fixed(label: str, path: str | None = None) -> Route:
        return lambda _: (label, path or label)

    run = f"/match-runs/{run_id}"
    api = [
        fixed("/referrals"),
        fixed("/match-runs/{id}", run),
        fixed("/match-runs/{id}/unplaced", f"{run}/unplaced"),
        fixed("/referrals"),
        fixed("/approvals?role=any"),
        lambda rng: ("/approvals/{id}", f"/approvals/{rng.choice(approval_ids)}"),
        fixed("/match-runs/{id}/decisions", f"{run}/decisions"),
    ]
    pages = [
        fixed("/panel (page)", "/panel"),
        fixed("/panel/runs/{id} (page)", f"/panel/runs/{run_id}"),
        lambda rng: ("/panel/runs/{id}/proposals/{pid} (page)",
                     f"/panel/runs/{run_id}/proposals/{rng.choice(proposal_ids)}"),
        fixed(MANAGERS_QUEUE_PAGE, "/approvals"),
        lambda rng: ("/approvals/{id} (page)", f"/approvals/{rng.choice(approval_ids)}"),
    ]
    return api, pages


async def reader(k: int, client: httpx.AsyncClient, tally: Tally, routes: list[Route], headers: dict,
                 deadline: float, think: float, kind: str) -> None:
    rng = random.Random(k)
    i = k  # the clients start at different points of the round
    while time.monotonic() < deadline:
        label, path = routes[i % len(routes)](rng)
        i += 1
        await call(client, tally, kind, "GET", label, path, READER_OK, headers=headers)
        if think:
            await asyncio.sleep(think)


async def flood(client: httpx.AsyncClient, tally: Tally, deadline: float) -> None:
    """Wrong passwords for one account and random usernames, alternately, as fast as answered."""
    n = 0
    while time.monotonic() < deadline:
        if n % 2 == 0:
            username, label = FLOODED_USER, "/auth/token (wrong password)"
        else:
            username, label = f"nobody.{secrets.token_hex(4)}", "/auth/token (unknown user)"
        n += 1
        await call(client, tally, "sign-in flood", "POST", label, "/auth/token", FLOOD_OK,
                   data={"username": username, "password": f"not-the-password-{secrets.token_hex(4)}"})


BOUNDARY = "placematch-bench-load-boundary"


def _multipart_head(upload: Upload) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{upload.filename}\"\r\n"
            f"Content-Type: {upload.content_type}\r\n\r\n").encode()


async def _by_hand(base: str, upload: Upload, token: str) -> tuple[int, bytes, str | None]:
    """A request over the upload limit, on a raw connection, so the answer is read as soon as the
    service gives it (an HTTP client would go on writing into a connection the service has
    closed, and lose the answer). ``declared``: the headers say how large, and only the first
    64 KB follow; ``chunked``: no length, and chunks until just past the limit, then the answer."""
    host, port = base.removeprefix("http://").split(":")
    reader_, writer = await asyncio.open_connection(host, int(port))
    try:
        body = _multipart_head(upload) + upload.data
        head = [f"POST {upload.route} HTTP/1.1", f"Host: {host}:{port}", f"Authorization: Bearer {token}",
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
        if upload.how == "declared":
            head.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body[:64 * 1024])
            await writer.drain()
        else:
            head.append("Transfer-Encoding: chunked")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            step = 256 * 1024
            for at in range(0, min(len(body), MAX_UPLOAD_REQUEST_BYTES + 2 * step), step):
                piece = body[at:at + step]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
        status_line = await asyncio.wait_for(reader_.readline(), READ_TIMEOUT)
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader_.readline(), READ_TIMEOUT)) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        content = await asyncio.wait_for(reader_.readexactly(length), READ_TIMEOUT) if length else b""
        return status, content, headers.get("retry-after")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def send_upload(client: httpx.AsyncClient, base: str, tally: Tally, upload: Upload, tokens: dict[str, str],
                      timeout: float) -> None:
    started = time.perf_counter()
    at = time.monotonic() - tally.started
    label = f"{upload.route} [{upload.name}]"
    status: int | None = None
    try:
        if upload.how == "multipart":
            response = await client.post(
                upload.route, headers={"Authorization": f"Bearer {tokens[upload.user]}"}, timeout=timeout,
                files={"file": (upload.filename, upload.data, upload.content_type)})
            status, content, retry = response.status_code, response.content, response.headers.get("retry-after")
        else:
            status, content, retry = await _by_hand(base, upload, tokens[upload.user])
    except (TimeoutError, httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        tally.failed("uploader", "POST", label, exc)
        tally.uploads[upload.name].append({"status": None, "seconds": time.perf_counter() - started,
                                           "at_s": round(at, 1), "error": type(exc).__name__})
        return
    seconds = time.perf_counter() - started
    code = _error_code(content) if status >= 400 else None
    tally.answered("uploader", "POST", label, upload.route, status, seconds, upload.expected, code, retry)
    tally.uploads[upload.name].append({"status": status, "code": code, "seconds": seconds, "at_s": round(at, 1)})


async def uploader(client: httpx.AsyncClient, base: str, tally: Tally, files: list[Upload], tokens: dict[str, str],
                   deadline: float, timeout: float) -> None:
    """Round after round of the files; none started after the deadline."""
    n = 0
    while time.monotonic() < deadline:
        await send_upload(client, base, tally, files[n % len(files)], tokens, timeout)
        n += 1


async def sampler(service: Service, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.to_thread(service.sample)
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
        except TimeoutError:
            pass


async def answers(base: str, token: str) -> dict:
    """Whether the service answers a signed-in read (GET /auth/me, then GET /referrals)."""
    out: dict = {}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30.0) as client:
        for path in ("/auth/me", "/referrals"):
            started = time.perf_counter()
            try:
                status = (await client.get(path)).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            out[path] = {"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}
    out["ok"] = all(v["status"] == 200 for v in out.values() if isinstance(v, dict))
    return out


async def load(service: Service, files: list[Upload], tokens: dict[str, str], cookies: dict[str, str],
               targets: dict, args: argparse.Namespace) -> dict:
    tally = Tally()
    api_routes, page_routes = reader_routes(targets["run_id"], targets["proposal_ids"], targets["approval_ids"])
    stop_sampling = asyncio.Event()
    sampling = asyncio.create_task(sampler(service, stop_sampling))
    limits = httpx.Limits(max_connections=args.clients + 4, max_keepalive_connections=args.clients + 4)
    result: dict = {}
    async with (httpx.AsyncClient(base_url=service.base, limits=limits, timeout=READ_TIMEOUT) as readers,
                httpx.AsyncClient(base_url=service.base, timeout=READ_TIMEOUT) as flooder,
                httpx.AsyncClient(base_url=service.base, timeout=args.upload_timeout) as uploads):
        tally.started = time.monotonic()
        deadline = tally.started + args.seconds
        tasks = []
        for k in range(args.clients):
            user = READER_USERS[(k // 2) % len(READER_USERS)]
            if k % 2 == 0:
                kind, routes, headers = "panel readers (API)", api_routes, {"Authorization": f"Bearer {tokens[user]}"}
            else:
                # The approvals queue page is the managers' (a panel member is answered 403, as
                # designed); a panel member reads one request's page, as the API's queue.
                kind = "panel readers (pages)"
                routes = page_routes if user != PANEL_USER else \
                    [r for r in page_routes if r(random.Random(0))[0] != MANAGERS_QUEUE_PAGE]
                headers = {"Cookie": f"{SESSION_COOKIE}={cookies[user]}", "Accept": "text/html"}
            tasks.append(asyncio.create_task(reader(k, readers, tally, routes, headers, deadline, args.think, kind)))
        tasks.append(asyncio.create_task(flood(flooder, tally, deadline)))
        uploading = asyncio.create_task(uploader(uploads, service.base, tally, files, tokens, deadline,
                                                 args.upload_timeout))
        await asyncio.gather(*tasks)
        result["load_seconds"] = time.monotonic() - tally.started
        result["answers_at_end"] = await answers(service.base, tokens[PANEL_USER])
        result["upload_in_flight_at_end"] = not uploading.done()
        drain = time.monotonic()
        try:
            await asyncio.wait_for(uploading, args.upload_timeout)
        except TimeoutError:
            tally.failed("uploader", "POST", "(still in flight after --upload-timeout)", TimeoutError())
        result["upload_drain_seconds"] = time.monotonic() - drain
        result["answers_after_uploads"] = await answers(service.base, tokens[PANEL_USER])
    stop_sampling.set()
    await sampling
    result["tally"] = tally
    return result


# --- before the load: sign-ins, a run, proposals, approval requests --------------------------


def sign_in_everyone(base: str) -> tuple[dict[str, str], dict[str, str]]:
    """Bearer tokens (POST /auth/token) and page sessions (POST /auth/session) for the users the
    clients need, through the real routes, before the flood locks this address out."""
    tokens, cookies = {}, {}
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for user in (PANEL_USER, HEAD_USER, COMMISSIONER):
            response = client.post("/auth/token", data={"username": user, "password": DEMO_PASSWORD})
            response.raise_for_status()
            tokens[user] = response.json()["access_token"]
    for user in READER_USERS:
        with httpx.Client(base_url=base, timeout=60.0) as client:
            response = client.post("/auth/session", data={"username": user, "password": DEMO_PASSWORD})
            response.raise_for_status()
            cookies[user] = response.cookies[SESSION_COOKIE]
    return tokens, cookies


def panel_session(base: str, token: str) -> dict:
    """A match run on the demo queue, and a few of its proposals accepted so that approval
    requests exist: what the readers read."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60.0) as client:
        response = client.post("/match-runs", json={"panel_date": PANEL_DAY.isoformat()})
        response.raise_for_status()
        run_id = response.json()["id"]
        started = time.monotonic()
        while (run := client.get(f"/match-runs/{run_id}").json())["status"] in ("queued", "running"):
            if time.monotonic() - started > RUN_SECONDS:
                raise RuntimeError(f"match run {run_id} not finished after {RUN_SECONDS:.0f} s")
            time.sleep(0.1)
        if run["status"] != "succeeded":
            raise RuntimeError(f"match run {run_id} {run['status']}")
        proposals = [p for p in run["proposals"] if p["rank"] == 0]
        for p in [p for p in proposals if p["approvals_required"]][:ACCEPTED_FOR_APPROVALS]:
            client.post(f"/match-runs/{run_id}/proposals/{p['id']}/accept",
                        json={"reason": "load benchmark: near family, young person agrees"}).raise_for_status()
        approvals = client.get("/approvals", params={"role": "any", "status": "any"}).json()["items"]
    if not approvals:
        raise RuntimeError("no approval requests to read: the demo's proposals needed none")
    return {"run_id": run_id, "proposal_ids": [p["id"] for p in proposals],
            "approval_ids": [a["id"] for a in approvals]}


def alone(base: str, token: str, requests: int = BASELINE_REQUESTS) -> dict:
    """GET /referrals from one client with nothing else running: what the load adds to."""
    ms = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60.0) as client:
        client.get("/referrals").raise_for_status()  # warm: the connection, the first query
        for _ in range(requests):
            started = time.perf_counter()
            client.get("/referrals").raise_for_status()
            ms.append((time.perf_counter() - started) * 1000)
    return {"requests": requests, "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95), "max_ms": max(ms)}


# --- the service's log ----------------------------------------------------------------------


TRACEBACK = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)')
EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")  # "sqlalchemy.exc.OperationalError: ..." -> its type


def tracebacks(log: str) -> Counter:
    """(exception type, the last placematch line it passed) for each traceback in the log:
    types and code lines only, never the messages (they may quote data)."""
    found: Counter = Counter()
    lines = log.splitlines()
    for k, line in enumerate(lines):
        if line.strip() != TRACEBACK:
            continue
        where, kind = "?", "?"
        for following in lines[k + 1:]:
            frame = FRAME.match(following)
            if frame:
                path = Path(frame.group(1))
                if ROOT in path.parents and ".venv" not in path.parts:
                    where = f"{path.relative_to(ROOT)}:{frame.group(2)} ({frame.group(3)})"
                continue
            if following.startswith(" "):
                continue
            match = EXCEPTION.match(following)
            if match:
                kind = match.group(1)
                break
        found[(kind, where)] += 1
    return found


# --- the report -----------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _ok(good: bool) -> str:
    return "[green]yes[/]" if good else "[red]no[/]"


def _statuses(counter: Counter, low: int, high: int) -> str:
    return ", ".join(f"{s}: {n:,}" for s, n in sorted(counter.items()) if low <= s < high) or "-"


def summarise(result: dict, service: Service, files: list[Upload], args: argparse.Namespace,
              log_errors: Counter, killed: list[int], alone_: dict) -> dict:
    tally: Tally = result["tally"]
    seconds = result["load_seconds"]
    clients = {"panel readers (API)": (args.clients + 1) // 2, "panel readers (pages)": args.clients // 2,
               "uploader": 1, "sign-in flood": 1}
    kinds = {}
    for kind, n in clients.items():
        statuses, transport = tally.statuses[kind], tally.transport[kind]
        answered = sum(statuses.values())
        kinds[kind] = {
            "clients": n, "requests": answered + sum(transport.values()), "answered": answered,
            "2xx": sum(v for s, v in statuses.items() if 200 <= s < 300),
            "4xx": {str(s): v for s, v in sorted(statuses.items()) if 400 <= s < 500},
            "5xx": {str(s): v for s, v in sorted(statuses.items()) if s >= 500},
            "transport_errors": dict(transport), "unexpected": dict(tally.unexpected[kind]),
            "per_second": answered / seconds if kind != "uploader" else None,
        }
    routes = {}
    for label, values in sorted(tally.latencies.items(), key=lambda kv: (kv[0] != REFERRALS_ROUTE, kv[0])):
        if not label.startswith("GET "):
            continue
        ms = [v * 1000 for v in values]
        routes[label] = {"requests": len(ms), "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95),
                         "p99_ms": _pct(ms, 99), "max_ms": max(ms)}
    uploads = []
    for upload in files:
        sent = tally.uploads.get(upload.name, [])
        uploads.append({"file": upload.name, "route": upload.route, "mb": upload.size / MB, "rows": upload.rows,
                        "how": upload.how, "expected": sorted(upload.expected), "sent": len(sent),
                        "statuses": dict(Counter(str(s["status"]) for s in sent)),
                        "seconds": [round(s["seconds"], 2) for s in sent], "at_s": [s["at_s"] for s in sent]})
    five = sum(sum(k["5xx"].values()) for k in kinds.values())
    memory = [{"pid": pid, "what": service.names.get(pid, "?"), "vm_hwm_mib": kib / 1024}
              for pid, kib in sorted(service.hwm_kib.items())]
    return {
        "config": {"seconds": args.seconds, "clients": args.clients, "workers": args.workers, "think": args.think,
                   "cpus": os.cpu_count(), "panel_day": PANEL_DAY.isoformat(), "database": "sqlite",
                   "referrals_route": f"{REFERRALS_ROUTE} (JSON API, bearer token, first page of 50)"},
        "load_seconds": seconds, "kinds": kinds, "routes": routes, "referrals_alone": alone_, "uploads": uploads,
        "server_errors": {"total": five, "target": 0,
                          "by_route": [{"kind": k, "route": r, "status": s, "code": c, "count": n}
                                       for (k, r, s, c), n in tally.server_error_counts.most_common()],
                          "first": tally.server_errors},
        "no_answers": {"total": sum(sum(k["transport_errors"].values()) for k in kinds.values()),
                       "first": tally.no_answers},
        "memory": {"processes": memory, "serve_vm_hwm_mib": service.hwm_kib.get(service.pid, 0) / 1024,
                   "sum_vm_hwm_mib": sum(m["vm_hwm_mib"] for m in memory),
                   "peak_sampled_rss_mib": service.peak_rss_kib / 1024},
        "answers_at_end": result["answers_at_end"], "answers_after_uploads": result["answers_after_uploads"],
        "upload_in_flight_at_end": result["upload_in_flight_at_end"],
        "upload_drain_seconds": result["upload_drain_seconds"],
        "service_log_tracebacks": [{"exception": e, "where": w, "count": n} for (e, w), n in log_errors.most_common()],
        "leftover_processes_killed": killed,
    }


def report(console: Console, s: dict) -> None:
    c = s["config"]
    table = Table(title=f"Load: {c['clients']} panel clients for {s['load_seconds']:.0f} s, one uploader, one "
                        f"sign-in flood (service: {c['workers']} process(es), SQLite, {c['cpus']} CPUs shared with "
                        "the clients)")
    for col in ("client kind", "clients", "requests", "2xx", "4xx by status", "5xx", "transport errors",
                "unexpected", "answers/s"):
        table.add_column(col, justify="left" if col in ("client kind", "4xx by status", "unexpected") else "right")
    for kind, k in s["kinds"].items():
        table.add_row(kind, str(k["clients"]), f"{k['requests']:,}", f"{k['2xx']:,}",
                      ", ".join(f"{st}: {n:,}" for st, n in k["4xx"].items()) or "-",
                      f"[red]{sum(k['5xx'].values()):,}[/]" if k["5xx"] else "0",
                      str(sum(k["transport_errors"].values())),
                      "; ".join(f"{w} x{n}" for w, n in k["unexpected"].items()) or "-",
                      f"{k['per_second']:.1f}" if k["per_second"] is not None else "-")
    console.print(table)

    table = Table(title="Load: latency of the panel readers' routes (closed loop; ms from request sent to "
                        "answer read, at the client)")
    for col in ("route", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "route" else "right")
    for label, r in s["routes"].items():
        name = f"[bold]{label}[/] (JSON API)" if label == REFERRALS_ROUTE else label
        table.add_row(name, f"{r['requests']:,}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}",
                      f"{r['max_ms']:.0f}")
    console.print(table)

    table = Table(title="Load: the uploader's files (one round after another; none started after the load)")
    for col in ("file", "route", "MB", "rows", "expected", "sent", "answers", "seconds each"):
        table.add_column(col, justify="left" if col in ("file", "route", "answers", "seconds each") else "right")
    for u in s["uploads"]:
        good = all(st in {str(e) for e in u["expected"]} for st in u["statuses"])
        answers_ = ", ".join(f"{st}: {n}" for st, n in u["statuses"].items()) or "-"
        table.add_row(u["file"], u["route"], f"{u['mb']:.1f}", f"{u['rows']:,}" if u["rows"] else "-",
                      "/".join(map(str, u["expected"])), str(u["sent"]),
                      answers_ if good or not u["sent"] else f"[red]{answers_}[/]",
                      ", ".join(f"{x:.1f}" for x in u["seconds"]) or "-")
    console.print(table)

    errors = s["server_errors"]
    if errors["first"]:
        table = Table(title=f"Load: the first {len(errors['first'])} 5xx answers (status, path and the service's "
                            "error code; no bodies)")
        for col in ("at s", "client kind", "request", "status", "code", "Retry-After", "seconds"):
            table.add_column(col, justify="right" if col in ("at s", "status", "seconds") else "left")
        for e in errors["first"]:
            table.add_row(f"{e['at_s']:.1f}", e["kind"], f"{e['method']} {e['path']}", str(e["status"]),
                          str(e["code"]), str(e["retry_after"] or "-"), f"{e['seconds']:.2f}")
        console.print(table)
        for r in errors["by_route"]:
            console.print(f"  5xx x{r['count']}: {r['kind']}, {r['route']} -> {r['status']} {r['code']}",
                          highlight=False)

    memory, ref = s["memory"], s["routes"].get(REFERRALS_ROUTE)
    table = Table(title="Load: the figures (issue 13)", show_header=False)
    table.add_column("figure")
    table.add_column("value")
    table.add_row("5xx answers (target 0)", f"{errors['total']:,}  {_ok(errors['total'] == 0)}")
    gone = s["no_answers"]
    table.add_row("requests left without an answer (transport errors)",
                  f"{gone['total']:,}" + (f": the first at {gone['first'][0]['at_s']:.0f} s ("
                                          f"{gone['first'][0]['error']} on {gone['first'][0]['request']})"
                                          if gone["first"] else ""))
    if ref:
        table.add_row(f"{REFERRALS_ROUTE} (JSON API, first page of 50)",
                      f"p50 {ref['p50_ms']:.0f} ms, p95 {ref['p95_ms']:.0f} ms, p99 {ref['p99_ms']:.0f} ms "
                      f"({ref['requests']:,} requests)")
    a = s["referrals_alone"]
    table.add_row(f"{REFERRALS_ROUTE}, one client alone before the load",
                  f"p50 {a['p50_ms']:.0f} ms, p95 {a['p95_ms']:.0f} ms ({a['requests']} requests)")
    table.add_row("memory high-water mark (VmHWM)",
                  "; ".join(f"{m['what']} {m['vm_hwm_mib']:.0f} MiB" for m in memory["processes"])
                  + f"; peak sampled RSS of all together {memory['peak_sampled_rss_mib']:.0f} MiB")
    for key, words in (("answers_at_end", "answers when the load stopped"),
                       ("answers_after_uploads", "answers after the last upload")):
        a = s[key]
        table.add_row(words, f"{_ok(a['ok'])}  " + ", ".join(f"GET {p} {v['status']} in {v['ms']:.0f} ms"
                                                            for p, v in a.items() if isinstance(v, dict)))
    table.add_row("upload in flight when the load stopped",
                  f"yes, answered {s['upload_drain_seconds']:.0f} s later, with no other load"
                  if s["upload_in_flight_at_end"] else "no")
    table.add_row("tracebacks in the service's log",
                  "; ".join(f"{t['exception']} at {t['where']} x{t['count']}" for t in s["service_log_tracebacks"])
                  or "none")
    if s["leftover_processes_killed"]:
        table.add_row("processes left after the service stopped (killed)", str(s["leftover_processes_killed"]))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=50, help="concurrent panel clients (readers)")
    parser.add_argument("--workers", type=int, default=1, help="service processes (placematch serve --workers)")
    parser.add_argument("--think", type=float, default=0.0, help="seconds each reader waits between requests")
    parser.add_argument("--upload-timeout", type=float, default=900.0,
                        help="how long one upload may take (the one in flight at the end is waited for)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the readers' choices")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    random.seed(args.seed)

    console = Console(width=200)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the finally below stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="placematch-load-") as tmp:
        folder = Path(tmp)
        with console.status("Building the demo council (placematch demo --users)..."):
            url, export = build_database(folder)
        with console.status("Making the upload files..."):
            files = upload_files(export)
        service = Service(url, folder / "service.log", args.workers)
        killed: list[int] = []
        try:
            with console.status("Starting the service..."):
                service.start()
            tokens, cookies = sign_in_everyone(service.base)
            with console.status("A match run, and three proposals accepted..."):
                targets = panel_session(service.base, tokens[PANEL_USER])
                targets["alone"] = alone(service.base, tokens[PANEL_USER])
            with console.status(f"Load for {args.seconds:.0f} s (then the upload in flight, if any)..."):
                result = asyncio.run(load(service, files, tokens, cookies, targets, args))
        except BaseException:
            print_service_log(console, service.log)
            raise
        finally:
            killed = service.stop()
        log_errors = tracebacks(service.log.read_text(errors="replace"))
    summary = summarise(result, service, files, args, log_errors, killed, targets["alone"])
    report(console, summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
        console.print(f"figures written to {args.json}", style="dim")


if __name__ == "__main__":
    main()
