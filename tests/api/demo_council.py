"""The demo council every service and page test starts from: migrated, built from seed 2026
for panel day 2026-11-23, with one user per role (signin.py). Built once per session into a
file; tests work on copies."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from signin import add_users

from api.app import create_app
from models.db import make_engine, migrate, transaction
from providers.demo import build_demo

DEMO_DAY = dt.date(2026, 11, 23)


def demo_database(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with transaction(engine) as session:
            build_demo(session, seed=2026, as_of=DEMO_DAY)
        add_users(engine)
    finally:
        engine.dispose()
    return path


# The fixtures the service and page tests share (their conftest files import them): the demo
# council built once per session, a fresh copy of it for each test, and the app on that copy.


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    return demo_database(tmp_path_factory.mktemp("demo") / "placematch.db")


@pytest.fixture(scope="session")
def demo_run_file(demo_file, tmp_path_factory) -> tuple[Path, int]:
    """The demo council with one match run of its queue recorded, as the CLI records one, and
    the run's id: solved once a session (the engine is deterministic, so every test that asks
    for ``run_id`` gets the run it would have solved itself, seconds sooner)."""
    from matching.approvals import ApprovalPolicy
    from matching.panel import run_panel
    from matching.policy import Policy
    from providers.demo import DEMO_AUTHORITY

    path = tmp_path_factory.mktemp("demo-run") / "placematch.db"
    shutil.copy(demo_file, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        run = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                        policy=Policy(), approvals=ApprovalPolicy()).run_id
    finally:
        engine.dispose()
    return path, run


@pytest.fixture
def demo_engine(demo_file, tmp_path, request):
    """A fresh copy of the demo council; with its recorded run when the test asks for ``run_id``."""
    path = tmp_path / "placematch.db"
    source = request.getfixturevalue("demo_run_file")[0] if "run_id" in request.fixturenames else demo_file
    shutil.copy(source, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def client(demo_engine):
    with TestClient(create_app(demo_engine)) as c:
        yield c
