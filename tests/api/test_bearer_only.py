"""The JSON API takes bearer tokens only, never the pages' session cookie (issue 13, item 5): a
browser sends the cookie by itself with every request to placematch, so an API that honoured it
could be driven by any page the browser shows. Each rule in a pair: refused with the cookie,
accepted with the token. The one API route about the cookie itself, ``DELETE /auth/session``,
still ends the pages' session."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from signin import PASSWORD, sign_in, username

from api.deps import SESSION_COOKIE
from models.enums import Role

SCENARIO = {"name": "UASC doubled", "adjustments": ["uasc_entries*2"]}
SAME_SITE = {"origin": "http://testserver"}  # as a page of placematch's would send it


def with_page_cookie(client: TestClient, role: Role) -> TestClient:
    """The client signed in through the sign-in page: it holds the session cookie, no token."""
    signed_in = client.post("/sign-in", data={"username": username(role), "password": PASSWORD, "next": "/"},
                            follow_redirects=False)
    assert signed_in.status_code == 303 and client.cookies.get(SESSION_COOKIE), signed_in.text
    return client


def token(client: TestClient, role: Role) -> dict[str, str]:
    """A bearer token, signed in for as a program does (without the pages' cookie)."""
    return sign_in(TestClient(client.app), role)


def assert_asks_for_a_bearer_token(answer) -> None:
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "bearer_token_required"
    assert "bearer token" in error["message"] and "POST /auth/token" in error["message"]


@pytest.mark.parametrize("path", ["/referrals", "/match-runs", "/auth/me", "/audit-events/export.csv"])
def test_a_read_with_only_the_page_cookie_is_refused_and_with_the_token_answered(client, path):
    with_page_cookie(client, Role.head_of_service)
    assert_asks_for_a_bearer_token(client.get(path, headers={"accept": "application/json"}))
    answered = client.get(path, headers={"accept": "application/json", **token(client, Role.head_of_service)})
    assert answered.status_code == 200, answered.text


def test_a_change_with_only_the_page_cookie_is_refused_and_with_the_token_made(client):
    with_page_cookie(client, Role.commissioner)
    assert_asks_for_a_bearer_token(client.put("/forecast-scenarios", json=SCENARIO, headers=SAME_SITE))
    bearer = token(client, Role.commissioner)
    assert client.get("/forecast-scenarios", headers=bearer).json() == []  # nothing was saved
    saved = client.put("/forecast-scenarios", json=SCENARIO, headers={**SAME_SITE, **bearer})
    assert saved.status_code == 200, saved.text
    assert [s["name"] for s in client.get("/forecast-scenarios", headers=bearer).json()] == ["UASC doubled"]


def test_without_cookie_or_token_the_api_asks_for_sign_in_as_before(client):
    client.cookies.clear()
    answer = client.get("/referrals")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_signed_in"


def test_the_pages_session_is_still_ended_with_its_cookie(client):
    with_page_cookie(client, Role.director)
    assert client.get("/", headers={"accept": "text/html"}).status_code == 200  # the pages take the cookie
    value = client.cookies.get(SESSION_COOKIE)
    ended = client.delete("/auth/session", headers=SAME_SITE)
    assert ended.status_code == 204, ended.text
    assert not client.cookies.get(SESSION_COOKIE)  # cleared
    client.cookies.set(SESSION_COOKIE, value)  # and revoked: kept, it opens nothing
    again = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")
