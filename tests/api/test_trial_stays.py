"""Trial stays (issue 15, part 5), over the service on the demo council's recorded run: the panel
books a few nights in a proposed home, paid by the night; the dates, the nights and the young
person's state are checked in pairs (taken / refused, nothing written when refused); accepting
the proposal starts the placement the day the trial ends; a trial at another home is cancelled
by the acceptance; only the panel books and cancels."""

from __future__ import annotations

import datetime as dt

import pytest
from demo_council import DEMO_DAY
from sqlalchemy import func, select, update

from api import trial_stays
from models.accounts import AuditEvent
from models.db import transaction
from models.enums import Role
from models.people import Placement, Referral
from models.supply import Vacancy
from models.trials import TrialStay
from test_decisions import REASON, accept, proposals, run_id  # noqa: F401 (run_id is a fixture)

TODAY = DEMO_DAY


@pytest.fixture(autouse=True)
def demo_day(monkeypatch):
    monkeypatch.setattr(trial_stays, "today", lambda: DEMO_DAY)


def book(client, headers, run: int, proposal: int, **body):
    body = {"starts_on": str(TODAY + dt.timedelta(days=2)), "nights": 3,
            "reason": "To meet the home and the other young people first."} | body
    return client.post(f"/match-runs/{run}/proposals/{proposal}/trial-stay", json=body, headers=headers)


def trials(engine) -> int:
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(TrialStay))


def free_from(engine, vacancy_id: str) -> dt.date:
    with transaction(engine) as s:
        return s.get(Vacancy, vacancy_id).available_from


def test_a_trial_is_booked_at_the_nightly_price_and_the_placement_starts_when_it_ends(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    panel = as_role(Role.panel_member)
    first = max(TODAY, free_from(demo_engine, chosen["vacancy_id"])) + dt.timedelta(days=2)
    booked = book(client, panel, run_id, chosen["id"], starts_on=str(first), nights=4)
    assert booked.status_code == 201, booked.text
    t = booked.json()
    assert (t["nights"], t["status"], t["ends_on"]) == (4, "booked", str(first + dt.timedelta(days=4)))
    assert t["nightly_cost"] == round(chosen["weekly_cost"] / 7, 2) and t["cost"] == round(4 * t["nightly_cost"], 2)
    listed = client.get("/trial-stays", params={"referral_id": chosen["referral_id"]}, headers=panel).json()
    assert [x["id"] for x in listed] == [t["id"]]

    placed = accept(client, panel, run_id, chosen["id"])
    assert placed.status_code == 201, placed.text
    assert placed.json()["placement"]["starts_on"] == t["ends_on"]  # after the trial, not before
    with transaction(demo_engine) as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert "trial_stay_booked" in actions


def test_dates_and_nights_taken_and_refused(client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    panel = as_role(Role.panel_member)
    free = max(TODAY, free_from(demo_engine, chosen["vacancy_id"]))
    refused = [
        (book(client, panel, run_id, chosen["id"], nights=0), 422),
        (book(client, panel, run_id, chosen["id"], nights=8), 422),
        (book(client, panel, run_id, chosen["id"], starts_on=str(free - dt.timedelta(days=1))), 409),
        (book(client, panel, run_id, chosen["id"], starts_on=str(TODAY + dt.timedelta(days=29))), 409),
        (book(client, panel, run_id, chosen["id"], reason="no"), 422),
    ]
    for response, status in refused:
        assert response.status_code == status, response.text
    assert "before" in refused[2][0].json()["error"]["message"]
    assert "28 days" in refused[3][0].json()["error"]["message"]
    assert refused[3][0].json()["error"]["fields"][0]["path"] == "body.starts_on"
    assert trials(demo_engine) == 0  # nothing written
    for ok in (book(client, panel, run_id, chosen["id"], starts_on=str(free), nights=1),):
        assert ok.status_code == 201, ok.text
    again = book(client, panel, run_id, chosen["id"], starts_on=str(free + dt.timedelta(days=3)))
    assert again.status_code == 409 and "already has a trial stay booked" in again.json()["error"]["message"]
    assert trials(demo_engine) == 1


def test_the_bed_and_the_young_person_must_still_be_there(client, as_role, demo_engine, run_id):  # noqa: F811
    options = proposals(demo_engine, run_id)
    panel = as_role(Role.panel_member)
    full, gone = options[0], options[1]
    with transaction(demo_engine) as s:
        s.get(Vacancy, full["vacancy_id"]).beds = 0
        s.execute(update(Referral).where(Referral.id == gone["referral_id"]).values(status="withdrawn"))
    no_bed = book(client, panel, run_id, full["id"], starts_on=str(max(TODAY, free_from(demo_engine, full["vacancy_id"]))))
    assert no_bed.status_code == 409 and "no longer free" in no_bed.json()["error"]["message"]
    not_waiting = book(client, panel, run_id, gone["id"])
    assert not_waiting.status_code == 409 and "no longer waiting" in not_waiting.json()["error"]["message"]
    assert book(client, panel, run_id, 2**31 - 1).status_code == 404
    assert trials(demo_engine) == 0


def test_a_cancelled_trial_frees_the_young_person_for_another_and_only_the_panel_books(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    panel = as_role(Role.panel_member)
    first = str(max(TODAY, free_from(demo_engine, chosen["vacancy_id"])) + dt.timedelta(days=1))
    for role in (Role.commissioner, Role.service_manager, Role.director, Role.admin, Role.provider):
        assert book(client, as_role(role), run_id, chosen["id"], starts_on=first).status_code == 403, role
    trial = book(client, panel, run_id, chosen["id"], starts_on=first).json()
    cancelled = client.post(f"/trial-stays/{trial['id']}/cancel", json={"reason": "The young person is unwell."},
                            headers=panel)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = client.post(f"/trial-stays/{trial['id']}/cancel", json={"reason": "Again."}, headers=panel)
    assert twice.status_code == 409
    assert book(client, panel, run_id, chosen["id"], starts_on=first).status_code == 201


def test_accepting_another_home_cancels_a_trial_booked_elsewhere(client, as_role, demo_engine, run_id):  # noqa: F811
    every = proposals(demo_engine, run_id, rank=None)
    with transaction(demo_engine) as s:
        alone = set(s.scalars(select(Referral.id).where(Referral.sibling_group.is_(None))))
    young = next(r for r in sorted({p["referral_id"] for p in every} & alone)
                 if len([p for p in every if p["referral_id"] == r]) > 1)
    mine = sorted((p for p in every if p["referral_id"] == young), key=lambda p: p["rank"])
    proposal, elsewhere = mine[0], mine[1]
    panel = as_role(Role.panel_member)
    first = str(max(TODAY, free_from(demo_engine, elsewhere["vacancy_id"])) + dt.timedelta(days=1))
    booked = book(client, panel, run_id, elsewhere["id"], starts_on=first)
    assert booked.status_code == 201, booked.text
    placed = accept(client, panel, run_id, proposal["id"], REASON)
    assert placed.status_code == 201, placed.text
    with transaction(demo_engine) as s:
        trial = s.get(TrialStay, booked.json()["id"])
        assert trial.status == "cancelled" and "placed elsewhere" in trial.cancel_reason
        placement = s.scalars(select(Placement).where(Placement.referral_id == young)).one()
        assert placement.vacancy_id == proposal["vacancy_id"]
