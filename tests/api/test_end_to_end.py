"""One council's week through HTTP only, on SQLite and PostgreSQL: the panel uploads its
referrals (the demo's open referrals exported, one field changed), submits a match run that a
worker process solves on the same database, accepts a proposal needing approval (the requests
raised are the ones the council's approval policy asks, worked out here from what the API
shows), a wrong role is refused and the right managers approve, so the placement is active;
another accepted proposal is rejected by its manager and the young person goes back to the
queue; and an Ofsted grade change flags the placement at that provider for review.

Only the setup (the demo council and its users) and the export of the referrals file go
around the service, as a council's records system would."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api import panel_decisions
from api.app import create_app
from api.deps import MANAGERS
from api.routes import grades
from conftest import DEMO_DAY
from matching.approvals import approvals_required
from models.db import transaction
from models.enums import Role
from providers.demo import DEMO_AUTHORITY, build_demo
from providers.interchange import export_dir
from signin import add_users, sign_in
from test_match_jobs import submit, wait_until_finished

REVIEW_WITHIN = dt.timedelta(days=7)


@pytest.fixture
def service(engine):
    """The service on a database holding the demo council (SQLite, then PostgreSQL)."""
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=DEMO_DAY)
    add_users(engine)
    with TestClient(create_app(engine)) as c:
        c.app.dependency_overrides[grades.today] = lambda: DEMO_DAY
        yield c


def changed_referrals_file(engine, directory) -> tuple[bytes, str, int]:
    """The open referrals as exported, with one young person's urgency raised to today: the
    file, that referral's id and the number of rows."""
    path = export_dir(engine, directory)["referrals"]
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    changed = next(r for r in rows if r["urgency"] != "today")
    changed["urgency"] = "today"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8"), changed["id"], len(rows)


def expected_approvals(client, headers, proposal: dict) -> set[str]:
    """The ``rule:role`` approvals the council's policy asks for this proposal, from the young
    person, the home and the proposal as the API shows them."""
    referral = client.get(f"/referrals/{proposal['referral_id']}", headers=headers).json()
    home = client.get(f"/properties/{proposal['property_id']}", headers=headers).json()
    frame = pd.DataFrame([{
        "legal_status": referral["legal_status"], "out_of_area": proposal["out_of_area"],
        "at_a_distance": proposal["at_a_distance"], "miles_from_home": proposal["miles_from_home"],
        "ofsted_registered": home["ofsted_registered"], "emergency": home["service_type"] == "emergency",
        "tier": proposal["tier"], "weekly_cost": proposal["weekly_cost"],
    }])
    return set(approvals_required(frame, panel_decisions.council_approval_policy()).iloc[0])


def codes(requests: list[dict]) -> set[str]:
    return {f"{r['rule']}:{r['role']}" for r in requests}


