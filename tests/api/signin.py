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
    """One user a role; the provider's staff member works where the demo's does (none without that
    provider)."""
    from models.supply import Provider
    from providers.demo import DEMO_PROVIDER_STAFF_OF

    with transaction(engine) as session:
        first = DEMO_PROVIDER_STAFF_OF if session.get(Provider, DEMO_PROVIDER_STAFF_OF) else None
        for role in Role:
            if role == Role.provider and first is None:
                continue
            create_user(session, username(role), role.value.replace("_", " ").title(), role, PASSWORD,
                        provider_id=first if role == Role.provider else None)


def sign_in(client: TestClient, role: Role) -> dict[str, str]:
    """Headers for a request as the demo user with this role."""
    response = client.post("/auth/token", data={"username": username(role), "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
