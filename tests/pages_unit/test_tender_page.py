"""The tender scenarios page: a commissioner runs a scenario file from the page and compares saved
results side by side, with the change against a baseline; a bad file is refused with its line,
the typed text kept; managers read; the panel may not."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import select

from models.db import transaction
from models.enums import Role
from models.plans import ScenarioResult

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"
EXAMPLE = (EXAMPLES / "price_uplift_6pct.yaml").read_text()
SMALL = EXAMPLE.replace("horizon_years: 5", "horizon_years: 1").replace("replications: 100", "replications: 2")
BASELINE = (EXAMPLES / "baseline.yaml").read_text().replace("horizon_years: 5", "horizon_years: 1").replace(
    "replications: 100", "replications: 2")
# What no message may show: a key path, a pydantic message, an internal code
NOT_PLAIN = re.compile(r"body\.yaml|Field required|Input should|\b[a-z]+_[a-z_]+\b|penalty|reward|objective")


def finished(client, result_id: int, seconds: float = 120) -> dict:
    """The run's status once it has left 'running' (polled as the run page's script does)."""
    deadline = time.monotonic() + seconds
    while (status := client.get(f"/tender-page/runs/{result_id}/status").json())["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def error_summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.DOTALL)
    assert match, "no error summary"
    return match.group(0)


def test_a_commissioner_runs_a_scenario_and_compares_it_with_the_baseline(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/tender-page")
    assert page.status_code == 200 and 'id="run-scenario"' in page.text and 'id="build-scenario"' in page.text
    base = client.post("/tender-page/runs", data={"scenario_yaml": BASELINE, "file_name": "baseline.yaml"})
    assert base.status_code == 200 and "Started &#39;Baseline (the market as it is)&#39;" in base.text
    assert base.url.path == "/tender-page/runs/1" and 'id="scenario-file"' in base.text
    assert finished(client, 1)["status"] == "succeeded"
    uplift = client.post("/tender-page/runs", data={"scenario_yaml": SMALL, "file_name": "uplift.yaml"})
    assert uplift.url.path == "/tender-page/runs/2"
    assert finished(client, 2)["status"] == "succeeded"

    run = client.get("/tender-page/runs/2")
    assert 'id="run-figures"' in run.text and "Compare with the baseline" in run.text
    assert "horizon_years: 1" in run.text  # the file as it ran

    compared = client.get("/tender-page", params={"ids": [2, 1]})
    table = re.search(r'<table id="comparison".*?</table>', compared.text, re.DOTALL).group(0)
    assert "Change against baseline" in table and "Baseline (the market as it is) (baseline)" in table
    assert "Prices up 6%" in table
    # Shares are percentages, and so is their change: "up from 3% to 5%", never a difference of them
    share = re.search(r'<tr data-measure="share_over_20_miles">.*?</tr>', table, re.DOTALL).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", share, re.DOTALL)
    assert len(cells) == 3 and all(re.match(r"\d+%", c) for c in cells[:2])
    assert re.fullmatch(r"(no change \(\d+%\)|(up|down) from \d+% to \d+%)", cells[2].strip()), cells[2]
    cost = re.search(r'<tr data-measure="weekly_cost">.*?</tr>', table, re.DOTALL).group(0)
    change = re.findall(r"<td[^>]*>(.*?)</td>", cost, re.DOTALL)[2].strip()
    assert re.fullmatch(r"£[\d,]+ (more|less) \([+\u2212]\d+%\)", change), change  # prices up: costs up
    assert "more" in change
    assert "/tender-page/compare.png?ids=2&amp;ids=1&amp;baseline=1" in compared.text
    chart = client.get("/tender-page/compare.png", params={"ids": [2, 1], "baseline": 1})
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"


def test_a_bad_file_is_refused_with_its_line_and_the_text_kept(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    typed = "name: My uplift\nreplications: 0\nsupply:\n  block_contracts:\n    - {name: B, beds: 3, tier: huge, postcode: ME4 4TR, weekly_price: 900}\n"
    refused = client.post("/tender-page/runs", data={"scenario_yaml": typed, "file_name": "mine.yaml"},
                          follow_redirects=False)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    summary = error_summary(refused.text)
    assert 'href="#scenario-yaml"' in summary
    assert "Line 2: The number of replications must be a whole number from 1 to 1,000" in summary
    assert "Line 5: The support tier of block contract 1 must be standard, enhanced or intensive" in summary
    assert not NOT_PLAIN.search(re.sub(r"<[^>]+>", " ", summary)), summary
    assert 'id="scenario-yaml-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "name: My uplift\nreplications: 0" in refused.text and 'value="mine.yaml"' in refused.text  # kept
    with transaction(demo_engine) as session:
        assert session.scalars(select(ScenarioResult)).all() == []


def test_a_file_naming_what_the_market_does_not_have_is_refused_in_words(client, sign_in_as):
    sign_in_as(Role.commissioner)
    typed = ("name: Gone\ndemand:\n  forecast_scenario: Nothing saved\nsupply:\n  remove_providers: [PRV99]\n"
             "  block_contracts:\n    - {name: B, beds: 3, tier: standard, postcode: ZZ9 9ZZ, weekly_price: 900}\n")
    refused = client.post("/tender-page/runs", data={"scenario_yaml": typed, "action": "check"})
    assert refused.status_code == 422
    summary = error_summary(refused.text)
    assert "Line 5: There is no provider PRV99 in the market" in summary
    assert "Line 7: The postcode of block contract 1, ZZ9 9ZZ, is not in the ONS postcode directory" in summary
    assert "Line 3: There is no saved forecast scenario called Nothing saved" in summary


def test_checking_a_file_shows_the_market_it_leaves_without_running_it(client, sign_in_as, demo_engine):
    sign_in_as(Role.commissioner)
    checked = client.post("/tender-page/runs", data={"scenario_yaml": SMALL, "action": "check"})
    assert checked.status_code == 200 and 'id="checked"' in checked.text and "nothing to correct" in checked.text
    with transaction(demo_engine) as session:
        assert session.scalars(select(ScenarioResult)).all() == []


def test_a_comparison_of_results_that_do_not_exist_says_so_in_words(client, sign_in_as):
    sign_in_as(Role.director)
    for params in ({"ids": [41]}, {"ids": ["abc"], "year": "99", "baseline": "x"}):
        page = client.get("/tender-page", params=params, headers={"accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), params
        assert "One of the results to compare no longer exists" in page.text and 'id="comparison"' not in page.text
        assert "abc" not in page.text  # nothing from the address is repeated


def test_managers_read_without_the_forms_and_the_panel_is_refused(client, sign_in_as):
    sign_in_as(Role.director)
    page = client.get("/tender-page")
    assert page.status_code == 200 and 'id="run-scenario"' not in page.text and 'id="build-scenario"' not in page.text
    assert client.post("/tender-page/runs", data={"scenario_yaml": SMALL}).status_code == 403
    assert client.post("/tender-page/build", data={"name": "x"}).status_code == 403
    sign_in_as(Role.panel_member)
    assert client.get("/tender-page").status_code == 403
