"""The service under test: the real app on a real database holding the demo council, with one
user per role. The demo database is built once per session and copied for each test (SQLite
file copy), so every test starts from the same state and can change it freely."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.db import make_engine
from models.enums import Role
from demo_council import DEMO_DAY, demo_database  # noqa: F401 (DEMO_DAY: imported from here by tests)
from signin import sign_in



@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    return demo_database(tmp_path_factory.mktemp("demo") / "placematch.db")


@pytest.fixture
def demo_engine(demo_file, tmp_path):
    path = tmp_path / "placematch.db"
    shutil.copy(demo_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def client(demo_engine):
    with TestClient(create_app(demo_engine)) as c:
        yield c


@pytest.fixture
def as_role(client):
    cache: dict[Role, dict[str, str]] = {}

    def headers(role: Role) -> dict[str, str]:
        if role not in cache:
            cache[role] = sign_in(client, role)
        return cache[role]

    return headers
