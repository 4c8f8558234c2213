"""Forecast what-ifs in a service of several councils: each council keeps its own under a name
another council (or the region) also uses, never rewriting theirs, and reads its own first; on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models.db import transaction
from models.plans import ForecastScenario
from models.tenancy import ensure_council
from scenarios.what_if import load_scenario, save_scenario, visible_scenarios

MEDWAY, KENT, SLOUGH = "E06000035", "E10000016", "E06000039"


@pytest.fixture
def councils(engine):
    with transaction(engine) as session:
        for code in (MEDWAY, KENT, SLOUGH):
            ensure_council(session, code)
    return engine


def _factor(engine, council):
    with transaction(engine, council=council) as session:
        adjustments, _ = load_scenario(session, "Baseline")
    return adjustments[0].multiply


def test_two_councils_each_keep_their_own_what_if_of_one_name(councils):
    engine = councils
    with transaction(engine, council=MEDWAY) as session:
        save_scenario(session, "Baseline", ["entries*1.1"], {}, "test")
    with transaction(engine, council=KENT) as session:
        save_scenario(session, "Baseline", ["entries*1.3"], {}, "test")
    assert _factor(engine, MEDWAY) == pytest.approx(1.1) and _factor(engine, KENT) == pytest.approx(1.3)
    # The region's own (saved by the service for every member) is read by a council with none.
    with transaction(engine) as session:
        save_scenario(session, "Baseline", ["entries*1.5"], {}, "test")
    assert _factor(engine, SLOUGH) == pytest.approx(1.5)
    # Saving again changes the saver's own, never the region's.
    with transaction(engine, council=MEDWAY) as session:
        save_scenario(session, "Baseline", ["entries*1.2"], {}, "test")
    assert _factor(engine, MEDWAY) == pytest.approx(1.2) and _factor(engine, SLOUGH) == pytest.approx(1.5)
    with transaction(engine) as session:
        rows = session.execute(select(ForecastScenario.council_code, ForecastScenario.adjustments)).all()
    assert {c: a[0]["multiply"] for c, a in rows} == {MEDWAY: 1.2, KENT: 1.3, None: 1.5}
    # Lists offer each name once: the council's own, else the region's.
    for council, owner in ((MEDWAY, MEDWAY), (SLOUGH, None)):
        with transaction(engine, council=council) as session:
            assert [(s.name, s.council_code) for s in visible_scenarios(session)] == [("Baseline", owner)]


def test_one_council_or_the_region_cannot_hold_a_name_twice(councils):
    for council in (MEDWAY, None):
        with pytest.raises(IntegrityError), transaction(councils) as session:
            session.add_all([ForecastScenario(name="Twice", council_code=council, adjustments=[], rules={}),
                             ForecastScenario(name="Twice", council_code=council, adjustments=[], rules={})])
