"""Regional tender scenarios (issue 17, part 4): several councils' young people on one market,
a council's own beds for it alone and a block contract for the members that share it, price
changes across a regional framework, each council's demand from its own returns, and a regional
sweep on a local cluster equal to the single-process run seed for seed."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from models.db import make_engine, migrate, transaction
from models.people import Referral
from providers.geography import locate_one, postcodes_in
from scenarios.demo_history import demo_history
from scenarios.region_demo import RCC_NAME, build_region_demo
from scenarios.simulate import MonthlyArrivals, prepare, simulate
from scenarios.sweep import cluster, run_sweep
from scenarios.tender import TenderFileError, apply, parse_scenario, supply_from_database
from scenarios.tender_run import CouncilDraw, RegionalDemandError, kpi_records, regional_demand

sys.path.append(str(Path(__file__).resolve().parents[1] / "api"))
from demo_council import demo_database  # noqa: E402

START = dt.date(2026, 11, 23)
MEDWAY, KENT = "E06000035", "E10000016"
FRAMEWORK = f"{RCC_NAME} 16-25 Accommodation Framework"
ALL_NEEDS = ["mental_health", "learning_disability", "autism_adhd", "esol", "pregnant_or_parenting"]


def _home(councils, beds=40):
    from scenarios.tender import new_home

    row = new_home("H-1", "PRV1", beds, locate_one("ME4 4TR"), "supported_accommodation",
                   {"price_standard": 1000.0, "price_enhanced": 1600.0, "price_intensive": 3000.0}, "a lot",
                   framework="a framework", councils=councils, available_from=START)
    row["accepts_needs"] = ALL_NEEDS
    return pd.DataFrame([row])


def _arrivals(council: str, district: str, months: int = 3) -> MonthlyArrivals:
    homes = postcodes_in(district, "M").sort_values("postcode").head(60).reset_index(drop=True)
    return MonthlyArrivals(np.tile([3.0, 2.0, 1.0], (months, 1)), draw=CouncilDraw((council,), (1.0,), (homes,)))


def _placed(councils, council, district):
    result = simulate(_home(councils), _arrivals(council, district), months=3, replications=2, seed=5,
                      placing_authority=MEDWAY, start=START, region=True)
    return result, result.years.set_index(["year", "kpi"]).loc[(1, "placements_made"), "median"]


def test_a_councils_own_beds_are_for_its_young_people_alone():
    # Kent's young people (from Maidstone) and a home in Chatham, eight miles away.
    _, refused = _placed((MEDWAY,), KENT, "E07000110")
    result, allowed = _placed(None, KENT, "E07000110")
    assert refused == 0 and allowed > 0
    # Placements are counted by council in a region, not by district.
    assert set(result.placed_by_area["area"]) == {KENT}
    _, own = _placed((MEDWAY,), MEDWAY, MEDWAY)
    assert own > 0
    # A block the two councils share is open to both.
    _, shared = _placed((KENT, MEDWAY), KENT, "E07000110")
    assert shared == allowed


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('regional-tender') / 'region.db'}")
    migrate(engine)
    with transaction(engine) as session:
        build_region_demo(session, seed=3, as_of=START, referrals=90, rows=240)
    yield engine
    engine.dispose()


def test_the_supply_says_whose_each_home_is(region):
    with transaction(region) as session:
        supply = supply_from_database(session, START)
    own = supply[supply["councils"].notna()]
    assert 0 < len(own) < len(supply)
    assert all(len(c) == 1 for c in own["councils"])
    assert (supply.loc[supply["councils"].isna(), "framework"] == FRAMEWORK).all()


SCENARIO = """name: Regional
supply:
  price_changes:
    - {{framework: "{framework}", percent: 10}}
  block_contracts:
    - name: Berkshire intensive block
      beds: 8
      tier: intensive
      postcode: RG1 1AF
      weekly_price: 3400
      shared_by: {shared_by}
