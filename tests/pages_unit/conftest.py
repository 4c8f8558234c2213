"""Fast tests of the pages with FastAPI's TestClient (no browser): the real app on a copy of the
demo council's SQLite database with one user per role (as tests/api/conftest.py builds it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.enums import Role

# The demo users (one per role, one password) are tests/api/signin.py's.
_API_TESTS = str(Path(__file__).resolve().parents[1] / "api")
if _API_TESTS not in sys.path:
    sys.path.append(_API_TESTS)
from demo_council import DEMO_DAY, client, demo_engine, demo_file, demo_run_file  # noqa: E402,F401 (fixtures)
from signin import PASSWORD, username  # noqa: E402


@pytest.fixture
def sign_in_as(client):
    """Sign the client in through the sign-in page (the session cookie), as the user of a role.
    From then on the client posts as a browser on placematch's own page does, with its Origin: a
    change that carries the session cookie and does not say where it came from is refused
    (api.origin_check)."""

    def sign_in(role: Role) -> TestClient:
        client.cookies.clear()
        client.headers["origin"] = str(client.base_url)
        response = client.post("/sign-in", data={"username": username(role), "password": PASSWORD, "next": "/"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        return client

    return sign_in
