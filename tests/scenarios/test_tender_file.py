"""Tender scenario files: the examples read and apply to the demo council's supply; a bad file
is refused whole, each problem named with its line and key; names that match nothing in the
market are refused rather than changing nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from typer.testing import CliRunner

from api.cli import app
from models.db import make_engine, transaction
from scenarios.tender import TenderFileError, apply, read_scenario, supply_from_database

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"


sys.path.append(str(Path(__file__).resolve().parents[1] / "api"))
from demo_council import DEMO_DAY, demo_database  # noqa: E402


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return demo_database(tmp_path_factory.mktemp("tender") / "placematch.db")


@pytest.fixture(scope="module")
def supply(demo_db):
    engine = make_engine(f"sqlite:///{demo_db}")
    with transaction(engine) as session:
        frame = supply_from_database(session, DEMO_DAY)
    engine.dispose()
    return frame


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tender.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_reads_and_applies_to_the_demo_council(supply, name):
    scenario = read_scenario(EXAMPLES / name)
    changed = apply(scenario, supply, file=name)
    assert len(changed) > 0 and scenario.horizon_years == 5


def test_the_examples_change_the_market_as_they_say(supply):
    def run(name):
        return apply(read_scenario(EXAMPLES / name), supply, file=name)

    base = run("baseline.yaml")
    assert base["beds"].sum() == supply["beds"].sum()
    block = run("medway_intensive_block.yaml")
    added = block[block["provider_id"] == "block:Chatham intensive block"].iloc[0]
    assert added["beds"] == 10 and added["block"] and added["void_weekly_cost"] == 3400
    assert added["la_code"] == "E06000035" and added["price_intensive"] == 3400
    uplift = run("price_uplift_6pct.yaml")
    assert uplift["price_standard"].sum() == pytest.approx(base["price_standard"].sum() * 1.06)
    lost = run("lose_largest_provider.yaml")
    assert "PRV02" not in set(lost["provider_id"]) and lost["beds"].sum() == base["beds"].sum() - 21
    spot = run("spot_only.yaml")
    assert set(spot["framework"]) == {"Spot purchase"}


def test_a_bad_file_is_refused_with_each_line_and_reason(tmp_path):
    path = write(tmp_path, """name: Broken
horizon_years: 12
supply:
  block_contracts:
    - name: Chatham block
      beds: -3
      tier: intensve
      postcode: ME4 4TR
      weekly_price: 3400
  price_chnges:
    - percent: 6
demand:
  adjustments: ["entries*2", "nonsense"]
""")
    with pytest.raises(TenderFileError) as refused:
        read_scenario(path)
    text = str(refused.value)
    assert "tender.yaml line 2, horizon_years: Input should be less than or equal to 10" in text
    assert "tender.yaml line 6, supply > block_contracts > 1 > beds: Input should be greater than or equal to 1" in text
    assert "tender.yaml line 7, supply > block_contracts > 1 > tier:" in text and "intensive" in text
    assert "tender.yaml line 10, supply > price_chnges: unknown key" in text


def test_a_what_if_that_cannot_be_read_is_refused(tmp_path):
    path = write(tmp_path, 'name: x\ndemand:\n  adjustments: ["entries*2", "nonsense"]\n')
    with pytest.raises(TenderFileError, match="demand > adjustments > 2: 'nonsense'"):
        read_scenario(path)


@pytest.mark.parametrize("text, reason", [
    ("name: [unclosed\n", "not YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("horizon_years: 3\n", "name: Field required"),
])
def test_files_that_are_not_scenarios_are_refused(tmp_path, text, reason):
    with pytest.raises(TenderFileError, match=reason):
        read_scenario(write(tmp_path, text))


def test_names_that_match_nothing_in_the_market_are_refused(supply, tmp_path):
    path = write(tmp_path, """name: Typos
supply:
  remove_providers: [PRV99]
  remove_lots: ["No such framework: lot"]
  block_contracts:
    - {name: b, beds: 2, tier: standard, postcode: ZZ9 9ZZ, weekly_price: 900}
""")
    with pytest.raises(TenderFileError) as refused:
        apply(read_scenario(path), supply, file="tender.yaml")
    text = str(refused.value)
    assert "tender.yaml line 3, supply > remove_providers > 1: no provider 'PRV99'" in text
    assert "tender.yaml line 4, supply > remove_lots > 1: no lot 'No such framework: lot'" in text
    assert "tender.yaml line 6, supply > block_contracts > 1 > postcode" in text and "ZZ9 9ZZ" in text


def test_the_cli_checks_files_against_the_market_and_refuses_a_bad_one(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_db}")
    good = CliRunner().invoke(app, ["scenario", "check", str(EXAMPLES / "medway_intensive_block.yaml")])
    assert good.exit_code == 0, good.output
    assert "Ten intensive block beds in Chatham" in good.output and "315 beds" in good.output
    bad = write(tmp_path, "name: x\nsupply:\n  remove_providers: [PRV99]\n")
    refused = CliRunner().invoke(app, ["scenario", "check", str(EXAMPLES / "baseline.yaml"), str(bad)])
    assert refused.exit_code == 1
    assert "tender.yaml line 3, supply > remove_providers > 1: no provider 'PRV99'" in refused.output


def test_trial_stays_are_read_into_the_support_plan_and_refused_outside_their_range(tmp_path):
    from scenarios.tender_run import plan_of

    plan = plan_of(read_scenario(write(tmp_path, "name: Trials\ntrial_stays: {nights: 3, share: 0.5}\n")))
    assert (plan.trial_nights, plan.trial_share) == (3, 0.5)
    assert plan_of(read_scenario(write(tmp_path, "name: None\n"))).trial_share == 0.0  # none unless asked for
    with pytest.raises(TenderFileError, match=r"line 2, trial_stays > nights"):
        read_scenario(write(tmp_path, "name: Too long\ntrial_stays: {nights: 9, share: 0.5}\n"))
