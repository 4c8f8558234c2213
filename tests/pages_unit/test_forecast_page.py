"""The forecast page: commissioners and managers see, from the latest data date, the fan chart and
the beds needed with their ranges said in words; bad options are refused the GOV.UK way (an HTML
page, 422, the summary linking to the field, what was typed kept, never clamped); commissioners
save a what-if scenario (and a bad one is refused beside its field, nothing saved); the panel is
not shown planning figures."""

from __future__ import annotations

import re

from models.enums import Role


def error_summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.DOTALL)
    assert match, "no error summary"
    return match.group(0)


def latest_data_date() -> str:
    from api.routes.forecast import returns_folder
    from scenarios.ssda903 import history_from_folder

    last = history_from_folder(returns_folder(), repair=True).census_dates[-1]
    return f"{last.day} {last:%B %Y}"


def test_a_commissioner_sees_the_chart_and_the_beds_with_their_ranges(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/forecast-page", params={"horizon": 3})
    assert page.status_code == 200
    assert 'id="fan-chart"' in page.text and "/forecast-page/fan-chart.png?horizon=3" in page.text
    assert 'id="forecast-beds"' in page.text and "Supported accommodation" in page.text
    assert client.get("/forecast-page/fan-chart.png", params={"horizon": 3}).headers["content-type"] == "image/png"


def test_the_forecast_states_its_latest_data_date_and_starts_there(client, sign_in_as):
    sign_in_as(Role.director)
    page = client.get("/forecast-page", params={"horizon": 2})
    latest = latest_data_date()
    assert f"The latest data are the council's SSDA903 returns to <strong>{latest}</strong>" in page.text
    assert "the forecast starts from that date and looks 2 years ahead" in page.text
    assert f"At {latest} (latest data)" in page.text
    year = int(latest.split()[-1])
    assert f"Beds needed at 31 March {year + 2}" in page.text


def test_the_ranges_are_said_in_words(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/forecast-page")
    example = re.search(r'<p id="range-example">(.*?)</p>', page.text, re.DOTALL).group(1)
    assert re.search(r"There are 80 in 100 chances the number will be between \d+ and \d+, and 95 in 100 "
                     r"chances it will be between \d+ and \d+\.", " ".join(example.split())), example
    assert "80 in 100 chances between" in page.text and re.search(r'data-label="80 in 100 chances between">\d+ and \d+',
                                                                  page.text)


def test_years_ahead_that_are_not_a_number_are_refused_with_an_html_page(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/forecast-page", params={"horizon": "abc"}, headers={"accept": "text/html"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    summary = error_summary(page.text)
    assert '<a href="#horizon">Enter the years ahead as a whole number from 1 to 10, like 5</a>' in summary
    assert 'id="horizon-error"' in page.text and 'value="abc"' in page.text  # what was typed, kept
    assert "<title>Error: Sufficiency forecast" in page.text and 'id="fan-chart"' not in page.text


def test_years_ahead_out_of_range_are_refused_in_words_not_clamped(client, sign_in_as):
    sign_in_as(Role.commissioner)
    for typed in ("99", "0", "-1"):
        page = client.get("/forecast-page", params={"horizon": typed})
        assert page.status_code == 422, typed
        summary = error_summary(page.text)
        assert "from 1 to 10" in summary and f'value="{typed}"' in page.text
        assert "31 March" not in page.text.split('id="forecast-options"')[0]  # no forecast was drawn


def test_a_scenario_that_is_not_saved_is_refused_without_repeating_the_address(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/forecast-page", params={"scenario": "Call 0800 000 000 now"})
    assert page.status_code == 422
    assert '<a href="#scenario">Choose one of the saved scenarios, or the forecast as observed</a>' in error_summary(page.text)
    assert "0800" not in page.text  # no message text is taken from the address


def test_a_commissioner_saves_a_scenario_and_the_page_shows_it(client, sign_in_as):
    sign_in_as(Role.commissioner)
    saved = client.post("/forecast-page/scenarios", data={
        "name": "More UASC", "adjustments": "uasc_entries*1.5\n", "continue_to_25_share": "0.4"})
    assert saved.status_code == 200 and "Saved the scenario" in saved.text
    assert '<option value="More UASC" selected>' in saved.text


def test_a_scenario_that_cannot_be_read_is_refused_beside_its_field_and_nothing_saved(client, sign_in_as):
    sign_in_as(Role.commissioner)
    refused = client.post("/forecast-page/scenarios", data={
        "name": "Bad", "adjustments": "entries*2\nnonsense", "continue_to_25_share": "lots", "description": "Why not"})
    assert refused.status_code == 422
    summary = error_summary(refused.text)
    assert '<a href="#scenario-adjustments">Line 2 of the changes cannot be read' in summary
    assert '<a href="#scenario-continue">Enter the share as a number from 0 to 1, like 0.35</a>' in summary
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|RATE", re.sub(r"<[^>]+>", " ", summary))
    # What was typed is kept
    assert 'value="Bad"' in refused.text and "entries*2\nnonsense</textarea>" in refused.text
    assert 'value="lots"' in refused.text and "Why not</textarea>" in refused.text
    assert '<option value="Bad"' not in client.get("/forecast-page").text


def test_a_manager_reads_the_forecast_without_the_save_form_and_the_panel_is_refused(client, sign_in_as):
    sign_in_as(Role.director)
    page = client.get("/forecast-page")
    assert page.status_code == 200 and 'id="save-scenario"' not in page.text
    assert client.post("/forecast-page/scenarios", data={"name": "x", "adjustments": ""}).status_code == 403
    sign_in_as(Role.panel_member)
    assert client.get("/forecast-page").status_code == 403
