"""GET /match-runs/{id}/what-if: the counterfactual behind an alternative, asked of a recorded run
of the demo council; and the nearest miss of each young person a run left unplaced."""

from __future__ import annotations

import pytest
from conftest import DEMO_DAY
from test_match_jobs import submit, wait_until_finished

from matching.approvals import ApprovalPolicy
from matching.counterfactual import what_if
from matching.nearest_miss import KINDS
from matching.panel import run_panel
from matching.policy import Policy
from models.enums import Role
from providers.demo import DEMO_AUTHORITY


@pytest.fixture
def outcome(demo_engine):
    """A run of the demo queue recorded as the CLI records one, with its instance and result."""
    return run_panel(engine=demo_engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                     policy=Policy(), approvals=ApprovalPolicy())


def ask(client, headers, run_id, **query):
    return client.get(f"/match-runs/{run_id}/what-if", params=query, headers=headers)


def test_an_alternative_held_by_someone_else_says_what_giving_it_would_do(client, as_role, outcome):
    manager = as_role(Role.service_manager)
    run = client.get(f"/match-runs/{outcome.run_id}", headers=manager).json()
    held = [a for a in run["alternatives"]
            if a["vacancy_id"] in {p["vacancy_id"] for p in run["proposals"] if p["referral_id"] != a["referral_id"]}]
    alternative = (held or run["alternatives"])[0]
    r, v = alternative["referral_id"], alternative["vacancy_id"]
    response = ask(client, manager, outcome.run_id, referral_id=r, vacancy_id=v)
    assert response.status_code == 200, response.text
    body = response.json()
    # The same answer as asking the run's own instance and result directly.
    expected = what_if(outcome.instance, Policy(), outcome.result, r, v)
    assert body["same_as_run"] is True
    assert (body["referral_id"], body["vacancy_id"], body["possible"]) == (r, v, expected.possible)
    assert [(m["referral_id"], m["from_vacancy_id"], m["to_vacancy_id"]) for m in body["moved"]] == expected.moved
    assert body["lose_placement"] == expected.lose_placement and body["gain_placement"] == expected.gain_placement
    assert body["change"] == expected.change and body["words"] == expected.words()
    assert body["words"].startswith(f"Giving {v} to {r}")
    # The panel reads it too; asked twice, the same answer.
    again = ask(client, as_role(Role.panel_member), outcome.run_id, referral_id=r, vacancy_id=v)
    assert again.status_code == 200 and again.json() == body


def test_a_vacancy_that_breaks_a_rule_is_not_possible_in_plain_words(client, as_role, outcome):
    # R0001 needs intensive support; V0001 offers no intensive tier (see test_cli).
    body = ask(client, as_role(Role.panel_member), outcome.run_id, referral_id="R0001", vacancy_id="V0001").json()
    assert body["possible"] is False and body["reason"] and "_" not in body["reason"]
    assert body["words"].startswith("Giving V0001 to R0001 is not possible")


def test_unknown_run_young_person_or_vacancy_is_404_and_a_missing_parameter_422(client, as_role, outcome):
    panel = as_role(Role.panel_member)
    unknown_run = ask(client, panel, 999, referral_id="R0001", vacancy_id="V0001")
    assert unknown_run.status_code == 404 and "match run 999" in unknown_run.json()["error"]["message"]
    person = ask(client, panel, outcome.run_id, referral_id="R9999", vacancy_id="V0001")
    assert person.status_code == 404
    assert person.json()["error"]["message"] == f"young person R9999 is not in match run {outcome.run_id}'s queue"
    vacancy = ask(client, panel, outcome.run_id, referral_id="R0001", vacancy_id="V9999")
    assert vacancy.status_code == 404 and vacancy.json()["error"]["message"] == "vacancy V9999 not found"
    missing = ask(client, panel, outcome.run_id, referral_id="R0001")
    assert missing.status_code == 422
    assert [f["path"] for f in missing.json()["error"]["fields"]] == ["query.vacancy_id"]


@pytest.mark.parametrize("role", [Role.commissioner, Role.admin])
def test_only_those_who_read_a_runs_proposals_may_ask(client, as_role, outcome, role):
    refused = ask(client, as_role(role), outcome.run_id, referral_id="R0001", vacancy_id="V0001")
    assert refused.status_code == 403
    allowed = ask(client, as_role(Role.director), outcome.run_id, referral_id="R0001", vacancy_id="V0001")
    assert allowed.status_code == 200


def test_a_service_run_lists_each_unplaced_young_persons_nearest_miss(client, as_role):
    panel = as_role(Role.panel_member)
    run = wait_until_finished(client, panel, submit(client, panel).json()["id"])
    assert run["status"] == "succeeded", run["error"]
    items = client.get(f"/match-runs/{run['id']}/unplaced", headers=panel).json()["items"]
    assert items
    assert all(u["nearest_miss"] and u["nearest_miss_kind"] in KINDS for u in items)
    assert {u["nearest_miss_checked"] for u in items} <= {"yes", "no"}
    assert any(u["nearest_miss_kind"] != "none" and u["nearest_miss_checked"] == "yes" for u in items)
