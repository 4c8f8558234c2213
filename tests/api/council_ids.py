"""Real ids of one council's records for every path parameter the API takes: a recorded match
run, one of its proposals, an approval request and placement raised by accepting a proposal, a
referral sent to a provider, a trial stay, a saved tender scenario result, a user; and the
shared market's first provider, home, vacancy and framework. Used by the role matrix (one
council) and the isolation tests (two)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models.accounts import User
from models.db import transaction
from models.enums import Role
from models.people import Referral
from models.plans import ScenarioResult
from models.supply import Framework, Property, Provider, Vacancy
from models.trials import TrialStay
from test_decisions import accept, proposals

# The parameters naming one council's records (the rest name the shared market).
COUNCIL_OWNED = ("run_id", "proposal_id", "referral_id", "request_id", "placement_id", "user_id", "result_id",
                 "referral_request_id", "trial_id")


def council_ids(client, panel_headers: dict, engine, run_id: int, panel_username: str) -> dict[str, str]:
    """Accepts a proposal of ``run_id`` that needs approval (as the council's panel member) and
    books, sends and saves one of each other record, in the council of ``panel_username``."""
    options = proposals(engine, run_id)
    needing = next(p for p in options if p["approvals_required"])
    accepted = accept(client, panel_headers, run_id, needing["id"])
    assert accepted.status_code == 201, accepted.text
    other = next(p for p in options if p["id"] != needing["id"])
    with transaction(engine) as s:
        sender = s.scalars(select(User).where(User.username == panel_username)).one()
        ids = {
            "provider_id": s.scalars(select(Provider.id).order_by(Provider.id)).first(),
            "property_id": s.scalars(select(Property.id).order_by(Property.id)).first(),
            "vacancy_id": s.scalars(select(Vacancy.id).where(Vacancy.council_code.is_(None) |
                                                            (Vacancy.council_code == sender.council_code))
                                    .order_by(Vacancy.id)).first(),
            "framework_id": s.scalars(select(Framework.id).order_by(Framework.id)).first(),
            "user_id": s.scalar(select(User.id).where(User.role == Role.director,
                                                      User.council_code == sender.council_code)),
            "result_id": _saved_scenario_result(s, sender.council_code),
            "referral_request_id": _sent_to_a_provider(s, other["referral_id"], sender),
            "trial_id": _a_trial_stay(s, other, sender),
        }
    assert all(v is not None for v in ids.values()), ids
    return {k: str(v) for k, v in {
        **ids,
        "run_id": run_id,
        "proposal_id": other["id"],
        "referral_id": other["referral_id"],
        "request_id": accepted.json()["approval_requests"][0]["id"],
        "placement_id": accepted.json()["placement"]["id"],
    }.items()}


def _sent_to_a_provider(session, referral_id: str, sender: User) -> int:
    """A referral sent to the first provider, whose staff member is the matrix's provider user."""
    from providers.offers import send

    provider = session.scalars(select(Provider.id).order_by(Provider.id)).first()
    return send(session, session.get(Referral, referral_id), [provider], sender)[0].id


def _a_trial_stay(session, proposal: dict, booker: User) -> int:
    """A trial stay booked in a proposed home (as api.trial_stays books one)."""
    trial = TrialStay(referral_id=proposal["referral_id"], vacancy_id=proposal["vacancy_id"],
                      property_id=proposal["property_id"], proposed_match_id=proposal["id"],
                      starts_on=dt.date.today() + dt.timedelta(days=3), nights=2, nightly_cost=200.0,
                      reason="To meet the home first.", booked_by_id=booker.id)
    session.add(trial)
    session.flush()
    return trial.id


def _saved_scenario_result(session, council: str) -> int:
    """A tender scenario result as ``placematch scenario run`` saves one, for the council."""
    row = ScenarioResult(name="Baseline", file_name="baseline.yaml", file_text="name: Baseline\n",
                         file_sha256="0" * 64, seed=1, replications=1, months=12, code_version="test",
                         status="succeeded", seconds=1.0, council_code=council,
                         kpis=[{"year": 1, "kpi": "void_cost", "median": 0.0, "p10": 0.0, "p90": 0.0}])
    session.add(row)
    session.flush()
    return row.id
