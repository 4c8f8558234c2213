"""The panel's decisions on a match run of the demo council: accept, reject, override, lock, ban.

Proposals are found by what they are (looked after and out of area, at a distance...) in a run
of the demo queue, never by id, and expected approvals are read from the approval policy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from api import panel_decisions, panel_memory
from matching import checker
from matching.approvals import (
    DEFAULT_APPROVALS_FILE,
    ApprovalPolicy,
    load_approval_policy,
)
from matching.instance import from_database
from matching.policy import Policy
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import (
    ApprovalRule,
    DecisionKind,
    ReferralStatus,
    Role,
    Tier,
)
from models.panel import ApprovalRequest, Decision, ProposedMatch
from models.people import Placement, Referral
from models.supply import Vacancy
from providers.demo import DEMO_AUTHORITY

PANEL_DAY = dt.date(2026, 11, 23)
POLICY = load_approval_policy(DEFAULT_APPROVALS_FILE)  # the council's policy the service applies
REASON = {"reason": "Best fit the panel could find; the young person agrees."}


@pytest.fixture
def run_id(demo_engine, demo_run_file) -> int:
    """A succeeded run of the demo queue, recorded as the CLI records one (demo_council.demo_run_file:
    solved once a session, and demo_engine is a copy holding it)."""
    return demo_run_file[1]


# --- helpers ---------------------------------------------------------------------------------------


def proposals(engine, run_id: int, rank: int | None = 0) -> list[dict]:
    """The run's proposals (rank 0) or every option, with the young person's legal status."""
    with transaction(engine) as s:
        query = select(ProposedMatch, Referral).join(Referral, ProposedMatch.referral_id == Referral.id).where(
            ProposedMatch.match_run_id == run_id).order_by(ProposedMatch.id)
        if rank is not None:
            query = query.where(ProposedMatch.rank == rank)
        return [{"id": p.id, "rank": p.rank, "referral_id": p.referral_id, "vacancy_id": p.vacancy_id,
                 "property_id": p.property_id, "tier": p.tier, "weekly_cost": p.weekly_cost,
                 "out_of_area": p.out_of_area, "at_a_distance": p.at_a_distance,
                 "approvals_required": list(p.approvals_required), "looked_after": r.legal_status.is_looked_after}
                for p, r in s.execute(query)]


def accept(client, headers, run_id: int, proposal_id: int, body=REASON):
    return client.post(f"/match-runs/{run_id}/proposals/{proposal_id}/accept", json=body, headers=headers)


def counts(engine) -> dict[str, int]:
    with transaction(engine) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Placement, Decision, ApprovalRequest, AuditEvent)}


def requested(response) -> set[tuple[str, str]]:
    return {(r["rule"], r["role"]) for r in response.json()["approval_requests"]}


def beds(engine, vacancy_id: str) -> int:
    with transaction(engine) as s:
        return s.get(Vacancy, vacancy_id).beds


def referral_status(engine, referral_id: str) -> ReferralStatus:
    with transaction(engine) as s:
        return s.get(Referral, referral_id).status


# --- accept ----------------------------------------------------------------------------------------


def test_the_service_applies_the_shipped_approval_policy():
    assert panel_decisions.council_approval_policy() == POLICY == ApprovalPolicy()


def test_accept_without_a_reason_is_refused_and_writes_nothing(client, as_role, demo_engine, run_id):
    proposal = proposals(demo_engine, run_id)[0]
    headers = as_role(Role.panel_member)  # signing in is audited too: before counting
    before = counts(demo_engine)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = accept(client, headers, run_id, proposal["id"], body)
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["path"] == "body.reason"
    assert counts(demo_engine) == before


def test_only_the_panel_accepts(client, as_role, demo_engine, run_id):
    proposal = proposals(demo_engine, run_id)[0]
    assert accept(client, as_role(Role.commissioner), run_id, proposal["id"]).status_code == 403
    assert accept(client, as_role(Role.director), run_id, proposal["id"]).status_code == 403
    assert accept(client, as_role(Role.head_of_service), run_id, proposal["id"]).status_code == 201  # chairs it


def test_accepting_every_proposal_raises_the_approvals_the_policy_asks(client, as_role, demo_engine, run_id):
    """The engine listed each proposal's approvals with the same policy when it ran; accepting
    raises exactly those, and a placement needing none is active at once."""
    headers = as_role(Role.panel_member)
    for proposal in proposals(demo_engine, run_id):
        free = beds(demo_engine, proposal["vacancy_id"])
        response = accept(client, headers, run_id, proposal["id"])
        assert response.status_code == 201, response.text
        expected = {tuple(code.split(":")) for code in proposal["approvals_required"]}
        assert requested(response) == expected
        placement = response.json()["placement"]
        assert placement["status"] == ("awaiting_approval" if expected else "active")
        assert (placement["tier"], placement["weekly_cost"]) == (proposal["tier"].value, proposal["weekly_cost"])
        assert referral_status(demo_engine, proposal["referral_id"]) == (
            ReferralStatus.proposed if expected else ReferralStatus.placed)
        assert beds(demo_engine, proposal["vacancy_id"]) == free - 1
        assert all(r["status"] == "pending" and r["version"] == 1 for r in response.json()["approval_requests"])


def test_out_of_area_for_a_looked_after_young_person_goes_to_the_nominated_officer(
        client, as_role, demo_engine, run_id):
    proposal = next(p for p in proposals(demo_engine, run_id)
                    if p["looked_after"] and p["out_of_area"] and not p["at_a_distance"])
    response = accept(client, as_role(Role.panel_member), run_id, proposal["id"])
    assert POLICY.looked_after.out_of_area == Role.service_manager  # reg. 11: the nominated officer
    assert ("out_of_area", POLICY.looked_after.out_of_area.value) in requested(response)
    summary = next(r["case_summary"] for r in response.json()["approval_requests"] if r["rule"] == "out_of_area")
    assert "adjoining" in summary and "miles from home" in summary and REASON["reason"] in summary
    assert proposal["referral_id"] in summary  # the case is named by its id only
    with transaction(demo_engine) as s:
        referral = s.get(Referral, proposal["referral_id"])
        private = [referral.home_postcode, referral.date_of_birth.isoformat(), *referral.needs, *referral.risks_to_self]
    assert not [x for x in private if x and x in summary]


def test_at_a_distance_goes_to_whom_the_policy_names(client, as_role, demo_engine, run_id):
    """A looked-after young person at a distance needs the Director (the demo run offers such
    options among the alternatives); a care leaver at a distance needs the council's choice."""
    options = proposals(demo_engine, run_id, rank=None)
    looked_after = next(p for p in options if p["looked_after"] and p["at_a_distance"])
    care_leaver = next(p for p in options if not p["looked_after"] and p["at_a_distance"]
                       and p["referral_id"] != looked_after["referral_id"]
                       and p["vacancy_id"] != looked_after["vacancy_id"])  # not the bed the first one takes
    headers = as_role(Role.panel_member)
    first = accept(client, headers, run_id, looked_after["id"])
    assert POLICY.looked_after.at_a_distance == Role.director
    assert ("at_a_distance", Role.director.value) in requested(first)
    assert ("out_of_area", POLICY.looked_after.out_of_area.value) in requested(first)
    second = accept(client, headers, run_id, care_leaver["id"])
    assert ("at_a_distance", POLICY.care_leavers.at_a_distance.value) in requested(second)
    assert not any(rule == "out_of_area" for rule, _ in requested(second))  # reg. 11 is for looked-after only


