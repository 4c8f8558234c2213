"""One market (issue 17, part 2): a bed the region shares, proposed to a Medway young person by
Medway's run and to a Kent young person by Kent's, accepted by both councils' panels at the same
moment, on SQLite and PostgreSQL: exactly one council gets it, the other is told the bed has
gone (without being told to whom: that young person is another council's), and nothing of the
loser's is written. The race is real: each request waits, after its free-bed check, until the
other has checked too (test_concurrency.meet_after), so only the conditional UPDATE of the beds
can stop the second."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import panel_decisions
from api.app import create_app
from api.routes.users import create_user
from conftest import DEMO_DAY
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.db import transaction
from models.enums import Role
from models.panel import Decision, ProposedMatch
from models.people import Placement, Referral
from models.supply import Vacancy
from models.tenancy import ensure_council
from providers.demo import DEMO_AUTHORITY, build_demo
from signin import PASSWORD, add_users, sign_in
from test_concurrency import at_once, meet_after
from test_decisions import REASON

KENT = "E10000016"


@pytest.fixture
def two_runs_one_bed(engine):
    """Medway's run proposes a home to one of its young people; the bed becomes the region's,
    the last one; Kent's panel (its young person a copy of Medway's) is proposed the same bed."""
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=DEMO_DAY)
    add_users(engine)
    medway_run = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                           policy=Policy(), approvals=ApprovalPolicy()).run_id
    with transaction(engine) as s:
        ensure_council(s, KENT)
        proposal = s.scalars(select(ProposedMatch).where(ProposedMatch.match_run_id == medway_run,
                                                         ProposedMatch.rank == 0).order_by(ProposedMatch.id)).first()
        vacancy = s.get(Vacancy, proposal.vacancy_id)
        vacancy.council_code, vacancy.beds = None, 1
        young = s.get(Referral, proposal.referral_id)
        copy = {c.key: getattr(young, c.key) for c in Referral.__table__.columns if c.key != "created_at"}
        s.add(Referral(**copy | {"id": "KENT-" + young.id, "council_code": KENT, "sibling_group": None}))
        create_user(s, "kent.panel.member", "Kent panel member", Role.panel_member, PASSWORD, council_code=KENT)
        medway = {"run": medway_run, "proposal": proposal.id, "referral": proposal.referral_id}
        bed = vacancy.id
    kent_run = run_panel(engine=engine, files=None, placing_authority=KENT, panel_date=DEMO_DAY, policy=Policy(),
                         approvals=ApprovalPolicy(), locks=[("KENT-" + medway["referral"], bed)]).run_id
    with transaction(engine) as s:
        kent_proposal = s.scalars(select(ProposedMatch.id).where(
            ProposedMatch.match_run_id == kent_run, ProposedMatch.vacancy_id == bed, ProposedMatch.rank == 0)).one()
    app = create_app(engine)
    with TestClient(app) as client:
        kent_token = client.post("/auth/token", data={"username": "kent.panel.member", "password": PASSWORD})
        yield app, client, bed, [
            (medway["run"], medway["proposal"], medway["referral"], sign_in(client, Role.panel_member)),
            (kent_run, kent_proposal, "KENT-" + medway["referral"],
             {"Authorization": f"Bearer {kent_token.json()['access_token']}"}),
        ]


def test_two_councils_taking_the_regions_last_bed_at_once_one_wins(two_runs_one_bed, engine, monkeypatch):
    app, client, bed, panels = two_runs_one_bed
    barrier = meet_after(monkeypatch, panel_decisions, "_check_free")
    responses = at_once(app, [("POST", f"/match-runs/{run}/proposals/{proposal}/accept",
                               {"json": REASON, "headers": headers})
                              for run, proposal, _, headers in panels])
    monkeypatch.undo()

    assert not barrier.broken
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 201)
    lost = responses[1 - winner].json()
    assert lost["error"]["code"] == "no_free_bed"
    # The loser is not told which young person took it: they are the other council's.
    assert panels[winner][2] not in lost["error"]["message"]
    with transaction(engine) as s:
        assert s.get(Vacancy, bed).beds == 0
        placed = s.scalars(select(Placement.referral_id).where(Placement.vacancy_id == bed,
                                                               Placement.referral_id.in_([p[2] for p in panels]))).all()
        decided = s.scalars(select(Decision.referral_id).where(Decision.referral_id.in_([p[2] for p in panels]))).all()
        loser = s.get(Referral, panels[1 - winner][2])
    assert placed == [panels[winner][2]] and decided == [panels[winner][2]]
    assert loser.status.value == "open"
    # Afterwards the bed is gone for both: a second try is refused as well.
    again = client.post(f"/match-runs/{panels[1 - winner][0]}/proposals/{panels[1 - winner][1]}/accept",
                        json=REASON, headers=panels[1 - winner][3])
    assert again.status_code == 409 and again.json()["error"]["code"] == "no_free_bed"
    assert panels[winner][2] not in again.json()["error"]["message"]
