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
