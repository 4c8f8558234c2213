"""The tenders pages: a commissioner uploads the demo council's tender and sees every bid ranked
per lot with its scores and flags; the person who uploaded it cannot award it, a head of service
can, once; a wrong file is refused naming its file, row and column, nothing kept; bid prices
are shown only to commissioners, the head of service and the director."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flash import done_of, problem_of
from sqlalchemy import func, select

from models.db import transaction
from models.enums import Role
from models.supply import Framework, LotAward, TenderEvaluation
from providers.demo.tender import write_demo_tender


@pytest.fixture
def demo_files(tmp_path) -> dict:
    folder = write_demo_tender(tmp_path / "tender").parent
    return {field: (name, (folder / name).read_bytes()) for field, name in (
        ("tender_file", "tender.yaml"), ("bids_file", "bids.csv"), ("scores_file", "scores.csv"),
        ("moderation_file", "moderation.csv"))}


def upload(client, files: dict):
    return client.post("/tenders", files=files, follow_redirects=False)


def test_a_tender_is_ranked_and_awarded_by_someone_else(client, sign_in_as, demo_engine, demo_files):
    commissioner = sign_in_as(Role.commissioner)
    done = upload(commissioner, demo_files)
    assert done.status_code == 303 and done.headers["location"] == "/tenders/1"
    assert "Evaluated" in done_of(done)
    page = commissioner.get("/tenders/1").text
    assert len(re.findall(r'<table id="lot-\d+"', page)) == 4
    lot1 = page[page.index('<table id="lot-1"'):page.index("</table>", page.index('<table id="lot-1"'))]
    assert "Abnormally low price" in lot1 and 'data-bidder="NEW01"' in lot1
    assert 'data-bidder="NEW01" data-awarded' not in lot1  # flagged and left out
    assert "Tied on total score with PRV16" in page and "moderated, evaluators 3 apart" in page
    assert 'id="award"' not in page  # the uploader may not award
    refused = commissioner.post("/tenders/1/award", follow_redirects=False)
    assert refused.status_code == 403

    head = sign_in_as(Role.head_of_service)
    page = head.get("/tenders/1").text
    assert '<form method="post" action="/tenders/1/award" id="award"' in page
    awarded = head.post("/tenders/1/award", follow_redirects=False)
    assert awarded.status_code == 303 and "Awarded: framework" in done_of(awarded)
    with transaction(demo_engine) as session:
        row = session.get(TenderEvaluation, 1)
        framework = session.get(Framework, row.framework_id)
        assert framework.name == row.name and len(framework.lots) == 4
        assert session.scalar(select(func.count()).select_from(LotAward)) == len(
            re.findall(r'data-awarded="yes"', page))
    again = head.post("/tenders/1/award", follow_redirects=False)
    assert "already been awarded" in problem_of(again)
    csv_rows = list(csv.DictReader(io.StringIO(head.get("/tenders/1/ranking.csv").text)))
    assert len(csv_rows) == 38 and {r["Awarded"] for r in csv_rows} == {"yes", "no"}


def test_a_wrong_file_is_refused_naming_file_row_and_column_and_nothing_is_kept(client, sign_in_as, demo_engine,
                                                                              demo_files):
    commissioner = sign_in_as(Role.commissioner)
    name, data = demo_files["bids_file"]
    lines = data.decode().splitlines()
    lines[3] = lines[3].replace(",1,", ",9,", 1)  # row 4 of the spreadsheet: a lot the tender does not have
    refused = upload(commissioner, demo_files | {"bids_file": (name, ("\n".join(lines) + "\n").encode())})
    assert refused.status_code == 422
    summary = refused.text[refused.text.index('<div class="error-summary"'):]
    assert '<a href="#bids-file">bids.csv row 4, column lot: there is no lot 9 in this tender' in summary
    assert 'id="bids-file-error"' in refused.text and "<title>Error: Tenders" in refused.text
    missing = upload(commissioner, {"tender_file": demo_files["tender_file"]})
    assert missing.status_code == 422 and "Choose the bids to upload" in missing.text
    with transaction(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(TenderEvaluation)) == 0


@pytest.mark.parametrize(("role", "reads", "uploads"), [
    (Role.commissioner, True, True), (Role.head_of_service, True, True), (Role.director, True, False),
    (Role.panel_member, False, False), (Role.service_manager, False, False), (Role.admin, False, False)])
def test_only_commissioners_and_senior_managers_see_bid_prices(client, sign_in_as, role, reads, uploads):
    page = sign_in_as(role).get("/tenders")
    assert page.status_code == (200 if reads else 403)
    assert ('id="upload-tender"' in page.text) == uploads
    assert (client.post("/tenders", files={}, follow_redirects=False).status_code == 403) == (not uploads)
    assert client.get("/tenders/999").status_code == (404 if reads else 403)


def test_a_commissioner_tries_the_award_options_before_the_award(client, sign_in_as, demo_engine, demo_files):
    from api import scenario_runs
    from models.plans import ScenarioResult

    commissioner = sign_in_as(Role.commissioner)
    upload(commissioner, demo_files)
    page = commissioner.get("/tenders/1").text
    options = page[page.index('id="award-options"'):page.index("</section>", page.index('id="award-options"'))]
    assert "over the framework's 4 years" in options
    for words in ("Baseline: the market today", "Award as evaluated (top 4)", "Award wider (the top 6 bids of each "
                  "lot)", "Quality weighted 50%"):
        assert f"<li>{words}</li>" in options
    started = commissioner.post("/tenders/1/options", follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"].startswith("/tender-page?ids=1&ids=2&ids=3&ids=4")
    assert "Started 4 runs: the award options of" in done_of(started)
    for result_id in (1, 2, 3, 4):  # stop the runs: what they start is the point here, not their figures
        commissioner.post(f"/tender-page/runs/{result_id}/cancel")
    assert all(scenario_runs.wait(demo_engine, i, timeout=60) for i in (1, 2, 3, 4))
    with transaction(demo_engine) as session:
        rows = session.scalars(select(ScenarioResult).order_by(ScenarioResult.id)).all()
        assert [r.file_name for r in rows] == ["baseline.yaml", "award-as-evaluated.yaml", "award-wider.yaml",
                                               "award-quality.yaml"]
        assert "tender: 1\n" in rows[3].file_text and "quality_weight: 50" in rows[3].file_text
    director = sign_in_as(Role.director)  # reads the ranking, does not run scenarios
    assert 'id="award-options"' not in director.get("/tenders/1").text
    assert director.post("/tenders/1/options", follow_redirects=False).status_code == 403
    assert sign_in_as(Role.commissioner).post("/tenders/9/options").status_code == 404
