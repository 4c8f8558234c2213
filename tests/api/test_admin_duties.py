"""Separation of duties for admins: no admin changes their own role (another admin must), and the
last active admin is never demoted or deactivated, each refusal in plain words. On SQLite and
PostgreSQL: the last-admin check locks the admins it counts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.enums import Role
from signin import PASSWORD, add_users, username


@pytest.fixture
def service(engine):
    add_users(engine)  # one admin among them
    with TestClient(create_app(engine)) as client:
        yield client


def signed_in(client, name: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/token", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def me_as_admin(client, headers) -> dict:
    name = client.get("/auth/me", headers=headers).json()["username"]
    return next(u for u in client.get("/users", params={"limit": 100}, headers=headers).json()["items"]
                if u["username"] == name)


def test_an_admin_cannot_change_their_own_role(service):
    admin = signed_in(service, username(Role.admin))
    me = me_as_admin(service, admin)
    for role in ("head_of_service", "director", "panel_member"):
        refused = service.patch(f"/users/{me['id']}", json={"role": role}, headers=admin)
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == "You cannot change your own role: another admin must do it."
    assert service.get("/auth/me", headers=admin).json()["role"] == "admin"
    # Their own name is theirs to change, and restating their role changes nothing.
    assert service.patch(f"/users/{me['id']}", json={"full_name": "Ada Admin", "role": "admin"},
                         headers=admin).status_code == 200


def test_another_admin_may_change_an_admins_role(service):
    # Another admin may change an admin's role: that is the second pair of eyes.
    admin = signed_in(service, username(Role.admin))
    second = service.post("/users", json={"username": "second.admin", "full_name": "Second Admin", "role": "admin",
                                          "password": "another long passphrase"}, headers=admin)
    assert second.status_code == 201
    other = signed_in(service, "second.admin", "another long passphrase")
    me = me_as_admin(service, admin)
    moved = service.patch(f"/users/{me['id']}", json={"role": "head_of_service"}, headers=other)
    assert moved.status_code == 200 and moved.json()["role"] == "head_of_service"


def test_the_last_admin_cannot_be_deactivated_or_demoted(service):
    admin = signed_in(service, username(Role.admin))
    me = me_as_admin(service, admin)
    refused = service.patch(f"/users/{me['id']}", json={"active": False}, headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "admin is the last active admin and cannot be deactivated: make someone else an admin first.")
    # With a second admin, the first may step down; then the second is the last and is kept.
    service.post("/users", json={"username": "second.admin", "full_name": "Second Admin", "role": "admin",
                                 "password": "another long passphrase"}, headers=admin)
    other = signed_in(service, "second.admin", "another long passphrase")
    second_id = me_as_admin(service, other)["id"]
    assert service.patch(f"/users/{me['id']}", json={"active": False}, headers=admin).status_code == 200
    kept = service.patch(f"/users/{second_id}", json={"active": False}, headers=other)
    assert kept.status_code == 409 and "last active admin" in kept.json()["error"]["message"]
    assert service.patch(f"/users/{second_id}", json={"role": "director"}, headers=other).status_code == 403
    listed = service.get("/users", params={"role": "admin", "active": True}, headers=other).json()["items"]
    assert [u["username"] for u in listed] == ["second.admin"]


def test_demoting_an_admin_while_another_remains_is_allowed(service):
    admin = signed_in(service, username(Role.admin))
    service.post("/users", json={"username": "second.admin", "full_name": "Second Admin", "role": "admin",
                                 "password": "another long passphrase"}, headers=admin)
    other = signed_in(service, "second.admin", "another long passphrase")
    second_id = me_as_admin(service, other)["id"]
    demoted = service.patch(f"/users/{second_id}", json={"role": "commissioner"}, headers=admin)
    assert demoted.status_code == 200
    assert service.get("/auth/me", headers=other).status_code == 401  # the role changed: their token ended
