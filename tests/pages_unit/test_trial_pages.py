"""The trial stay on a proposal's page: a panel member books nights in the proposed home (a
mistyped form comes back with its errors and what was typed, nothing kept), sees the trial with
its cost, and cancels it; managers read it and see no form. The clock is held on the demo's day."""

from __future__ import annotations

import datetime as dt

import pytest
from demo_council import DEMO_DAY
from flash import done_of
from sqlalchemy import func, select
from test_panel_pages import first_proposal, run_id  # noqa: F401 (run_id is a fixture)

from api import trial_stays
from models.db import transaction
from models.enums import Role
from models.supply import Vacancy
from models.trials import TrialStay


@pytest.fixture(autouse=True)
def demo_day(monkeypatch):
    monkeypatch.setattr(trial_stays, "today", lambda: DEMO_DAY)


def count(engine) -> int:
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(TrialStay))


def test_a_panel_member_books_and_cancels_a_trial_stay_from_the_case(client, sign_in_as, run_id, demo_engine):  # noqa: F811
    p = first_proposal(demo_engine, run_id)
    with transaction(demo_engine) as s:
        first = max(DEMO_DAY, s.get(Vacancy, p.vacancy_id).available_from) + dt.timedelta(days=1)
    case = f"/panel/runs/{run_id}/proposals/{p.id}"
    panel = sign_in_as(Role.panel_member)
    page = panel.get(case).text
    assert 'id="trial"' in page and 'name="proposal_id"' in page

    wrong = panel.post(f"/panel/runs/{run_id}/trial-stays",
                       data={"proposal_id": p.id, "starts_on": str(first), "nights": "nine", "reason": "x"})
    assert wrong.status_code == 422
    assert "Enter the nights as a whole number from 1 to 7" in wrong.text and 'value="nine"' in wrong.text
    assert "reason for the trial" in wrong.text
    late = panel.post(f"/panel/runs/{run_id}/trial-stays", data={
        "proposal_id": p.id, "starts_on": str(DEMO_DAY + dt.timedelta(days=40)), "nights": "3",
        "reason": "To meet the home first."})
    assert late.status_code == 422 and "28 days ahead" in late.text
    assert count(demo_engine) == 0

    booked = panel.post(f"/panel/runs/{run_id}/trial-stays", follow_redirects=False, data={
        "proposal_id": p.id, "starts_on": str(first), "nights": "3", "reason": "To meet the home first."})
    assert booked.status_code == 303 and done_of(booked).startswith("Trial stay booked: 3 nights")
    page = panel.get(case).text
    assert 'data-status="booked"' in page and 'id="trial"' not in page  # one at a time
    with transaction(demo_engine) as s:
        trial = s.scalars(select(TrialStay)).one()
        assert (trial.nights, trial.starts_on, trial.nightly_cost) == (3, first, round(p.weekly_cost / 7, 2))

    manager = sign_in_as(Role.service_manager).get(case).text
    assert 'data-status="booked"' in manager and "Cancel the trial" not in manager

    panel = sign_in_as(Role.panel_member)
    cancelled = panel.post(f"/panel/trial-stays/{trial.id}/cancel", follow_redirects=False,
                           data={"reason": "The young person is unwell this week.", "back": case})
    assert cancelled.status_code == 303 and done_of(cancelled) == "Trial stay cancelled"
    assert cancelled.headers["location"].startswith(case)
    assert 'data-status="cancelled"' in panel.get(case).text and 'id="trial"' in panel.get(case).text
