"""Signing in, roles on routes, the error shape, and the audit log's export."""

from __future__ import annotations

import csv
import io

from models.enums import Role
from signin import PASSWORD, username


def test_sign_in_gives_a_token_that_identifies_the_user(client):
    response = client.post("/auth/token", data={"username": "panel.member", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["access_token"]
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "panel_member"


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    wrong = client.post("/auth/token", data={"username": "panel.member", "password": "not the password"})
    unknown = client.post("/auth/token", data={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "not_signed_in"


def test_no_token_is_refused_with_the_error_shape(client):
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"status", "code", "message", "fields"}


def test_signed_out_token_no_longer_works(client, as_role):
    headers = as_role(Role.director)
    assert client.post("/auth/sign-out", headers=headers).status_code == 204
    assert client.get("/auth/me", headers=headers).status_code == 401


def test_passwords_are_stored_as_argon2_hashes(demo_engine):
    from sqlalchemy import select

    from models.accounts import User
    from models.db import transaction

    with transaction(demo_engine) as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_only_admins_manage_users(client, as_role):
    new = {"username": "j.doe", "full_name": "J Doe", "role": "panel_member", "password": "a long enough passphrase"}
    refused = client.post("/users", json=new, headers=as_role(Role.panel_member))
    assert refused.status_code == 403
    created = client.post("/users", json=new, headers=as_role(Role.admin))
    assert created.status_code == 201
    assert "password" not in created.text and "hash" not in created.text
    again = client.post("/users", json=new, headers=as_role(Role.admin))
    assert again.status_code == 409


def test_invalid_input_names_the_field(client, as_role):
    bad = {"username": "x y", "full_name": "", "role": "wizard", "password": "short"}
    response = client.post("/users", json=bad, headers=as_role(Role.admin))
    assert response.status_code == 422
    paths = {f["path"] for f in response.json()["error"]["fields"]}
    assert {"body.username", "body.full_name", "body.role", "body.password"} <= paths


def test_audit_log_is_for_admins_and_heads_of_service_and_exports(client, as_role):
    as_role(Role.panel_member)  # a sign-in is itself audited
    assert client.get("/audit-events", headers=as_role(Role.panel_member)).status_code == 403
    listed = client.get("/audit-events", params={"action": "sign_in"}, headers=as_role(Role.admin))
    assert listed.status_code == 200
    assert {e["actor"] for e in listed.json()["items"]} >= {username(Role.panel_member), username(Role.admin)}
    exported = client.get("/audit-events/export.csv", headers=as_role(Role.head_of_service))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.status_code == 200 and rows and set(rows[0]) >= {"actor", "action", "before", "after"}


def test_openapi_documents_the_error_shape(client):
    schema = client.get("/openapi.json").json()
    assert "ErrorBody" in schema["components"]["schemas"]


def test_every_route_but_sign_in_checks_a_role_and_documents_it(client):
    schema = client.get("/openapi.json").json()
    open_routes = {("/auth/token", "post"), ("/auth/session", "post")}
    unchecked = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if (path, method) not in open_routes and "Roles:" not in operation.get("description", ""):
                if path not in ("/auth/me", "/auth/sign-out", "/auth/session"):  # any signed-in user
                    unchecked.append(f"{method.upper()} {path}")
    assert unchecked == []


def test_pages_sign_in_with_an_http_only_session_cookie_and_sign_out_revokes_it(client):
    started = client.post("/auth/session", data={"username": "director", "password": PASSWORD})
    assert started.status_code == 200
    cookie = started.headers["set-cookie"]
    assert "placematch_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    # The client keeps the cookie, and the pages take it (the API takes bearer tokens only).
    assert client.get("/", headers={"accept": "text/html"}).status_code == 200
    value = client.cookies.get("placematch_session")
    assert client.delete("/auth/session", headers={"origin": "http://testserver"}).status_code == 204
    client.cookies.clear()
    client.cookies.set("placematch_session", value)
    signed_out = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert signed_out.headers["location"].startswith("/sign-in")  # revoked, not just forgotten
    client.cookies.clear()
    refused = client.post("/auth/session", data={"username": "director", "password": "wrong password here"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
