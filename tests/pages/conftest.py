"""Browser tests of the pages: the real service (``python -m api.cli serve``) in a subprocess on
a copy of the demo council's SQLite database, driven by Debian's Chromium through Playwright.

* The demo database (seed 2026, panel day 2026-11-23, one user per role) is built once per
  session; each test module gets its own copy and its own service, so the tests of one module
  may change it (accept, approve) without touching another's.
* Every test gets a fresh browser context (no cookies carried over). The context aborts any
  request that is not for the test server, records every request, and the test fails if a page
  asked for anything elsewhere (the pages must work with the network blocked) or threw an
  uncaught script error.
* Chromium is ``$PLACEMATCH_CHROMIUM``, else ``chromium`` on the PATH, else /usr/bin/chromium.
  No browser is ever downloaded. Without Chromium or Playwright the tests are skipped, except
  under CI (``$CI`` set), where that is a failure: a green CI always ran them.
* Fixtures give the helpers: ``sign_in(page, role)`` fills the sign-in form, ``sign_out(page)``,
  and ``shot(page, name)`` saves a full-page screenshot to out/screenshots/{name}.png for people to
  look at; a failing test leaves one named FAILED-<test>.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from models.db import make_engine, transaction
from models.enums import Role

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"
STARTUP_SECONDS = 60.0

# The demo users (one per role, one password) are tests/api/signin.py's.
_API_TESTS = str(ROOT / "tests" / "api")
if _API_TESTS not in sys.path:
    sys.path.append(_API_TESTS)
from demo_council import DEMO_DAY, demo_database  # noqa: E402,F401
from signin import PASSWORD, username  # noqa: E402

CHROMIUM = os.environ.get("PLACEMATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


# --- the database -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo council with one user per role, built once per session (never changed: copied)."""
    return demo_database(tmp_path_factory.mktemp("pages-demo") / "placematch.db")


# --- the service ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """The running service: its address, database and log."""

    base: str
    database_url: str
    log: Path
    process: subprocess.Popen

    def token(self, role: Role | str) -> dict[str, str]:
        """Bearer headers for the API as the demo user with this role."""
        response = httpx.post(f"{self.base}/auth/token",
                              data={"username": username(_role(role)), "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def api(self, role: Role | str) -> httpx.Client:
        """An API client signed in (bearer token) as this role; close it (``with``) after use."""
        return httpx.Client(base_url=self.base, headers=self.token(role), timeout=30.0)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_service(database_url: str, log: Path) -> Server:
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url)
    env.pop("PLACEMATCH_PLACING_AUTHORITY", None)  # the demo council's panel
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    server = Server(f"http://127.0.0.1:{port}", database_url, log, process)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited ({process.returncode}):\n{server.log_tail()}")
        if _answers(f"{server.base}/sign-in"):
            return server
        time.sleep(0.1)
    stop_service(server)
    raise RuntimeError(f"the service did not answer GET /sign-in within {STARTUP_SECONDS:.0f} s:\n"
                       f"{server.log_tail()}")


def stop_service(server: Server) -> None:
    """SIGINT (uvicorn shuts down and stops the match workers it started), SIGKILL after 15 s;
    then any match worker still alive on this database is stopped."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _stop_leftover_workers(server.database_url)


def _workers_on(database_url: str) -> list[int]:
    """Match workers (``python -m api.jobs``, running a job or waiting as a spare) whose
    DATABASE_URL is this test database: only ever ones this session's service started."""
    found = []
    wanted = f"DATABASE_URL={database_url}".encode()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if b"api.jobs" not in cmdline:
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _stop_leftover_workers(database_url: str) -> None:
    from sqlalchemy import select

    from api import jobs
    from models.panel import MatchRun

    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            runs = session.execute(select(MatchRun.id, MatchRun.worker_pid)).all()
        for run_id, pid in runs:
            if pid is not None and jobs.is_worker(pid, run_id):
                jobs.stop_worker(engine, run_id, pid, grace=2.0)
    finally:
        engine.dispose()
    for sig in (signal.SIGTERM, signal.SIGKILL):  # spares, and anything the database did not name
        pids = _workers_on(database_url)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3.0
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and _not_zombie(p)]
            time.sleep(0.05)
        if not pids:
            return


