"""The panel's memory across re-runs, on the demo council: a rejected proposal is banned in the
re-run until the panel lifts it; locks, bans and rejections carry along a chain of re-runs,
each with who set it and why; only the panel lifts.

The first run is recorded as the CLI records one (fast, in-process); re-runs go through
POST /match-runs with ``rerun_of`` and are solved by the real worker and solver."""

from __future__ import annotations

from sqlalchemy import func, select

from api import panel_memory
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import Role
from models.panel import MatchRun
from test_decisions import accept, proposals, run_id  # noqa: F401 (run_id is a fixture)
from test_match_jobs import submit, wait_until_finished

PANEL_MEMBER = "Panel Member"  # the demo panel member's name (signin.add_users)
REJECTED = "The provider could not meet her mental health needs"


def pair(item: dict) -> tuple[str, str]:
    return (item["referral_id"], item["vacancy_id"])


def body(item: dict, reason: str) -> dict:
    return {"referral_id": item["referral_id"], "vacancy_id": item["vacancy_id"], "reason": reason}


def reject(client, headers, run: int, proposal_id: int, reason: str = REJECTED):
    return client.post(f"/match-runs/{run}/proposals/{proposal_id}/reject", json={"reason": reason}, headers=headers)


def rerun(client, headers, of: int, **extra) -> dict:
    submitted = submit(client, headers, rerun_of=of, **extra)
    assert submitted.status_code == 202, submitted.text
    finished = wait_until_finished(client, headers, submitted.json()["id"])
    assert finished["status"] == "succeeded", finished.get("error")
    return finished


def offered(run: dict) -> set[tuple[str, str]]:
    """Every pair the run puts before the panel: its proposals and their alternatives."""
    return {pair(p) for p in run["proposals"] + run["alternatives"]}


def proposed(run: dict) -> set[tuple[str, str]]:
    return {pair(p) for p in run["proposals"]}


def carried_for(run: dict, item: tuple[str, str]) -> dict:
    [found] = [c for c in run["carried"] if pair(c) == item]
    return found


def runs_queued(engine) -> int:
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(MatchRun))


# --- a rejection is a ban in the next run, until lifted --------------------------------------------


