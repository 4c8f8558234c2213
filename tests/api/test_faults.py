"""Contention: a write that cannot get SQLite's lock (another connection holds BEGIN EXCLUSIVE on
the same file) answers 503 with Retry-After and a plain-English message, never 500, and
writes nothing; once the lock is let go the same request works."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.db import make_engine
from models.enums import Role
from signin import PASSWORD, sign_in, username

SCENARIO = {"name": "UASC doubled", "adjustments": ["uasc_entries*2"]}


@pytest.fixture
def locked_service(demo_file, tmp_path, monkeypatch):
    """The service on a copy of the demo council whose writes give up on a lock after 0.2 s,
    and a function that locks its file from a second connection (as another process would)."""
    path = tmp_path / "placematch.db"
    shutil.copy(demo_file, path)
    monkeypatch.setenv("PLACEMATCH_SQLITE_BUSY_TIMEOUT_MS", "200")
    engine = make_engine(f"sqlite:///{path}")
    holders: list[sqlite3.Connection] = []

    def lock() -> sqlite3.Connection:
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
        holders.append(holder)
        return holder

    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        yield client, lock
    for holder in holders:
        holder.close()
    engine.dispose()


def _scenarios(client, headers) -> list:
    return client.get("/forecast-scenarios", headers=headers).json()


def test_a_write_to_a_locked_database_answers_503_with_retry_after(locked_service):
    client, lock = locked_service
    headers = sign_in(client, Role.commissioner)
    holder = lock()
    busy = client.put("/forecast-scenarios", headers=headers, json=SCENARIO)
    assert busy.status_code == 503, busy.text
    assert int(busy.headers["Retry-After"]) >= 1
    error = busy.json()["error"]
    assert error["code"] == "busy" and "try again" in error["message"] and "nothing was saved" in error["message"]
    assert "locked" not in error["message"] and "sqlite" not in error["message"].lower()  # plain English
    holder.rollback()
    assert _scenarios(client, headers) == []  # nothing was written
    again = client.put("/forecast-scenarios", headers=headers, json=SCENARIO)
    assert again.status_code == 200, again.text
    assert [s["name"] for s in _scenarios(client, headers)] == ["UASC doubled"]


def test_a_page_form_posted_to_a_locked_database_answers_503_not_500(locked_service):
    client, lock = locked_service
    signed_in = client.post("/sign-in", data={"username": username(Role.commissioner), "password": PASSWORD,
                                              "next": "/"}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    holder = lock()
    busy = client.post("/forecast-page/scenarios", data={"name": "UASC doubled", "adjustments": "uasc_entries*2"},
                       headers={"origin": "http://testserver"}, follow_redirects=False)  # from the page
    assert busy.status_code == 503, busy.text
    assert "Retry-After" in busy.headers
    holder.rollback()


def test_reads_carry_on_while_another_connection_holds_the_write_lock(locked_service):
    client, lock = locked_service
    headers = sign_in(client, Role.panel_member)
    lock()
    referrals = client.get("/referrals", headers=headers)  # WAL: a reader never waits for a writer
    assert referrals.status_code == 200, referrals.text


def test_the_busy_answer_is_a_page_on_a_page_route_and_json_on_the_api(locked_service):
    client, lock = locked_service
    token = sign_in(client, Role.commissioner)
    signed_in = client.post("/sign-in", data={"username": username(Role.commissioner), "password": PASSWORD,
                                              "next": "/"}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    holder = lock()
    page = client.post("/forecast-page/scenarios", data={"name": "UASC doubled", "adjustments": "uasc_entries*2"},
                       headers={"origin": "http://testserver", "accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html"), page.text
    assert "placematch is busy, try again in a few seconds" in page.text and "Nothing was saved" in page.text
    assert int(page.headers["Retry-After"]) >= 1 and "locked" not in page.text.lower()
    api = client.put("/forecast-scenarios", headers=token, json=SCENARIO)
    assert api.status_code == 503 and api.json()["error"]["code"] == "busy"
    assert int(api.headers["Retry-After"]) >= 1
    holder.rollback()
