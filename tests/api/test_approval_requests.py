"""Managers deciding approval requests, and Ofsted grade changes flagging placements for review.

Each placement comes from accepting a proposal of a demo run (found by the approvals it needs,
never by id); refused and allowed attempts come in pairs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from api import approval_decisions
from api.routes import grades
from matching.instance import from_database
from models.accounts import AuditEvent, User
from models.db import session_factory, transaction
from models.enums import ApprovalStatus, OfstedGrade, PlacementStatus, ReferralStatus, Role
from models.panel import ApprovalRequest
from models.people import Placement, Referral
from models.supply import Property, Provider, Vacancy
from providers.demo import DEMO_AUTHORITY
from test_decisions import PANEL_DAY, REASON, accept, proposals, run_id  # noqa: F401 (run_id is a fixture)

DECIDE = {"reason": "Checked the plan and the distance; agreed."}


def placed_needing(client, as_role, engine, run_id: int, at_least: int = 1, role: Role | None = None) -> dict:
    """Accept the first proposal needing at least this many approvals (one of them from
    ``role``) and return the response body."""
    proposal = next(p for p in proposals(engine, run_id) if len(p["approvals_required"]) >= at_least
                    and (role is None or any(c.endswith(f":{role.value}") for c in p["approvals_required"])))
    response = accept(client, as_role(Role.panel_member), run_id, proposal["id"])
    assert response.status_code == 201, response.text
    return response.json()


def decide(client, headers, request: dict, verb: str = "approve", version: int | None = None):
    body = {**DECIDE, "version": request["version"] if version is None else version}
    return client.post(f"/approvals/{request['id']}/{verb}", json=body, headers=headers)


def current(client, as_role, request_id: int) -> dict:
    return client.get(f"/approvals/{request_id}", headers=as_role(Role.panel_member)).json()


# --- who decides ---------------------------------------------------------------------------------


def test_only_the_requests_role_may_decide_it(client, as_role, demo_engine, run_id):
    placed = placed_needing(client, as_role, demo_engine, run_id, role=Role.service_manager)
    request = next(r for r in placed["approval_requests"] if r["role"] == Role.service_manager.value)
    for wrong in (Role.director, Role.head_of_service, Role.panel_member, Role.commissioner):
        refused = decide(client, as_role(wrong), request)
        assert refused.status_code == 403, wrong
    assert current(client, as_role, request["id"])["request"]["status"] == "pending"
    allowed = decide(client, as_role(Role.service_manager), request)
    assert allowed.status_code == 200, allowed.text
    decided = allowed.json()["request"]
    assert decided["status"] == "approved" and decided["reason"] == DECIDE["reason"] and decided["decided_at"]


def test_a_decision_needs_a_reason_and_a_version(client, as_role, demo_engine, run_id):
    placed = placed_needing(client, as_role, demo_engine, run_id, role=Role.service_manager)
    request = next(r for r in placed["approval_requests"] if r["role"] == Role.service_manager.value)
    headers = as_role(Role.service_manager)
    for body in ({"version": request["version"]}, {"reason": " ", "version": request["version"]}, DECIDE):
        assert client.post(f"/approvals/{request['id']}/approve", json=body, headers=headers).status_code == 422
    assert decide(client, headers, request).status_code == 200


def test_the_placement_is_active_only_when_every_request_is_approved(client, as_role, demo_engine, run_id):
    placed = placed_needing(client, as_role, demo_engine, run_id, at_least=2)
    requests = placed["approval_requests"]
    for i, request in enumerate(requests):
        response = decide(client, as_role(Role(request["role"])), request)
        assert response.status_code == 200, response.text
        last = i == len(requests) - 1
        assert response.json()["placement"]["status"] == ("active" if last else "awaiting_approval")
    with transaction(demo_engine) as s:
        assert s.get(Referral, placed["placement"]["referral_id"]).status == ReferralStatus.placed
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "placement_approved",
                                                 AuditEvent.entity_id == str(placed["placement"]["id"])))


def test_one_rejection_sends_the_placement_back_to_the_panel(client, as_role, demo_engine, run_id):
    placed = placed_needing(client, as_role, demo_engine, run_id, at_least=2)
    first, *others = placed["approval_requests"]
    vacancy_id = placed["placement"]["vacancy_id"]
    with transaction(demo_engine) as s:
        beds_taken = s.get(Vacancy, vacancy_id).beds
    response = decide(client, as_role(Role(first["role"])), first, verb="reject")
    assert response.status_code == 200, response.text
    assert response.json()["placement"]["status"] == "rejected"
    assert {r["id"] for r in response.json()["closed_requests"]} == {r["id"] for r in others}
    with transaction(demo_engine) as s:
        referral = s.get(Referral, placed["placement"]["referral_id"])
        assert referral.status == ReferralStatus.open
        assert s.get(Vacancy, vacancy_id).beds == beds_taken + 1  # the bed is free again
        for other in others:
            closed = s.get(ApprovalRequest, other["id"])
            assert closed.status == ApprovalStatus.rejected and closed.decided_by_id is None
            assert f"request {first['id']}" in closed.reason
        # Back in the panel's queue: the next run considers them again.
        queue = from_database(s, DEMO_AUTHORITY, PANEL_DAY)
    assert referral.id in set(queue.referrals["referral_id"])
    late = decide(client, as_role(Role(others[0]["role"])), current(client, as_role, others[0]["id"])["request"])
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_decided"


# --- two managers at once ------------------------------------------------------------------------


def test_a_stale_version_is_refused_and_the_request_left_unchanged(client, as_role, demo_engine, run_id):
    placed = placed_needing(client, as_role, demo_engine, run_id, role=Role.service_manager)
    request = next(r for r in placed["approval_requests"] if r["role"] == Role.service_manager.value)
    headers = as_role(Role.service_manager)
    stale = decide(client, headers, request, verb="reject", version=request["version"] + 1)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    assert current(client, as_role, request["id"])["request"] == request  # nothing changed
    assert decide(client, headers, request).status_code == 200  # the version read: allowed
    again = decide(client, headers, request, verb="reject")  # a second manager with the old version
    assert again.status_code == 409 and again.json()["error"]["code"] == "stale"
    after = current(client, as_role, request["id"])["request"]
    assert after["status"] == "approved" and after["version"] == request["version"] + 1


def test_two_managers_deciding_at_once_one_wins(client, as_role, demo_engine, run_id):
    """Both read version 1 and pass the version check; the ORM's version column makes the
    second write match no row, so the second transaction fails (409 stale in the service)."""
    placed = placed_needing(client, as_role, demo_engine, run_id, role=Role.service_manager)
    request_id = next(r["id"] for r in placed["approval_requests"] if r["role"] == Role.service_manager.value)
    sessions = session_factory(demo_engine)
    with sessions() as first, sessions() as second:
        manager = [s.scalar(select(User).where(User.role == Role.service_manager)) for s in (first, second)]
        read = [s.get(ApprovalRequest, request_id) for s in (first, second)]  # both read it before either decides
        assert [r.version for r in read] == [1, 1]
        approval_decisions.decide_approval(first, manager[0], request_id, approve=True, reason="approved first", version=1)
        first.commit()
        with pytest.raises(StaleDataError):
            approval_decisions.decide_approval(second, manager[1], request_id, approve=False, reason="rejected second",
                                     version=1)
        second.rollback()
    with transaction(demo_engine) as s:
        request = s.get(ApprovalRequest, request_id)
        assert (request.status, request.reason) == (ApprovalStatus.approved, "approved first")


# --- the queues ----------------------------------------------------------------------------------


def test_managers_see_their_own_queue_by_default(client, as_role, demo_engine, run_id):
    for proposal in proposals(demo_engine, run_id):
        if proposal["approvals_required"]:
            accept(client, as_role(Role.panel_member), run_id, proposal["id"])
    with transaction(demo_engine) as s:
        by_role = dict(s.execute(select(ApprovalRequest.role, func.count()).group_by(ApprovalRequest.role)).all())
    for role in (Role.service_manager, Role.director, Role.head_of_service):
        page = client.get("/approvals", params={"limit": 500}, headers=as_role(role)).json()
        assert {r["role"] for r in page["items"]} <= {role.value}
        assert page["total"] == by_role.get(role, 0)
    everyone = client.get("/approvals", params={"role": "any", "status": "any", "limit": 500},
                          headers=as_role(Role.director)).json()
    assert everyone["total"] == sum(by_role.values())
    assert client.get("/approvals", headers=as_role(Role.panel_member)).json()["total"] == sum(by_role.values())
    assert client.get("/approvals", headers=as_role(Role.commissioner)).status_code == 403
    assert client.get("/approvals", params={"status": "approved"}, headers=as_role(Role.director)).json()["total"] == 0


# --- Ofsted grade changes ------------------------------------------------------------------------


def test_a_grade_change_flags_the_young_people_placed_with_the_provider(client, as_role, demo_engine, run_id):
    with transaction(demo_engine) as s:  # the good or outstanding provider with the most young people placed
        provider_id = s.scalars(
            select(Property.provider_id).join(Placement, Placement.property_id == Property.id)
            .join(Provider, Property.provider_id == Provider.id)
            .where(Provider.ofsted_grade.in_([OfstedGrade.good, OfstedGrade.outstanding]))
            .group_by(Property.provider_id).order_by(func.count().desc(), Property.provider_id)).first()
    at_provider = [p for p in proposals(demo_engine, run_id) if p["approvals_required"]]
    with transaction(demo_engine) as s:  # a placement awaiting approval there is flagged too
        awaiting = next(p for p in at_provider if s.get(Property, p["property_id"]).provider_id == provider_id)
    awaiting_id = accept(client, as_role(Role.panel_member), run_id, awaiting["id"]).json()["placement"]["id"]
    client.app.dependency_overrides[grades.today] = lambda: PANEL_DAY
    body = {"ofsted_grade": "inadequate", "reason": "Inspection report published this week"}
    assert client.post(f"/providers/{provider_id}/grade", json=body, headers=as_role(Role.panel_member)).status_code == 403
    assert client.post(f"/providers/{provider_id}/grade", json={"ofsted_grade": "inadequate"},
                       headers=as_role(Role.commissioner)).status_code == 422
    with transaction(demo_engine) as s:
        old_grade = s.get(Provider, provider_id).ofsted_grade
    response = client.post(f"/providers/{provider_id}/grade", json=body, headers=as_role(Role.commissioner))
    assert response.status_code == 200, response.text
    due = PANEL_DAY + dt.timedelta(days=7)
    with transaction(demo_engine) as s:
        live = s.scalars(select(Placement.id).join(Property, Placement.property_id == Property.id).where(
            Property.provider_id == provider_id,
            Placement.status.in_([PlacementStatus.active, PlacementStatus.awaiting_approval]))).all()
        flagged = s.scalars(select(Placement).where(Placement.review_due_on.is_not(None))).all()
        assert s.get(Provider, provider_id).ofsted_grade.value == "inadequate"
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "ofsted_grade_changed"))
    assert awaiting_id in live and sorted(response.json()["flagged_placement_ids"]) == sorted(live)
    assert sorted(p.id for p in flagged) == sorted(live)  # nobody else
    assert all(p.review_due_on == due and "inadequate" in p.review_reason for p in flagged)
    assert response.json()["review_due_on"] == due.isoformat()
    assert event.before == {"ofsted_grade": old_grade.value}
    assert event.after["ofsted_grade"] == "inadequate" and event.after["flagged_placements"] == response.json()[
        "flagged_placement_ids"]
    same = client.post(f"/providers/{provider_id}/grade", json=body, headers=as_role(Role.commissioner))
    assert same.status_code == 409
    missing = client.post("/providers/NO-SUCH-PROVIDER/grade", json=body, headers=as_role(Role.commissioner))
    assert missing.status_code == 404