def test_the_support_plan_steps_down_when_the_referral_expects_it(client, as_role, demo_engine, run_id):
    with transaction(demo_engine) as s:
        for proposal in s.scalars(select(ProposedMatch).where(ProposedMatch.match_run_id == run_id)
                                  .order_by(ProposedMatch.rank, ProposedMatch.id)):
            referral, vacancy = s.get(Referral, proposal.referral_id), s.get(Vacancy, proposal.vacancy_id)
            if not referral.step_down_weeks or referral.tier == Tier.standard:
                continue
            lower_need = [t for t in Tier if t.rank == referral.tier.rank - 1][0]
            lower = next(t for t in vacancy.property.tiers if t.covers(lower_need))
            if lower.rank < proposal.tier.rank:
                start = max(PANEL_DAY, vacancy.available_from)
                expected_steps = [
                    (start.isoformat(), proposal.tier.value, vacancy.property.price_for(proposal.tier)),
                    ((start + dt.timedelta(weeks=referral.step_down_weeks)).isoformat(), lower.value,
                     vacancy.property.price_for(lower)),
                ]
                end = (start + dt.timedelta(weeks=referral.duration_weeks)).isoformat()
                break
        else:
            pytest.fail("no option in the demo run whose home offers the step down")
    response = accept(client, as_role(Role.panel_member), run_id, proposal.id)
    placement = response.json()["placement"]
    assert [(x["starts_on"], x["tier"], x["weekly_cost"]) for x in placement["support_plan"]] == expected_steps
    assert placement["starts_on"] == expected_steps[0][0] and placement["planned_end_on"] == end
    assert "step down" in placement["support_plan"][1]["note"]


