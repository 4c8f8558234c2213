"""Text and dates as a person types them (issue 13, item 7; api.input_checks), through the API:

* NUL and the other control characters are refused in every text field of a JSON body or a form
  post with 422 naming the field, and nothing is written; tab and line breaks are text in a
  free-text field (a reason) and refused in a one-line field (a name);
* a date typed by a person (the panel date) outside 1950-2099 is refused with 422 naming the
  field, before anything is queued; a sensible one is accepted.

Each rule in a pair: refused, and the sensible request beside it accepted."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from sqlalchemy import func, select

from api.input_checks import TypedDate
from models.db import transaction
from models.enums import OfstedGrade, Role
from models.panel import MatchRun
from models.supply import Provider

SCENARIO = {"name": "UASC doubled", "adjustments": ["uasc_entries*2"]}
MULTI_LINE_REASON = ("Inspection report published 20 November 2026.\r\n"
                     "Leadership and management:\tjudged to require improvement.\nSee the full report.")


def fields_of(answer) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    return {f["path"]: f["message"] for f in answer.json()["error"]["fields"]}


def a_provider_and_a_new_grade(engine) -> tuple[str, OfstedGrade]:
    with transaction(engine) as session:
        provider = session.scalars(select(Provider).order_by(Provider.id)).first()
        new = OfstedGrade.requires_improvement if provider.ofsted_grade != OfstedGrade.requires_improvement \
            else OfstedGrade.good
        return provider.id, new


def grade_of(engine, provider_id: str) -> OfstedGrade | None:
    with transaction(engine) as session:
        return session.get(Provider, provider_id).ofsted_grade


# --- text ------------------------------------------------------------------------------------------


def test_a_nul_in_a_json_text_field_is_refused_naming_the_field_and_nothing_is_saved(client, as_role):
    headers = as_role(Role.commissioner)
    refused = client.put("/forecast-scenarios", json={**SCENARIO, "name": "UASC\x00 doubled"}, headers=headers)
    fields = fields_of(refused)
    assert list(fields) == ["body.name"] and "NUL" in fields["body.name"] and "character 5" in fields["body.name"]
    assert "\x00" not in refused.text and "UASC" not in refused.text  # the value is never repeated
    assert client.get("/forecast-scenarios", headers=headers).json() == []
    saved = client.put("/forecast-scenarios", json=SCENARIO, headers=headers)
    assert saved.status_code == 200, saved.text


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_a_multi_line_reason_is_accepted_and_a_control_character_in_it_refused(client, as_role, demo_engine,
                                                                                character):
    headers = as_role(Role.commissioner)
    provider_id, new = a_provider_and_a_new_grade(demo_engine)
    before = grade_of(demo_engine, provider_id)
    refused = client.post(f"/providers/{provider_id}/grade", headers=headers,
                          json={"ofsted_grade": new.value, "reason": MULTI_LINE_REASON + character})
    fields = fields_of(refused)
    assert list(fields) == ["body.reason"] and f"U+{ord(character):04X}" in fields["body.reason"]
    assert grade_of(demo_engine, provider_id) == before
    accepted = client.post(f"/providers/{provider_id}/grade", headers=headers,
                           json={"ofsted_grade": new.value, "reason": MULTI_LINE_REASON})
    assert accepted.status_code == 200, accepted.text
    assert grade_of(demo_engine, provider_id) == new


@pytest.mark.parametrize("name", ["UASC\ndoubled", "UASC\tdoubled", "UASC doubled\r"])
def test_a_line_break_or_tab_in_a_one_line_field_is_refused(client, as_role, name):
    headers = as_role(Role.commissioner)
    fields = fields_of(client.put("/forecast-scenarios", json={**SCENARIO, "name": name}, headers=headers))
    assert list(fields) == ["body.name"] and "one line" in fields["body.name"]
    assert client.get("/forecast-scenarios", headers=headers).json() == []


def test_a_control_character_deep_in_a_body_is_named_by_its_path(client, as_role):
    panel = as_role(Role.panel_member)
    refused = client.post("/match-runs", headers=panel, json={
        "panel_date": "2026-11-23", "locks": [{"referral_id": "R0002", "vacancy_id": "V0017", "reason": "ok"},
                                              {"referral_id": "R0003", "vacancy_id": "V00\x0049"}]})
    assert list(fields_of(refused)) == ["body.locks.1.vacancy_id"]
    assert client.get("/match-runs", headers=panel).json()["total"] == 0  # nothing queued


def test_a_control_character_in_a_form_posted_to_the_api_is_refused_naming_the_field(client):
    refused = client.post("/auth/token", data={"username": "director\x00", "password": "anything at all here"})
    assert list(fields_of(refused)) == ["body.username"]


# --- dates -----------------------------------------------------------------------------------------

# Pydantic reads a number as a Unix time (seconds, below 2e10): a date can come as one.
MIDNIGHT_2200 = calendar.timegm(dt.date(2200, 1, 1).timetuple())


@pytest.mark.parametrize("day", ["9999-01-01", "9999-12-31", "1949-12-31", "0001-01-01", MIDNIGHT_2200])
def test_an_implausible_panel_date_is_refused_naming_the_field_before_anything_is_queued(client, as_role, day):
    panel = as_role(Role.panel_member)
    fields = fields_of(client.post("/match-runs", headers=panel, json={"panel_date": day}))
    assert list(fields) == ["body.panel_date"]
    assert "01/01/1950 and 31/12/2099" in fields["body.panel_date"]
    assert client.get("/match-runs", headers=panel).json()["total"] == 0


def test_a_sensible_panel_date_is_accepted(client, as_role, demo_engine):
    panel = as_role(Role.panel_member)
    submitted = client.post("/match-runs", headers=panel, json={"panel_date": "2026-11-23", "time_limit_seconds": 5})
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["panel_date"] == "2026-11-23"
    client.post(f"/match-runs/{submitted.json()['id']}/cancel", headers=panel)  # no need to solve it
    with transaction(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(MatchRun)) == 1


@pytest.mark.parametrize("day", ["1950-01-01", "2099-12-31"])
def test_the_bounds_themselves_are_sensible_dates(day):
    from pydantic import TypeAdapter

    assert TypeAdapter(TypedDate).validate_python(day) == dt.date.fromisoformat(day)


@pytest.mark.parametrize("value", ["placement\x00created", "placement\ncreated", "placement\x85created"])
def test_a_control_character_in_a_query_parameter_is_refused_naming_it(client, as_role, value):
    headers = as_role(Role.admin)
    refused = client.get("/audit-events", params={"action": value}, headers=headers)
    fields = fields_of(refused)
    assert list(fields) == ["query.action"] and "placement" not in refused.text
    assert client.get("/audit-events", params={"action": "placement created"}, headers=headers).status_code == 200