def test_a_rejected_proposal_does_not_return_in_the_rerun_until_the_panel_lifts_it(
        client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    first = proposals(demo_engine, run_id)[0]
    assert reject(client, panel, run_id, first["id"]).status_code == 201

    second = rerun(client, panel, run_id)
    assert pair(first) not in offered(second)  # neither proposed nor offered as an alternative
    assert {"referral_id": first["referral_id"], "vacancy_id": first["vacancy_id"]} in second["bans"]
    rejection = carried_for(second, pair(first))
    assert (rejection["kind"], rejection["run_id"], rejection["set_by"], rejection["reason"]) == (
        "reject", run_id, PANEL_MEMBER, REJECTED)
    assert PANEL_MEMBER in rejection["words"] and REJECTED in rejection["words"]

    lifted = client.post(f"/match-runs/{second['id']}/lifts", headers=panel,
                         json=body(first, "Her psychiatrist now says the home can meet her needs"))
    assert lifted.status_code == 201, lifted.text
    assert lifted.json()["kind"] == "lift"

    third = rerun(client, panel, second["id"])
    # The same queue and beds as the first run, and nothing held: the engine's choice is back.
    assert pair(first) in proposed(third)
    assert not third["carried"]
    [lift] = third["lifted"]
    assert lift["set_by"] == PANEL_MEMBER and "psychiatrist" in lift["reason"]
    assert lift["lifted"]["kind"] == "reject" and lift["lifted"]["reason"] == REJECTED


def test_a_rerun_of_a_rerun_still_honours_the_first_runs_rejection_lock_and_ban(
        client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    rejected, banned, other = proposals(demo_engine, run_id)[:3]
    # Lock the third young person to an alternative the engine did not pick.
    alternative = next(a for a in proposals(demo_engine, run_id, rank=None)
                       if a["referral_id"] == other["referral_id"] and a["rank"] > 0
                       and a["vacancy_id"] not in (rejected["vacancy_id"], banned["vacancy_id"]))
    reasons = {"reject": REJECTED, "ban": "Risk from a resident there", "lock": "She asked to be near her sister"}
    assert reject(client, panel, run_id, rejected["id"]).status_code == 201
    assert client.post(f"/match-runs/{run_id}/bans", json=body(banned, reasons["ban"]), headers=panel).status_code == 201
    assert client.post(f"/match-runs/{run_id}/locks", json=body(alternative, reasons["lock"]),
                       headers=panel).status_code == 201

    # The second run adds a ban of its own in its request, with a reason, set by the head of service.
    extra = next(a for a in proposals(demo_engine, run_id, rank=None)
                 if a["referral_id"] not in {rejected["referral_id"], banned["referral_id"], other["referral_id"]})
    chair = as_role(Role.head_of_service)
    second = rerun(client, chair, run_id, bans=[body(extra, "The chair knows of a tenancy problem")])
    third = rerun(client, panel, second["id"])  # no decision on the second run

    assert third["rerun_of_id"] == second["id"]
    assert pair(rejected) not in offered(third) and pair(banned) not in offered(third)
    assert pair(extra) not in offered(third)
    assert pair(alternative) in proposed(third)
    for item, kind in ((rejected, "reject"), (banned, "ban"), (alternative, "lock")):
        held = carried_for(third, pair(item))
        assert (held["kind"], held["run_id"], held["set_by"], held["reason"]) == (
            kind, run_id, PANEL_MEMBER, reasons[kind])
        assert reasons[kind] in held["words"] and f"match run {run_id}" in held["words"]
    given = carried_for(third, pair(extra))
    assert (given["kind"], given["run_id"], given["set_by"], given["decision_id"]) == (
        "ban", second["id"], "Head Of Service", None)
    assert "tenancy problem" in given["words"]


# --- lifting: the panel's decision, with a reason, of something held --------------------------------


def test_only_the_panel_lifts_and_only_what_is_held(client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    first, second = proposals(demo_engine, run_id)[:2]
    assert reject(client, panel, run_id, first["id"]).status_code == 201
    lift = body(first, "The panel has new information")
    url = f"/match-runs/{run_id}/lifts"

    for role in (Role.service_manager, Role.director, Role.commissioner):
        assert client.post(url, json=lift, headers=as_role(role)).status_code == 403
    assert client.post(url, json={**lift, "reason": ""}, headers=panel).status_code == 422
    not_held = client.post(url, json=body(second, "Nothing was decided on this pair"), headers=panel)
    assert not_held.status_code == 409 and not_held.json()["error"]["code"] == "nothing_to_lift"
    with transaction(demo_engine) as s:
        assert panel_memory.next_run_locks_and_bans(s, run_id)[1] == [pair(first)]  # refusals changed nothing

    lifted = client.post(url, json=lift, headers=as_role(Role.head_of_service))  # the chair is on the panel
    assert lifted.status_code == 201, lifted.text
    assert client.post(url, json=lift, headers=panel).status_code == 409  # already lifted
    with transaction(demo_engine) as s:
        assert panel_memory.next_run_locks_and_bans(s, run_id) == ([], [])
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "decision_lift"))
        assert event.entity_id == str(lifted.json()["id"]) and event.actor == "head.of.service"
        assert event.before["held"]["kind"] == "reject" and event.before["held"]["reason"] == REJECTED
        assert event.after["reason"] == "The panel has new information"


def test_a_rejected_pair_is_locked_only_after_the_panel_lifts_the_rejection(
        client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    first = proposals(demo_engine, run_id)[0]
    assert reject(client, panel, run_id, first["id"]).status_code == 201
    lock = body(first, "On reflection this is the right home")
    refused = client.post(f"/match-runs/{run_id}/locks", json=lock, headers=panel)
    assert refused.status_code == 409 and "rejected" in refused.json()["error"]["message"]
    assert client.post(f"/match-runs/{run_id}/lifts", json=lock, headers=panel).status_code == 201
    assert client.post(f"/match-runs/{run_id}/locks", json=lock, headers=panel).status_code == 201
    with transaction(demo_engine) as s:
        assert panel_memory.next_run_locks_and_bans(s, run_id) == ([pair(first)], [])


def test_a_lock_is_carried_only_while_its_young_person_waits(client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    waiting, placed = proposals(demo_engine, run_id)[:2]
    for item in (waiting, placed):
        assert client.post(f"/match-runs/{run_id}/locks", json=body(item, "Keep this home"),
                           headers=panel).status_code == 201
    assert accept(client, panel, run_id, placed["id"]).status_code == 201
    with transaction(demo_engine) as s:
        # Placed, the young person leaves the queue: a lock on them would stop the next run.
        assert panel_memory.next_run_locks_and_bans(s, run_id)[0] == [pair(waiting)]


def test_a_rerun_request_that_contradicts_what_is_carried_is_refused_and_nothing_is_queued(
        client, as_role, demo_engine, run_id):  # noqa: F811
    panel = as_role(Role.panel_member)
    first = proposals(demo_engine, run_id)[0]
    assert reject(client, panel, run_id, first["id"]).status_code == 201
    before = runs_queued(demo_engine)
    refused = submit(client, panel, rerun_of=run_id, locks=[body(first, "Lock it after all")])
    assert refused.status_code == 409, refused.text
    assert f"lift it on match run {run_id} first" in refused.json()["error"]["message"]
    assert runs_queued(demo_engine) == before
