"""Sign-in under attack: failed sign-ins are throttled per account and per client address, with a
lock that lifts by itself; every failure is in the audit log; an unknown username costs the same
time and gets the same answer as a known one; a new password or role ends the old tokens.

The throttle's attempts live in the database, so these run on SQLite and PostgreSQL, on the real
app with the demo users (one per role, tests/api/signin.py)."""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.routes.users import create_user
from api.security import (ACCOUNT_FAILURES, ADDRESS_FAILURES, DUMMY_HASH, FAILURE_WINDOW, LOCKOUT, _hasher,
                          record_attempt, throttle)
from models.accounts import SignInAttempt, User
from models.base import utcnow
from models.db import transaction
from models.enums import Role
from signin import PASSWORD, add_users, username

WRONG = "not the password at all"


@pytest.fixture
def service(engine):
    """The app on an empty database (SQLite and PostgreSQL) holding the demo users."""
    add_users(engine)
    with TestClient(create_app(engine)) as client:
        yield client


def from_address(client: TestClient, address: str) -> TestClient:
    """A client on the same app whose requests come from ``address``."""
    return TestClient(client.app, client=(address, 50000))


def attempt(client, name: str, password: str):
    return client.post("/auth/token", data={"username": name, "password": password})


def age_attempts(engine, by: dt.timedelta) -> None:
    """Move every recorded attempt ``by`` into the past: the time a lock waits, without the wait."""
    with transaction(engine) as session:
        for row in session.scalars(select(SignInAttempt)):
            row.at = row.at - by


