"""The forecast page: commissioners and managers see the fan chart and the beds needed with
their ranges; commissioners save a what-if scenario (and a bad one is refused, nothing saved);
the panel is not shown planning figures."""

from __future__ import annotations

from models.enums import Role


def test_a_commissioner_sees_the_chart_and_the_beds_with_their_ranges(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/forecast-page", params={"horizon": 3})
    assert page.status_code == 200
    assert 'id="fan-chart"' in page.text and "/forecast-page/fan-chart.png?horizon=3" in page.text
    assert 'id="forecast-beds"' in page.text and "Supported accommodation" in page.text
    assert client.get("/forecast-page/fan-chart.png", params={"horizon": 3}).headers["content-type"] == "image/png"


def test_a_commissioner_saves_a_scenario_and_the_page_shows_it(client, sign_in_as):
    sign_in_as(Role.commissioner)
    saved = client.post("/forecast-page/scenarios", data={
        "name": "More UASC", "adjustments": "uasc_entries*1.5\n", "continue_to_25_share": "0.4"})
    assert saved.status_code == 200 and "Saved the scenario" in saved.text
    assert '<option value="More UASC" selected>' in saved.text


def test_a_scenario_that_cannot_be_read_is_refused_and_nothing_saved(client, sign_in_as):
    sign_in_as(Role.commissioner)
    refused = client.post("/forecast-page/scenarios", data={"name": "Bad", "adjustments": "entries*2\nnonsense"})
    assert "Scenario not saved" in refused.text and "nonsense" in refused.text
    assert '<option value="Bad"' not in client.get("/forecast-page").text


def test_a_manager_reads_the_forecast_without_the_save_form_and_the_panel_is_refused(client, sign_in_as):
    sign_in_as(Role.director)
    page = client.get("/forecast-page")
    assert page.status_code == 200 and 'id="save-scenario"' not in page.text
    assert client.post("/forecast-page/scenarios", data={"name": "x", "adjustments": ""}).status_code == 403
    sign_in_as(Role.panel_member)
    assert client.get("/forecast-page").status_code == 403
