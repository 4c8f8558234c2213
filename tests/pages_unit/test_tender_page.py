"""The tender scenarios page: a commissioner runs a scenario from the page and compares saved
results side by side; a bad file is refused with its line; managers read; the panel may not."""

from __future__ import annotations

import time
from pathlib import Path

from models.enums import Role

EXAMPLE = (Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "price_uplift_6pct.yaml").read_text()
SMALL = EXAMPLE.replace("horizon_years: 5", "horizon_years: 1").replace("replications: 100", "replications: 2")


def test_a_commissioner_runs_a_scenario_and_compares_it(client, sign_in_as):
    sign_in_as(Role.commissioner)
    page = client.get("/tender-page")
    assert page.status_code == 200 and 'id="run-scenario"' in page.text
    started = client.post("/tender-page/runs", data={"scenario_yaml": SMALL, "file_name": "uplift.yaml"})
    assert "Started &#39;Prices up 6%&#39;" in started.text or "Started 'Prices up 6%'" in started.text
    deadline = time.monotonic() + 120
    while 'data-result="1"' not in (page := client.get("/tender-page").text) or "running" in page:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    compared = client.get("/tender-page", params={"ids": [1]})
    assert 'id="comparison"' in compared.text and "1: Prices up 6%" in compared.text
    assert "Cost per placed week" in compared.text and "/tender-page/compare.png?ids=1" in compared.text


def test_a_bad_file_is_refused_with_its_line(client, sign_in_as):
    sign_in_as(Role.commissioner)
    refused = client.post("/tender-page/runs", data={"scenario_yaml": "name: x\nreplications: 0\n"})
    assert "Not run" in refused.text and "line 2" in refused.text and 'data-result=' not in refused.text


def test_managers_read_without_the_run_form_and_the_panel_is_refused(client, sign_in_as):
    sign_in_as(Role.director)
    page = client.get("/tender-page")
    assert page.status_code == 200 and 'id="run-scenario"' not in page.text
    assert client.post("/tender-page/runs", data={"scenario_yaml": SMALL}).status_code == 403
    sign_in_as(Role.panel_member)
    assert client.get("/tender-page").status_code == 403
