"""The panel-to-manager path through the service on both databases (SQLite and PostgreSQL):
accept a proposal that needs approval, a stale decision refused, the right manager approves,
the placement is active. The other service tests run on SQLite only, for speed; this one
proves the transactions and the version check hold on PostgreSQL too."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from conftest import DEMO_DAY
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.db import transaction
from models.enums import Role
from providers.demo import DEMO_AUTHORITY, build_demo
from signin import add_users, sign_in
from test_decisions import REASON, proposals


@pytest.fixture
def service(engine):
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=DEMO_DAY)
    add_users(engine)
    run = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                    policy=Policy(), approvals=ApprovalPolicy()).run_id
    with TestClient(create_app(engine)) as client:
        yield client, run


def test_accept_then_approve_makes_the_placement_active_and_a_stale_decision_is_refused(service, engine):
    client, run = service
    proposal = next(p for p in proposals(engine, run) if p["approvals_required"])
    accepted = client.post(f"/match-runs/{run}/proposals/{proposal['id']}/accept", json=REASON,
                           headers=sign_in(client, Role.panel_member))
    assert accepted.status_code == 201, accepted.text
    placement = accepted.json()["placement"]
    assert placement["status"] == "awaiting_approval"
    requests = accepted.json()["approval_requests"]
    for request in requests:
        headers = sign_in(client, Role(request["role"]))
        body = {"reason": "Agreed after reading the case.", "version": request["version"]}
        stale = client.post(f"/approvals/{request['id']}/approve", json={**body, "version": request["version"] + 1},
                            headers=headers)
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
        approved = client.post(f"/approvals/{request['id']}/approve", json=body, headers=headers)
        assert approved.status_code == 200, approved.text
        again = client.post(f"/approvals/{request['id']}/approve", json=body, headers=headers)
        assert again.status_code == 409  # decided already: the second manager is told
    final = client.get(f"/placements/{placement['id']}", headers=sign_in(client, Role.panel_member)).json()
    assert final["status"] == "active"
