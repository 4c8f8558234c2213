"""Demo users for the service tests: one per role, all with the same password."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.routes.users import create_user
from models.db import transaction
from models.enums import Role

PASSWORD = "correct horse battery staple"


def username(role: Role) -> str:
    return role.value.replace("_", ".")


def add_users(engine) -> None:
    with transaction(engine) as session:
        for role in Role:
            create_user(session, username(role), role.value.replace("_", " ").title(), role, PASSWORD)


def sign_in(client: TestClient, role: Role) -> dict[str, str]:
    """Headers for a request as the demo user with this role."""
    response = client.post("/auth/token", data={"username": username(role), "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