def test_a_vacancy_without_a_free_bed_is_refused(client, as_role, demo_engine, run_id):
    options = proposals(demo_engine, run_id, rank=None)
    vacancy = next(v for v in sorted({p["vacancy_id"] for p in options})
                   if len({p["referral_id"] for p in options if p["vacancy_id"] == v}) >= 2)
    first, second = [next(p for p in options if p["vacancy_id"] == vacancy and p["referral_id"] == r)
                     for r in sorted({p["referral_id"] for p in options if p["vacancy_id"] == vacancy})[:2]]
    with transaction(demo_engine) as s:
        s.get(Vacancy, vacancy).beds = 1
    headers = as_role(Role.panel_member)
    assert accept(client, headers, run_id, first["id"]).status_code == 201
    before = counts(demo_engine)
    refused = accept(client, headers, run_id, second["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_free_bed"
    assert counts(demo_engine) == before and beds(demo_engine, vacancy) == 0
    assert referral_status(demo_engine, second["referral_id"]) == ReferralStatus.open


def test_a_young_person_with_a_live_placement_is_not_placed_again(client, as_role, demo_engine, run_id):
    options = proposals(demo_engine, run_id, rank=None)
    proposal = next(p for p in options if p["rank"] == 0 and any(
        a["referral_id"] == p["referral_id"] and a["rank"] > 0 for a in options))
    alternative = next(a for a in options if a["referral_id"] == proposal["referral_id"] and a["rank"] > 0)
    headers = as_role(Role.panel_member)
    assert accept(client, headers, run_id, proposal["id"]).status_code == 201
    refused = accept(client, headers, run_id, alternative["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "already_placed"


def test_unknown_run_or_proposal_is_not_found(client, as_role, demo_engine, run_id):
    proposal = proposals(demo_engine, run_id)[0]
    headers = as_role(Role.panel_member)
    assert accept(client, headers, run_id + 1, proposal["id"]).status_code == 404
    assert accept(client, headers, run_id, 10_000_000).status_code == 404


# --- reject ----------------------------------------------------------------------------------------


def test_reject_records_a_decision_and_the_proposal_cannot_then_be_accepted(client, as_role, demo_engine, run_id):
    proposal = proposals(demo_engine, run_id)[0]
    headers = as_role(Role.panel_member)
    assert client.post(f"/match-runs/{run_id}/proposals/{proposal['id']}/reject", json={},
                       headers=headers).status_code == 422
    rejected = client.post(f"/match-runs/{run_id}/proposals/{proposal['id']}/reject", json=REASON, headers=headers)
    assert rejected.status_code == 201
    assert rejected.json()["kind"] == "reject" and rejected.json()["proposed_match_id"] == proposal["id"]
    assert referral_status(demo_engine, proposal["referral_id"]) == ReferralStatus.open
    again = accept(client, headers, run_id, proposal["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"


# --- override --------------------------------------------------------------------------------------


def _rule_breaking_choice(engine) -> tuple[str, str, list[str]]:
    """The first open young person (not in a sibling group) and vacancy with a free bed and a
    price for their need that break at least one rule, and the rules, by the checker."""
    with transaction(engine) as s:
        instance = from_database(s, DEMO_AUTHORITY, PANEL_DAY)
        ids = set(s.scalars(select(Referral.id).where(Referral.sibling_group.is_(None))))
    referrals = {r["referral_id"]: r for r in instance.referrals.to_dict("records") if r["referral_id"] in ids}
    vacancies = {v["vacancy_id"]: v for v in instance.vacancies.to_dict("records")}
    for rid in sorted(referrals):
        for vid in sorted(vacancies):
            facts = checker.derive(instance, Policy(), referrals[rid], vacancies[vid])
            if facts["tier"] is not None and facts["faults"]:
                return rid, vid, [v.code for v in checker.check([(rid, vid)], instance, Policy())]
    raise AssertionError("the demo has no rule-breaking choice")


def test_an_override_that_breaks_rules_lists_them_and_writes_nothing_until_confirmed(
        client, as_role, demo_engine, run_id):
    referral_id, vacancy_id, rules = _rule_breaking_choice(demo_engine)
    body = {"referral_id": referral_id, "vacancy_id": vacancy_id, **REASON}
    headers = as_role(Role.panel_member)
    before = counts(demo_engine)
    refused = client.post(f"/match-runs/{run_id}/override", json=body, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rules_broken"
    assert [f["path"] for f in refused.json()["error"]["fields"]] == [f"rule:{r}" for r in rules]
    assert counts(demo_engine) == before

    placed = client.post(f"/match-runs/{run_id}/override", json={**body, "confirm": True}, headers=headers)
    assert placed.status_code == 201, placed.text
    assert [b["code"] for b in placed.json()["broken_rules"]] == rules
    decision = placed.json()["decision"]
    # the decision keeps each rule knowingly broken, in the words the pages use (models.glossary)
    broken_words = [b["words"] for b in placed.json()["broken_rules"]]
    assert decision["kind"] == "override" and all(w in decision["reason"] for w in broken_words)
    assert not any(r in decision["reason"] for r in rules if "_" in r)
    # Breaking a hard rule is never placed on the panel's word alone: the head of service approves.
    assert placed.json()["placement"]["status"] == "awaiting_approval"
    assert ("rules_broken", "head_of_service") in requested(placed)
    with transaction(demo_engine) as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "decision_override",
                                                  AuditEvent.entity_id == str(decision["id"])))
        assert event.after["broken_rules"] == rules
        summaries = s.scalars(select(ApprovalRequest.case_summary).where(
            ApprovalRequest.placement_id == placed.json()["placement"]["id"])).all()
    assert all("knowingly broke" in text for text in summaries)


def test_an_override_within_the_rules_needs_no_confirmation(client, as_role, demo_engine, run_id):
    proposal = proposals(demo_engine, run_id)[0]
    body = {"referral_id": proposal["referral_id"], "vacancy_id": proposal["vacancy_id"], **REASON}
    placed = client.post(f"/match-runs/{run_id}/override", json=body, headers=as_role(Role.panel_member))
    assert placed.status_code == 201, placed.text
    assert placed.json()["broken_rules"] == []
    assert requested(placed) == {tuple(c.split(":")) for c in proposal["approvals_required"]}


def test_a_council_may_let_rule_breaking_overrides_stand_without_approval(demo_engine, run_id, tmp_path, monkeypatch):
    """The approvals policy decides (``rules_broken: null``); the default asks the head of service."""
    from matching.approvals import ApprovalPolicy
    from models.accounts import User

    referral_id, vacancy_id, _ = _rule_breaking_choice(demo_engine)
    with transaction(demo_engine) as s:
        user = s.scalar(select(User).where(User.role == Role.panel_member))
        placed = panel_decisions.override(s, user, run_id, referral_id, vacancy_id, "The family's wish", True,
                                   ApprovalPolicy(rules_broken=None))
        assert ApprovalRule.rules_broken not in {r.rule for r in placed.requests}


def test_override_names_unknown_ids(client, as_role, run_id):
    body = {"referral_id": "NOBODY", "vacancy_id": "V0001", **REASON}
    refused = client.post(f"/match-runs/{run_id}/override", json=body, headers=as_role(Role.panel_member))
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["path"] == "body.referral_id"


# --- locks and bans --------------------------------------------------------------------------------


def test_locks_and_bans_are_recorded_for_the_next_run(client, as_role, demo_engine, run_id):
    first, second = proposals(demo_engine, run_id)[:2]
    headers = as_role(Role.panel_member)
    pair = {"referral_id": first["referral_id"], "vacancy_id": first["vacancy_id"], **REASON}
    other = {"referral_id": first["referral_id"], "vacancy_id": second["vacancy_id"], **REASON}
    assert client.post(f"/match-runs/{run_id}/locks", json=pair, headers=as_role(Role.service_manager)).status_code == 403
    assert client.post(f"/match-runs/{run_id}/locks", json={**pair, "reason": ""}, headers=headers).status_code == 422
    assert client.post(f"/match-runs/{run_id}/locks", json=pair, headers=headers).status_code == 201
    assert client.post(f"/match-runs/{run_id}/bans", json=pair, headers=headers).status_code == 409  # locked
    assert client.post(f"/match-runs/{run_id}/locks", json=other, headers=headers).status_code == 409  # one lock each
    assert client.post(f"/match-runs/{run_id}/bans", json=other, headers=headers).status_code == 201
    unknown = client.post(f"/match-runs/{run_id}/bans", json={**other, "vacancy_id": "NOWHERE"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["fields"][0]["path"] == "body.vacancy_id"

    listed = client.get(f"/match-runs/{run_id}/decisions", headers=as_role(Role.director))
    assert [(d["kind"], d["vacancy_id"]) for d in listed.json()["items"]] == [
        ("lock", first["vacancy_id"]), ("ban", second["vacancy_id"])]
    bans = client.get(f"/match-runs/{run_id}/decisions", params={"kind": "ban"}, headers=headers)
    assert bans.json()["total"] == 1
    assert client.get(f"/match-runs/{run_id}/decisions", headers=as_role(Role.commissioner)).status_code == 403
    with transaction(demo_engine) as s:
        assert panel_memory.next_run_locks_and_bans(s, run_id) == (
            [(first["referral_id"], first["vacancy_id"])], [(first["referral_id"], second["vacancy_id"])])


# --- the audit trail -------------------------------------------------------------------------------


def test_every_decision_writes_an_audit_event_with_before_and_after(client, as_role, demo_engine, run_id):
    first, second, third = proposals(demo_engine, run_id)[:3]
    headers = as_role(Role.panel_member)
    made = [
        accept(client, headers, run_id, first["id"]).json()["decision"],
        client.post(f"/match-runs/{run_id}/proposals/{second['id']}/reject", json=REASON, headers=headers).json(),
        client.post(f"/match-runs/{run_id}/override", headers=headers, json={
            "referral_id": third["referral_id"], "vacancy_id": third["vacancy_id"], **REASON}).json()["decision"],
        # Not the pair just rejected: that one is banned for the next run until the panel lifts it.
        client.post(f"/match-runs/{run_id}/locks", headers=headers, json={
            "referral_id": second["referral_id"], "vacancy_id": third["vacancy_id"], **REASON}).json(),
        client.post(f"/match-runs/{run_id}/bans", headers=headers, json={
            "referral_id": second["referral_id"], "vacancy_id": first["vacancy_id"], **REASON}).json(),
    ]
    assert [d["kind"] for d in made] == [k.value for k in (DecisionKind.accept, DecisionKind.reject,
                                                           DecisionKind.override, DecisionKind.lock, DecisionKind.ban)]
    events = client.get("/audit-events", params={"entity_type": "decision", "limit": 500},
                        headers=as_role(Role.admin)).json()["items"]
    by_id = {e["entity_id"]: e for e in events}
    for decision in made:
        event = by_id[str(decision["id"])]
        assert event["action"] == f"decision_{decision['kind']}" and event["actor"] == "panel.member"
        assert event["before"] is not None and event["after"]["reason"] == decision["reason"]
    accepted = by_id[str(made[0]["id"])]
    assert accepted["before"]["referral_status"] == "open"
    assert accepted["after"]["vacancy_beds"] == accepted["before"]["vacancy_beds"] - 1
    placements = client.get("/audit-events", params={"entity_type": "placement", "action": "placement_created"},
                            headers=as_role(Role.admin)).json()["items"]
    assert str(accepted["after"]["placement_id"]) in {e["entity_id"] for e in placements}