"""


def test_a_price_change_across_the_regional_framework_and_a_shared_block(region):
    with transaction(region) as session:
        supply = supply_from_database(session, START)
    scenario = parse_scenario(SCENARIO.format(framework=FRAMEWORK, shared_by="[Reading, E06000039]"), "region.yaml")
    changed = apply(scenario, supply, file="region.yaml")
    regional = supply["framework"] == FRAMEWORK
    before = supply.loc[regional, "price_standard"].to_numpy()
    after = changed.set_index("vacancy_id").loc[supply.loc[regional, "vacancy_id"], "price_standard"].to_numpy()
    assert np.allclose(after, before * 1.10, equal_nan=True)
    own = supply.loc[~regional, ["vacancy_id", "price_standard"]]
    assert np.allclose(changed.set_index("vacancy_id").loc[own["vacancy_id"], "price_standard"].to_numpy(),
                       own["price_standard"].to_numpy(), equal_nan=True)
    block = changed[changed["block"]].iloc[0]
    assert block["councils"] == ("E06000038", "E06000039")


@pytest.mark.parametrize(("framework", "shared_by", "says"), [
    ("No such framework", "[Reading]", "price_changes > 1 > framework: no framework 'No such framework'"),
    (FRAMEWORK, "[Reading, Gotham]", "shared_by > 2: no council 'Gotham'"),
])
def test_a_name_that_matches_nothing_is_refused_naming_the_key(region, framework, shared_by, says):
    with transaction(region) as session:
        supply = supply_from_database(session, START)
    with pytest.raises(TenderFileError, match=says):
        apply(parse_scenario(SCENARIO.format(framework=framework, shared_by=shared_by), "region.yaml"), supply,
              file="region.yaml")


def test_a_price_change_names_a_lot_or_a_framework_not_both():
    with pytest.raises(TenderFileError, match="a lot or a framework, not both"):
        parse_scenario('name: X\nsupply:\n  price_changes:\n    - {lot: "A: B", framework: A, percent: 3}\n', "x.yaml")


def test_each_councils_demand_is_its_own(region, tmp_path):
    history = demo_history(tmp_path / "ssda903")  # Medway's returns only
    scenario = parse_scenario("name: Regional\n", "r.yaml")
    with transaction(region) as session:
        counts = {c: n for c, n in session.execute(select(Referral.council_code, Referral.id)).all()}
        people = pd.DataFrame(session.execute(select(Referral.council_code)).all(), columns=["council"])
        scaled = regional_demand(session, scenario, history, demo_council=MEDWAY)
        with pytest.raises(RegionalDemandError, match="no returns for .*Kent \\(E10000016\\)"):
            regional_demand(session, scenario, history)
    assert counts
    sizes = people["council"].value_counts()
    assert set(scaled.members) == set(sizes.index)
    for council, (_, scale) in scaled.members.items():
        assert scale == pytest.approx(sizes[council] / sizes[MEDWAY])
        assert len(scaled.homes[council]) and scaled.homes[council]["postcode"].is_unique


def test_a_regional_sweep_on_a_local_cluster_equals_the_single_process_run():
    supply = pd.concat([_home((MEDWAY,)), _home(None).assign(vacancy_id="H-2", property_id="H-2")],
                       ignore_index=True)
    kent = _arrivals(KENT, "E07000110")
    kwargs = dict(months=3, replications=3, seed=9, placing_authority=MEDWAY, start=START, region=True)
    sequential = simulate(supply, kent, **kwargs)
    with cluster(None, workers=2) as client:
        swept = run_sweep({"Region": prepare(supply, kent, **kwargs)}, client)["Region"]
    pd.testing.assert_frame_equal(swept.years, sequential.years)
    pd.testing.assert_frame_equal(swept.placed_by_area, sequential.placed_by_area)
    assert kpi_records(swept) == kpi_records(sequential)


def test_the_command_runs_a_region_and_shows_each_council(tmp_path, monkeypatch):
    # The demo council alone is a region of one: its demand is the demo's, scaled by one.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_database(tmp_path / 'placematch.db')}")
    file = tmp_path / "base.yaml"
    file.write_text("name: Base\nhorizon_years: 1\nreplications: 2\nseed: 7\n")
    result = CliRunner().invoke(app, ["scenario", "run", str(file), "--region", "--no-save", "--workers", "1",
                                      "--out", str(tmp_path / "out"), "--start", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "By council" in result.output and "Medway" in result.output
    placed = pd.read_csv(tmp_path / "out" / "placed_by_area.csv")
    assert set(placed["area"]) == {MEDWAY}
