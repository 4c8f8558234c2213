"""The service under test: the real app on a real database holding the demo council, with one
user per role. The demo database is built once per session and copied for each test (SQLite
file copy), so every test starts from the same state and can change it freely."""

from __future__ import annotations


import pytest

from models.enums import Role
from demo_council import DEMO_DAY, client, demo_engine, demo_file, demo_run_file  # noqa: F401 (fixtures; DEMO_DAY for tests)
from signin import sign_in


@pytest.fixture
def as_role(client):
    cache: dict[Role, dict[str, str]] = {}

    def headers(role: Role) -> dict[str, str]:
        if role not in cache:
            cache[role] = sign_in(client, role)
        return cache[role]

    return headers
