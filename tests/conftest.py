"""Shared fixtures: real databases (SQLite, and PostgreSQL when a server is given) built by the
real migrations, and the public synthetic data in ../shared/data.

PostgreSQL tests run when ``PLACEMATCH_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts
one); on a developer machine without it they are skipped, but under CI a missing server is a
failure, so a green CI always means both databases were tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.db import make_engine, migrate
from postgres_server import fresh_postgres

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


def _new_engine(backend: str, tmp_path: Path):
    if backend == "postgresql":
        return fresh_postgres()
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
