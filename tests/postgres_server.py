"""The PostgreSQL server the tests may use: ``PLACEMATCH_TEST_POSTGRES_URL`` (``.ci/run`` starts
one). Without it PostgreSQL tests are skipped on a developer machine, but under CI a missing
server is a failure, so a green CI always means both databases were tested."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from models.db import make_engine

POSTGRES_URL = os.environ.get("PLACEMATCH_TEST_POSTGRES_URL")


def fresh_postgres():
    """An engine on an empty ``public`` schema of the test server (or skip / fail, see above)."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL: set PLACEMATCH_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL server (set PLACEMATCH_TEST_POSTGRES_URL)")
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:  # an empty schema for every test: no state leaks between tests
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine
