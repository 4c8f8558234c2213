"""Shared fixtures: real databases (SQLite, and PostgreSQL when a server is given) built by the
real migrations, and the public synthetic data in ../shared/data.

PostgreSQL tests run when ``PLACEMATCH_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts
one); on a developer machine without it they are skipped, but under CI a missing server is a
failure, so a green CI always means both databases were tested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import make_engine, migrate

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POSTGRES_URL = os.environ.get("PLACEMATCH_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


def _fresh_postgres():
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL: set PLACEMATCH_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL server (set PLACEMATCH_TEST_POSTGRES_URL)")
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:  # an empty schema for every test: no state leaks between tests
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


def _new_engine(backend: str, tmp_path: Path):
    if backend == "postgresql":
        return _fresh_postgres()
    return make_engine(f"sqlite:///{tmp_path / 'placematch.db'}")


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    """A migrated, empty database, once on SQLite and once on PostgreSQL."""
    eng = _new_engine(request.param, tmp_path)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    """A migrated, empty SQLite database, for tests whose subject is not storage."""
    eng = _new_engine("sqlite", tmp_path)
    migrate(eng)
    yield eng
    eng.dispose()
