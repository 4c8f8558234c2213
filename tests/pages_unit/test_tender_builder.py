"""The tender scenario builder: a commissioner who does not write YAML fills in a form, the page
writes the scenario file, checks it as a file is checked and runs it; a form with problems is
drawn again (422) with a summary linking to each field, the message beside it and everything
typed kept, and nothing is saved."""

from __future__ import annotations

import re

import yaml
from sqlalchemy import select
from test_tender_page import NOT_PLAIN, error_summary, finished

from models.db import transaction
from models.enums import Role
from models.plans import ScenarioResult
from scenarios.tender import parse_scenario

FORM = {
    "name": "Ten intensive beds in Chatham", "description": "Block contract beside the DPS",
    "block_name": "Chatham intensive block", "block_beds": "10", "block_tier": "intensive",
    "block_service_type": "supported_accommodation", "block_postcode": "me4 4tr", "block_weekly_price": "£3,400",
    "block_void_weekly_cost": "", "remove_providers": ["PRV02"], "price_enhanced": "6", "step_down_speed": "1.5",
    "adjustments": "uasc_entries*1.5\n", "horizon_years": "1", "replications": "2", "seed": "7",
}


def test_a_scenario_built_with_the_form_is_run_and_saved_with_the_file_it_wrote(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    started = client.post("/tender-page/build", data={**FORM, "action": "run"})
    assert started.status_code == 200 and started.url.path == "/tender-page/runs/1"
    assert "Started &#39;Ten intensive beds in Chatham&#39;" in started.text
    assert 'id="scenario-file"' in started.text and "Chatham intensive block" in started.text  # the file, shown
    assert finished(client, 1)["status"] == "succeeded"
    with transaction(demo_engine) as session:
        row = session.scalars(select(ScenarioResult)).one()
        assert row.status == "succeeded" and row.kpis and row.replications == 2 and row.months == 12
        assert row.seed == 7 and row.file_name == "scenario-builder.yaml"
        text = row.file_text
    data = yaml.safe_load(text)
    assert data["supply"]["block_contracts"] == [{
        "name": "Chatham intensive block", "beds": 10, "tier": "intensive", "service_type": "supported_accommodation",
        "postcode": "me4 4tr", "weekly_price": 3400}]
    assert data["supply"]["remove_providers"] == ["PRV02"]
    assert data["supply"]["price_changes"] == [{"tier": "enhanced", "percent": 6}]
    assert data["step_down_speed"] == 1.5 and data["demand"] == {"adjustments": ["uasc_entries*1.5"]}
    assert parse_scenario(text, "again.yaml").name == FORM["name"]  # an expert can take the file on


def test_checking_the_form_shows_the_file_it_makes_before_running(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    checked = client.post("/tender-page/build", data={**FORM, "action": "check"})
    assert checked.status_code == 200 and 'id="checked-yaml"' in checked.text
    shown = re.search(r'<pre id="checked-yaml">(.*?)</pre>', checked.text, re.DOTALL).group(1)
    assert "beds: 10" in shown and "weekly_price: 3400" in shown
    assert 'value="Ten intensive beds in Chatham"' in checked.text  # the form is still filled in
    assert re.search(r'value="PRV02" checked', checked.text)
    with transaction(demo_engine) as session:
        assert session.scalars(select(ScenarioResult)).all() == []


def test_a_bad_form_is_refused_beside_each_field_with_what_was_typed_kept(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    bad = {**FORM, "name": "", "block_beds": "ten", "block_tier": "", "block_postcode": "ZZ9 9ZZ",
           "price_enhanced": "lots", "step_down_speed": "0", "horizon_years": "99", "adjustments": "entries*2\nnonsense",
           "action": "run"}
    refused = client.post("/tender-page/build", data=bad, follow_redirects=False)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    summary = error_summary(refused.text)
    expected = {
        "scenario-name": "Enter the scenario&#39;s name",
        "block-beds": "The number of beds must be a whole number from 1 to 500",
        "block-tier": "Choose the support tier the beds are bought at",
        "price-enhanced": "The price change for enhanced support must be a number from -90 to 500",
        "step-down-speed": "The step-down speed must be a number more than 0, up to 10",
        "horizon-years": "The number of years to simulate must be a whole number from 1 to 10",
        # ... and, in the same round, what is checked once the rest can be read
        "block-postcode": "The postcode where the beds are, ZZ9 9ZZ, is not in the ONS postcode directory: check it",
        "demand-adjustments": "Change 2 to demand (line 2 of the box) cannot be read: write what changes, then * "
                              "and a factor or + and an amount, and optionally @ and the ages, for example entries*1.2@16-17",
    }
    for field, message in expected.items():
        assert f'<a href="#{field}">{message}</a>' in summary, (field, summary)
        # ... and beside the field, which is marked invalid
        assert re.search(rf'<p class="field-error" id="{field}-error">.*?{re.escape(message)}', refused.text), field
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', refused.text), field
    assert not NOT_PLAIN.search(re.sub(r"<[^>]+>", " ", summary)), summary
    # The summary lists them in the form's order
    links = re.findall(r'<a href="#([a-z-]+)">', summary)
    assert links.index("scenario-name") < links.index("block-beds") < links.index("block-postcode") \
        < links.index("demand-adjustments") < links.index("horizon-years")
    # What was typed is kept
    assert 'value="ten"' in refused.text and 'value="ZZ9 9ZZ"' in refused.text and 'value="lots"' in refused.text
    assert 'value="99"' in refused.text and "entries*2\nnonsense</textarea>" in refused.text
    assert re.search(r'value="PRV02" checked', refused.text)
    with transaction(demo_engine) as session:
        assert session.scalars(select(ScenarioResult)).all() == []


def test_the_form_and_the_file_are_refused_with_the_same_words(client, sign_in_as):
    """The builder's file goes through the same check as a typed one: the same reason, said for
    the field on the form and for the line in the file."""
    sign_in_as(Role.commissioner)
    form = client.post("/tender-page/build", data={**FORM, "block_postcode": "ZZ9 9ZZ", "action": "check"})
    assert form.status_code == 422
    assert "The postcode where the beds are, ZZ9 9ZZ, is not in the ONS postcode directory" in error_summary(form.text)
    typed = ("name: x\nsupply:\n  block_contracts:\n    - {name: B, beds: 3, tier: standard, postcode: ZZ9 9ZZ,"
             " weekly_price: 900}\n")
    file = client.post("/tender-page/runs", data={"scenario_yaml": typed, "action": "check"})
    assert "Line 4: The postcode of block contract 1, ZZ9 9ZZ, is not in the ONS postcode directory" in \
        error_summary(file.text)


def test_a_changed_demand_that_cannot_be_read_is_refused_for_its_line(client, sign_in_as):
    sign_in_as(Role.commissioner)
    refused = client.post("/tender-page/build", data={**FORM, "adjustments": "entries*2\nnonsense", "action": "check"})
    assert refused.status_code == 422
    summary = error_summary(refused.text)
    assert '<a href="#demand-adjustments">Change 2 to demand (line 2 of the box) cannot be read' in summary
    assert "for example entries*1.2@16-17" in summary