def _not_zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory):
    """The real service on this module's own copy of the demo database."""
    directory = tmp_path_factory.mktemp("pages-service")
    path = directory / "placematch.db"
    shutil.copy(demo_db, path)
    running = start_service(f"sqlite:///{path}", directory / "service.log")
    yield running
    stop_service(running)
    assert not _workers_on(running.database_url), "match workers were left running"


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is not importable ({exc}); pip install -e '.[dev]'")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (install Debian's chromium package, or set PLACEMATCH_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
        yield launched
        launched.close()


def _same_origin(url: str, base: str) -> bool:
    parts, home = urlsplit(url), urlsplit(base)
    if parts.scheme in ("data", "blob", "about"):
        return True  # nothing leaves the page
    return (parts.scheme, parts.netloc) == (home.scheme, home.netloc)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, server, request):
    """A page in a new browser context on the test server (``page.goto("/panel")``). Fails the
    test if any request went elsewhere than the test server, or a script threw."""
    context = browser.new_context(base_url=server.base, viewport={"width": 1280, "height": 900},
                                  locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    requested: list[str] = []
    script_errors: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    context.route(lambda url: not _same_origin(url, server.base), lambda route: route.abort("blockedbyclient"))
    opened = context.new_page()
    opened.on("pageerror", lambda error: script_errors.append(f"{opened.url}: {error}"))
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        try:
            take_shot(opened, f"FAILED-{request.node.name}")
        except Exception:  # the page may be gone: the failure itself is what matters
            pass
    context.close()
    elsewhere = [url for url in requested if not _same_origin(url, server.base)]
    assert not elsewhere, f"pages asked for resources outside the test server: {sorted(set(elsewhere))}"
    assert not script_errors, f"uncaught script errors: {script_errors}"


# --- helpers ----------------------------------------------------------------------------------


def _role(role: Role | str) -> Role:
    return role if isinstance(role, Role) else Role(str(role).replace(".", "_").replace(" ", "_"))


def sign_in_as(page, role: Role | str, password: str = PASSWORD, next: str | None = None) -> None:
    """Sign in through the form as the demo user with this role (waits until the page after
    signing in has loaded; with a wrong password, until the form is shown again)."""
    page.goto("/sign-in" + (f"?next={quote(next, safe='')}" if next else ""))
    page.locator("#username").fill(username(_role(role)))
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if password == PASSWORD:
        landed = urlsplit(page.url).path
        assert landed != "/sign-in", (
            f"signed in as {username(_role(role))}, but the next page ({page.url}) asked to sign in again "
            "(see test_the_page_after_signing_in_already_knows_the_user)")


def sign_out_of(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def take_shot(page, name: str) -> Path:
    """A full-page screenshot at out/screenshots/{name}.png (out/ is not in git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


TENDER_FILES = (("tender-file", "tender.yaml"), ("bids-file", "bids.csv"), ("scores-file", "scores.csv"),
                ("moderation-file", "moderation.csv"))


def upload_tender_files(page, folder: Path, files=TENDER_FILES) -> None:
    """On /tenders: choose the tender's files from ``folder`` (those in ``files``) and send them."""
    form = page.locator("form#upload-tender")
    for field, name in files:
        form.locator(f"#{field}").set_input_files(str(folder / name))
    with page.expect_navigation():
        form.get_by_role("button", name="Evaluate the bids").click()


# The helpers as fixtures too, so test modules need not import this conftest by name.


@pytest.fixture
def upload_tender():
    """``upload_tender(page, folder, files=all four)``: send a tender's files from the tenders page."""
    return upload_tender_files



@pytest.fixture
def sign_in():
    """``sign_in(page, role)``: sign in through the form as the demo user with this role."""
    return sign_in_as


@pytest.fixture
def sign_out():
    """``sign_out(page)``: the header's Sign out button."""
    return sign_out_of


@pytest.fixture
def shot():
    """``shot(page, name)``: a full-page screenshot at out/screenshots/{name}.png."""
    return take_shot
