"""The service under test: the real app on a real database holding the demo council, with one
user per role. The demo database is built once per session and copied for each test (SQLite
file copy), so every test starts from the same state and can change it freely."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.db import make_engine, migrate, transaction
from models.enums import Role
from providers.demo import build_demo
from signin import add_users, sign_in

DEMO_DAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "placematch.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=DEMO_DAY)
    add_users(engine)
    engine.dispose()
    return path


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
