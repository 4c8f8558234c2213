"""The sign-in page under repeated failures: the same throttle as the API, told in plain words
("Too many attempts: try again in 15 minutes"), never a code; the right password is refused too
while the lock holds."""

from __future__ import annotations

from api.security import ACCOUNT_FAILURES, LOCKOUT
from models.enums import Role
from signin import PASSWORD, username


def post_sign_in(client, password: str):
    return client.post("/sign-in", data={"username": username(Role.panel_member), "password": password, "next": "/"},
                       follow_redirects=False)


def test_the_sign_in_page_says_in_plain_words_how_long_to_wait(client):
    for _ in range(ACCOUNT_FAILURES):
        wrong = post_sign_in(client, "not the password at all")
        assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    locked = post_sign_in(client, PASSWORD)
    assert locked.status_code == 429 and "set-cookie" not in locked.headers
    assert f"Too many attempts: try again in {LOCKOUT.seconds // 60} minutes." in locked.text
    for code in ("too_many_attempts", "throttled", "429"):
        assert code not in locked.text
    assert int(locked.headers["Retry-After"]) > 0


def test_a_browser_that_signed_in_before_is_not_locked_out_by_failures_from_its_address(client, demo_engine):
    """One attacker behind an office's shared address locks that address; the office's own
    browsers, known from an earlier sign-in, still get in (only their account's limit holds)."""

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.security import ADDRESS_FAILURES, DEVICE_COOKIE, record_attempt
    from models.db import transaction

    def sign_in_as(browser, role: Role):
        return browser.post("/sign-in", data={"username": username(role), "password": PASSWORD, "next": "/"},
                            follow_redirects=False)

    first = sign_in_as(client, Role.panel_member)
    assert first.status_code == 303 and client.cookies.get(DEVICE_COOKIE)
    with transaction(demo_engine) as session:  # a password spray from the same address meanwhile
        for k in range(ADDRESS_FAILURES):
            record_attempt(session, f"someone-{k}", "testclient", succeeded=False)

    client.cookies.delete("placematch_session")
    assert sign_in_as(client, Role.panel_member).status_code == 303  # the known browser gets in
    with TestClient(create_app(demo_engine)) as elsewhere:  # a browser never signed in here
        refused = sign_in_as(elsewhere, Role.panel_member)
        assert refused.status_code == 429 and "Too many attempts" in refused.text
        # Another user's proof does not vouch for this one.
        elsewhere.cookies.set(DEVICE_COOKIE, client.cookies.get(DEVICE_COOKIE), path="/sign-in")
        assert sign_in_as(elsewhere, Role.service_manager).status_code == 429
        elsewhere.cookies.set(DEVICE_COOKIE, "made-up-proof", path="/sign-in")
        assert sign_in_as(elsewhere, Role.panel_member).status_code == 429