def test_an_account_is_locked_after_repeated_failures_even_for_the_right_password(service):
    panel = username(Role.panel_member)
    for _ in range(ACCOUNT_FAILURES):
        assert attempt(service, panel, WRONG).status_code == 401
    locked = attempt(service, panel, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"]["message"] == f"Too many attempts: try again in {LOCKOUT.seconds // 60} minutes."
    assert 0 < int(locked.headers["Retry-After"]) <= LOCKOUT.total_seconds() + 1
    # Only that account: someone else at the same address still signs in.
    assert attempt(service, username(Role.director), PASSWORD).status_code == 200
    # And the lock follows the account, not the address it was attacked from.
    assert attempt(from_address(service, "192.0.2.7"), panel, PASSWORD).status_code == 429


def test_the_lock_lifts_by_itself_and_a_success_clears_the_count(service, engine):
    panel = username(Role.panel_member)
    for _ in range(ACCOUNT_FAILURES):
        attempt(service, panel, WRONG)
    assert attempt(service, panel, PASSWORD).status_code == 429
    age_attempts(engine, LOCKOUT + dt.timedelta(seconds=1))
    assert attempt(service, panel, PASSWORD).status_code == 200
    # After a success, earlier failures no longer count towards the next lock.
    for _ in range(ACCOUNT_FAILURES - 1):
        assert attempt(service, panel, WRONG).status_code == 401
    assert attempt(service, panel, PASSWORD).status_code == 200


def test_failures_spread_wider_than_the_window_set_no_lock(engine):
    add_users(engine)
    now = utcnow()
    spacing = FAILURE_WINDOW / (ACCOUNT_FAILURES - 1) + dt.timedelta(seconds=1)
    with transaction(engine) as session:
        for i in range(ACCOUNT_FAILURES):
            record_attempt(session, "panel.member", "192.0.2.1", False,
                           now=now - spacing * (ACCOUNT_FAILURES - 1 - i))
    with transaction(engine) as session:
        assert throttle(session, "panel.member", "192.0.2.1", now=now) is None
    # The injectable clock: the same failures close together lock until LOCKOUT after the last.
    with transaction(engine) as session:
        for _ in range(ACCOUNT_FAILURES):
            record_attempt(session, "director", "192.0.2.1", False, now=now)
    with transaction(engine) as session:
        locked = throttle(session, "director", "192.0.2.1", now=now)
        assert locked is not None and locked.scope == "account" and locked.until == now + LOCKOUT
        assert throttle(session, "director", "192.0.2.1", now=now + LOCKOUT - dt.timedelta(seconds=1))
        assert throttle(session, "director", "192.0.2.1", now=now + LOCKOUT) is None


def test_an_address_is_locked_after_failures_across_many_accounts(service, engine):
    attacker = from_address(service, "198.51.100.9")
    # A password spray: one failure per name, from one address; all but the last recorded directly.
    with transaction(engine) as session:
        for i in range(ADDRESS_FAILURES - 1):
            record_attempt(session, f"sprayed.{i}", "198.51.100.9", False)
    assert attempt(attacker, "sprayed.last", WRONG).status_code == 401
    refused = attempt(attacker, username(Role.commissioner), PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith("Too many attempts: try again in ")
    # The same person from their own desk is not locked out.
    assert attempt(from_address(service, "203.0.113.4"), username(Role.commissioner), PASSWORD).status_code == 200


def test_failed_sign_ins_are_in_the_audit_log_without_the_name_typed(service):
    attempt(service, username(Role.panel_member), WRONG)
    attempt(service, "nobody.here", WRONG)
    for _ in range(ACCOUNT_FAILURES - 1):
        attempt(service, username(Role.panel_member), WRONG)
    attempt(service, username(Role.panel_member), PASSWORD)  # throttled
    admin = {"Authorization": "Bearer " + attempt(service, username(Role.admin), PASSWORD).json()["access_token"]}
    events = service.get("/audit-events", params={"action": "sign_in_failed", "limit": 100}, headers=admin).json()["items"]
    reasons = [e["after"]["reason"] for e in events]
    assert sorted(set(reasons)) == ["throttled_account", "unknown_user", "wrong_password"]
    assert reasons.count("wrong_password") == ACCOUNT_FAILURES
    assert all(e["after"]["address"] == "testclient" for e in events)
    assert "nobody.here" not in str(events)
    panel_id = str(service.get("/users", params={"role": "panel_member"}, headers=admin).json()["items"][0]["id"])
    assert {e["entity_id"] for e in events} == {panel_id, "unknown"}


def test_unknown_user_wrong_password_and_deactivated_account_get_the_same_answer(service, engine):
    with transaction(engine) as session:
        session.scalar(select(User).where(User.username == username(Role.director))).active = False
    answers = [attempt(service, username(Role.panel_member), WRONG), attempt(service, "nobody.here", WRONG),
               attempt(service, username(Role.director), PASSWORD)]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
    # Locked, a real name and a made-up one are told the same too.
    for name in (username(Role.commissioner), "made.up.name"):
        for _ in range(ACCOUNT_FAILURES):
            attempt(service, name, WRONG)
    locked = [attempt(service, username(Role.commissioner), WRONG), attempt(service, "made.up.name", WRONG)]
    assert {a.status_code for a in locked} == {429} and locked[0].text == locked[1].text


def test_the_dummy_hash_costs_what_a_real_hash_costs():
    assert not _hasher.check_needs_rehash(DUMMY_HASH)


TRIES = 15  # per kind: medians of 15 are steady on a busy machine, and all stay under every limit


def test_an_unknown_username_takes_as_long_as_a_known_one(sqlite_engine):
    """Statistical: the median time of a failed sign-in as nobody against the median for a real
    account, interleaved so load on the machine falls on both alike. Each real account fails once
    (no lock), and 2 x TRIES failures stay under the address limit."""
    assert 2 * TRIES < ADDRESS_FAILURES
    with transaction(sqlite_engine) as session:
        for i in range(TRIES):
            create_user(session, f"timed.{i}", f"Timed {i}", Role.panel_member, PASSWORD)
    known, unknown = [], []
    with TestClient(create_app(sqlite_engine)) as client:
        attempt(client, "warm.up", WRONG)  # first request pays for imports and connections
        for i in range(TRIES):
            for name, times in ((f"timed.{i}", known), (f"absent.{i}", unknown)):
                start = time.perf_counter()
                assert attempt(client, name, WRONG).status_code == 401
                times.append(time.perf_counter() - start)
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"median failed sign-in: known {statistics.median(known) * 1000:.1f} ms, "
          f"unknown {statistics.median(unknown) * 1000:.1f} ms, ratio {ratio:.2f}")
    assert 0.67 < ratio < 1.5, (known, unknown)


def admin_headers(client) -> dict[str, str]:
    return {"Authorization": "Bearer " + attempt(client, username(Role.admin), PASSWORD).json()["access_token"]}


def user_id(client, admin, role: Role) -> int:
    return client.get("/users", params={"role": role.value}, headers=admin).json()["items"][0]["id"]


def test_a_new_password_ends_the_old_tokens(service):
    admin = admin_headers(service)
    old = {"Authorization": "Bearer " + attempt(service, username(Role.panel_member), PASSWORD).json()["access_token"]}
    assert service.get("/auth/me", headers=old).status_code == 200
    renamed = service.patch(f"/users/{user_id(service, admin, Role.panel_member)}", json={"full_name": "P Member"},
                            headers=admin)
    assert renamed.status_code == 200 and service.get("/auth/me", headers=old).status_code == 200  # a name is not access
    changed = service.patch(f"/users/{user_id(service, admin, Role.panel_member)}",
                            json={"password": "a brand new passphrase"}, headers=admin)
    assert changed.status_code == 200
    assert service.get("/auth/me", headers=old).status_code == 401
    assert attempt(service, username(Role.panel_member), "a brand new passphrase").status_code == 200


def test_a_new_role_ends_the_old_tokens_and_the_session_cookie(service):
    admin = admin_headers(service)
    old = {"Authorization": "Bearer " + attempt(service, username(Role.director), PASSWORD).json()["access_token"]}
    pages = from_address(service, "testclient")
    assert pages.post("/auth/session", data={"username": username(Role.director), "password": PASSWORD}).status_code == 200
    changed = service.patch(f"/users/{user_id(service, admin, Role.director)}", json={"role": "service_manager"},
                            headers=admin)
    assert changed.status_code == 200
    assert service.get("/auth/me", headers=old).status_code == 401
    signed_out = pages.get("/", headers={"accept": "text/html"}, follow_redirects=False)  # the pages take the cookie
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/sign-in")
    again = {"Authorization": "Bearer " + attempt(service, username(Role.director), PASSWORD).json()["access_token"]}
    assert service.get("/auth/me", headers=again).json()["role"] == "service_manager"


def test_the_sign_in_routes_document_429(service):
    schema = service.get("/openapi.json").json()
    for path in ("/auth/token", "/auth/session"):
        assert "429" in schema["paths"][path]["post"]["responses"]
