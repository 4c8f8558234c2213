"""The words of the commissioner's pages, without a service: a scenario file's problems in plain
English (no key path, no pydantic message, no code), the builder's file read back as the form
meant it, a scenario's changes described, the comparison's figures and changes (shares as
percentages), and a run's progress with the time left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios.tender import TenderFileError, parse_scenario
from scenarios.tender_form import (
    blank_form,
    describe,
    from_form,
    in_words,
    what_if_words,
    yaml_text,
)
from scenarios.tender_run import RunProgress, change, figure, time_left

NOT_PLAIN = re.compile(r" > |Field required|Input should|String should|\b[a-z]+_[a-z_]+\b|RATE|penalty|objective")


def problems(text: str) -> list[str]:
    with pytest.raises(TenderFileError) as refused:
        parse_scenario(text, "mine.yaml")
    return [s.message for s in in_words(refused.value.problems, text=text)]


@pytest.mark.parametrize(("text", "said"), [
    ("name: x\nreplications: 0\n", "Line 2: The number of replications must be a whole number from 1 to 1,000"),
    ("name: x\nhorizon_years: abc\n", "Line 2: The number of years to simulate must be a whole number from 1 to 10"),
    ("horizon_years: 2\n", "Line 1: The scenario's name is missing"),
    ("name: x\nfoo: 1\n", "Line 2: This is not a key a scenario file can have (the keys are listed below the box)"),
    ("name: [1\n", "Line 2: The file cannot be read as YAML"),
    ("- a\n", "Line 1: The file must be a set of keys"),
    ("name: x\nstep_down_speed: 0\n", "Line 2: The step-down speed must be a number more than 0, up to 10"),
    ("name: x\nsupply:\n  remove_providers: PRV01\n", "Line 3: The providers to remove must be a list"),
    ("name: x\nsupply:\n  block_contracts:\n    - {name: b, beds: 2, tier: huge, postcode: ME4 4TR, weekly_price: 9}\n",
     "Line 4: The support tier of block contract 1 must be standard, enhanced or intensive"),
    (("name: x\nsupply:\n  block_contracts:\n    - name: b\n      beds: 2\n      tier: standard\n"
      "      service_type: hotel\n      postcode: ME4 4TR\n      weekly_price: 9\n"),
     "Line 7: The service type of block contract 1 must be one of: Supported accommodation; Supported tenancy"),
    ("name: x\ndemand:\n  adjustments:\n    - entries*2\n    - nonsense\n",
     "Line 5: Change 2 to demand cannot be read: write what changes, then * and a factor or + and an amount"),
    ("name: x\ndemand:\n  adjustments: [\"la_fostering->nowhere*2\"]\n",
     "Line 3: Change 1 to demand names a rate the forecast does not have"),
    ("name: a\nseed: &s 3\n", "Line 2: The file uses the YAML anchor &s"),
])
def test_a_files_problems_are_said_in_words_with_their_line(text, said):
    found = problems(text)
    assert any(m.startswith(said) for m in found), found
    for message in found:
        words = re.sub(r"Supported accommodation;.*", "", message)  # the service types' own names
        assert not NOT_PLAIN.search(words), message


def test_the_builders_file_is_the_form_as_typed_and_reads_back():
    form = blank_form() | {"name": "Uplift and a block", "block_beds": "6", "block_tier": "standard",
                           "block_postcode": "ME4 4TR", "block_weekly_price": "1,000", "price_intensive": "\u22123",
                           "remove_lots": ["A: lot", "A: lot"], "adjustments": "entries*1.1@16-17\n\n"}
    text = yaml_text(from_form(form))
    assert "&" not in text and "*id" not in text  # no anchors or aliases: the bounded reader takes it
    scenario = parse_scenario(text, "built.yaml")
    block = scenario.supply.block_contracts[0]
    assert (block.name, block.beds, block.tier.value, block.weekly_price) == ("Block contract in ME4 4TR", 6, "standard", 1000)
    assert [(c.tier.value, c.percent) for c in scenario.supply.price_changes] == [("intensive", -3)]
    assert scenario.supply.remove_lots == ["A: lot"] and scenario.demand.adjustments == ["entries*1.1@16-17"]
    assert (scenario.horizon_years, scenario.replications, scenario.seed, scenario.step_down_speed) == (5, 100, 2026, 1)


def test_a_blank_builder_makes_the_baseline():
    scenario = parse_scenario(yaml_text(from_form(blank_form() | {"name": "As it is"})), "b.yaml")
    assert describe(scenario) == ["Changes nothing: the market as it is today (a baseline)."]
    assert scenario.supply.block_contracts == [] and scenario.demand.adjustments == []


def test_the_examples_are_described_in_words():
    examples = Path(__file__).resolve().parents[2] / "scenarios" / "examples"
    block = parse_scenario((examples / "medway_intensive_block.yaml").read_text(), "x")
    assert describe(block) == [("Adds the block contract 'Chatham intensive block': 10 intensive support beds of "
                                "supported accommodation at ME4 4TR, £3,400 a week each; an empty bed costs £3,400 a week.")]
    gone = parse_scenario((examples / "lose_largest_provider.yaml").read_text(), "x")
    assert describe(gone, {"PRV02": "Orchard Homes"}) == ["Removes the provider Orchard Homes (PRV02)."]
    assert what_if_words("la_fostering->staying_put+0.1@17") == \
        "moves from looked after: fostering to staying put plus 0.1 (10 in 100), at 17"
    assert what_if_words("uasc_entries*1.5") == "arrivals of unaccompanied asylum-seeking children times 1.5, at every age"


def test_figures_and_changes_against_the_baseline():
    assert figure("money", 1234.4) == "£1,234" and figure("share", 0.125) == "12%" and figure("count", float("nan")) == "no figure"
    assert change("money", 1100, 1000) == "£100 more (+10%)"
    assert change("count", 9, 12) == "3 fewer (\u221225%)"
    assert change("count", 74.2, 74.6) == "no change"  # a change the figures do not show
    assert change("share", 0.15, 0.12) == "up from 12% to 15%"
    assert change("share", 0.08, 0.12) == "down from 12% to 8%"
    assert change("share", 0.121, 0.119) == "no change (12%)"


def test_progress_counts_replications_and_months_and_the_time_left():
    progress = RunProgress(replications=10, months=60)
    assert progress.words().startswith("Getting ready")
    progress.simulating()
    assert progress.words() == "0 of 10 replications done (0 of 600 months simulated). Working out the time left."
    progress.replicated(1)
    progress.replicated(4)
    assert progress.months_done == 240 and progress.seconds_left() is not None
    assert re.fullmatch(r"4 of 10 replications done \(240 of 600 months simulated\)\. "
                        r"(Almost done|About \d+ seconds left)\.", progress.words())
    assert time_left(3) == "Almost done." and time_left(42) == "About 40 seconds left."
    assert time_left(600) == "About 10 minutes left." and time_left(61 * 60) == "About 61 minutes left."