def test_upload_match_accept_approve_reject_and_regrade(service, engine, tmp_path):
    client = service
    panel, commissioner = sign_in(client, Role.panel_member), sign_in(client, Role.commissioner)
    managers = {role: sign_in(client, role) for role in MANAGERS}

    # 1. The panel uploads the referrals file: every row updated, the change visible.
    data, changed_id, rows = changed_referrals_file(engine, tmp_path / "export")
    assert client.get(f"/referrals/{changed_id}", headers=panel).json()["urgency"] != "today"
    uploaded = client.post("/referrals/upload", files={"file": ("referrals.csv", data, "text/csv")},
                           headers=sign_in(client, Role.commissioner))
    assert uploaded.status_code == 403  # commissioners do not handle young people's cases
    uploaded = client.post("/referrals/upload", files={"file": ("referrals.csv", data, "text/csv")}, headers=panel)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() | {"details": {}} == {"file": "referrals.csv", "entity": "referrals", "rows": rows,
                                                  "created": 0, "updated": rows, "details": {}}
    referral = client.get(f"/referrals/{changed_id}", headers=panel).json()
    assert (referral["urgency"], referral["status"]) == ("today", "open")

    # 2. A match run, solved by a worker process on this database.
    queued = submit(client, panel)
    assert queued.status_code == 202, queued.text
    assert queued.json()["placing_authority"] == DEMO_AUTHORITY
    run = wait_until_finished(client, panel, queued.json()["id"], timeout=120)
    assert run["status"] == "succeeded", run["error"]
    assert run["referral_count"] == rows and run["proposals"]
    needing = sorted((p for p in run["proposals"] if p["approvals_required"]),
                     key=lambda p: (-len(p["approvals_required"]), p["id"]))
    assert len(needing) >= 2, "the demo run should have two proposals needing approval"
    first, second = needing[0], next(p for p in needing[1:] if p["referral_id"] != needing[0]["referral_id"])

    # 3. Accept the proposal needing the most approvals: the requests are the policy's.
    accepted = client.post(f"/match-runs/{run['id']}/proposals/{first['id']}/accept",
                           json={"reason": "Best fit the panel could find; the young person agrees."}, headers=panel)
    assert accepted.status_code == 201, accepted.text
    placement, requests = accepted.json()["placement"], accepted.json()["approval_requests"]
    expected = expected_approvals(client, panel, first)
    assert expected and codes(requests) == expected == set(first["approvals_required"])
    assert placement["status"] == "awaiting_approval"
    assert client.get(f"/referrals/{first['referral_id']}", headers=panel).json()["status"] == "proposed"

    # 4. Each request: every other manager refused, then its own role approves.
    for i, request in enumerate(requests):
        body = {"reason": "Read the case summary and the plan; agreed.", "version": request["version"]}
        for role in [Role.panel_member, Role.commissioner, *(m for m in MANAGERS if m.value != request["role"])]:
            refused = client.post(f"/approvals/{request['id']}/approve", json=body,
                                  headers=managers.get(role) or sign_in(client, role))
            assert refused.status_code == 403, (role, refused.text)
        assert client.get(f"/approvals/{request['id']}", headers=panel).json()["request"]["status"] == "pending"
        approved = client.post(f"/approvals/{request['id']}/approve", json=body,
                               headers=managers[Role(request["role"])])
        assert approved.status_code == 200, approved.text
        assert approved.json()["placement"]["status"] == ("active" if i == len(requests) - 1 else "awaiting_approval")
    active = client.get(f"/placements/{placement['id']}", headers=panel).json()
    assert active["status"] == "active" and active["review_due_on"] is None
    assert client.get(f"/referrals/{first['referral_id']}", headers=panel).json()["status"] == "placed"

    # 5. Another accepted proposal, rejected by its manager: back to the panel's queue.
    beds = client.get(f"/vacancies/{second['vacancy_id']}", headers=panel).json()["beds"]
    accepted = client.post(f"/match-runs/{run['id']}/proposals/{second['id']}/accept",
                           json={"reason": "Closest home with the support needed."}, headers=panel)
    assert accepted.status_code == 201, accepted.text
    turned_down = accepted.json()["placement"]
    request, *others = accepted.json()["approval_requests"]
    assert codes([request, *others]) == expected_approvals(client, panel, second)
    rejected = client.post(f"/approvals/{request['id']}/reject", headers=managers[Role(request["role"])],
                           json={"reason": "Too far from the young person's college.", "version": request["version"]})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["placement"]["status"] == "rejected"
    assert {r["id"] for r in rejected.json()["closed_requests"]} == {r["id"] for r in others}
    assert client.get(f"/placements/{turned_down['id']}", headers=panel).json()["status"] == "rejected"
    assert client.get(f"/referrals/{second['referral_id']}", headers=panel).json()["status"] == "open"
    assert client.get(f"/vacancies/{second['vacancy_id']}", headers=panel).json()["beds"] == beds  # bed freed
    queue = client.get("/referrals", params={"status": "open", "limit": 500}, headers=panel).json()
    assert second["referral_id"] in {r["id"] for r in queue["items"]}

    # 6. The provider of the active placement is regraded: its placements are due a review.
    provider_id = client.get(f"/properties/{first['property_id']}", headers=panel).json()["provider_id"]
    grade = client.get(f"/providers/{provider_id}", headers=commissioner).json()["ofsted_grade"]
    new_grade = "requires_improvement" if grade == "inadequate" else "inadequate"
    body = {"ofsted_grade": new_grade, "reason": "Inspection report published this week."}
    assert client.post(f"/providers/{provider_id}/grade", json=body, headers=panel).status_code == 403
    regraded = client.post(f"/providers/{provider_id}/grade", json=body, headers=commissioner)
    assert regraded.status_code == 200, regraded.text
    due = DEMO_DAY + REVIEW_WITHIN
    assert regraded.json()["review_due_on"] == due.isoformat()
    assert placement["id"] in regraded.json()["flagged_placement_ids"]
    assert turned_down["id"] not in regraded.json()["flagged_placement_ids"]  # a rejected placement is not live
    flagged = client.get(f"/placements/{placement['id']}", headers=panel).json()
    assert flagged["review_due_on"] == due.isoformat() and flagged["status"] == "active"
    assert provider_id in flagged["review_reason"] and new_grade.replace("_", " ") in flagged["review_reason"]
    assert client.get(f"/providers/{provider_id}", headers=commissioner).json()["ofsted_grade"] == new_grade
    assert client.get(f"/placements/{turned_down['id']}", headers=panel).json()["review_due_on"] is None
