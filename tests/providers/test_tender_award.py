"""The demo council's tender evaluated and awarded: the award writes exactly the framework the
ranking shows (its lots, the providers accepted on each, their prices and beds) in one
transaction, on SQLite and PostgreSQL; a refused award writes nothing. Bids kept in Excel read
as their CSV does, with Excel's row numbers; a workbook that unpacks to gigabytes is refused
unread. The command line does the same."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from models.accounts import AuditEvent
from models.db import transaction
from models.supply import Framework, Lot, LotAward, Provider
from providers.demo import build_demo, load_authorities
from providers.demo.tender import write_demo_tender
from providers.tender_award import AwardRefused, award
from providers.tender_evaluation import evaluate
from providers.tender_files import TenderFilesRefused, read_tender

AS_OF = dt.date(2026, 11, 23)


@pytest.fixture
def demo_tender(tmp_path) -> Path:
    return write_demo_tender(tmp_path / "tender")


def _with_demo(engine) -> None:
    with transaction(engine) as session:
        load_authorities(session)
        build_demo(session, as_of=AS_OF)


def test_the_demo_tender_has_what_an_evaluation_panel_meets(demo_tender):
    evaluation = evaluate(read_tender(demo_tender))
    spec = evaluation.tender.spec
    bidders = {b.bidder_id for b in evaluation.tender.bids}
    assert len(spec.lots) >= 4 and len(bidders) >= 20
    flags = {f for r in evaluation.ranked() for f in r.flags}
    assert {"tie", "abnormally_low"} <= flags and "needs_moderation" not in flags
    assert evaluation.tender.agreed  # a score the evaluators disagreed on, moderated
    assert evaluation.award_problems() == []


def test_the_award_writes_exactly_the_framework_the_ranking_shows(engine, demo_tender):
    _with_demo(engine)
    evaluation = evaluate(read_tender(demo_tender))
    with transaction(engine) as session:
        providers_before = session.scalar(select(func.count()).select_from(Provider))
        framework_id = award(session, evaluation, "cli").id
    with transaction(engine) as session:
        framework = session.get(Framework, framework_id)
        assert (framework.name, framework.price_weight, framework.quality_weight) == (
            evaluation.tender.spec.name, 0.6, 0.4)
        assert [(lot.number, lot.name, lot.service_type.value) for lot in framework.lots] == [
            (lot.number, lot.name, lot.service_type.value) for lot in evaluation.tender.spec.lots]
        for lot in framework.lots:
            shown = {(r.bid.bidder_id, r.rank, r.bid.capacity_beds, tuple(sorted((t.value, p) for t, p in
                                                                                 r.bid.prices.items())))
                     for r in evaluation.awarded(lot.number)}
            written = {(a.provider_id, a.rank, a.capacity_beds,
                        tuple(sorted((t, a.price(t)) for t in ("standard", "enhanced", "intensive")
                                     if a.price(t) is not None)))
                       for a in lot.awards}
            assert written == shown and written
        newcomers = {r.bid.bidder_id for r in evaluation.awarded()} - {f"PRV{i:02d}" for i in range(1, 29)}
        assert session.scalar(select(func.count()).select_from(Provider)) == providers_before + len(newcomers)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "tender_awarded")).one()
        assert event.entity_id == str(framework_id) and event.after["lots"]["4"]


def test_an_award_refused_writes_nothing(engine, demo_tender, tmp_path):
    _with_demo(engine)
    evaluation = evaluate(read_tender(demo_tender))
    with transaction(engine) as session:
        award(session, evaluation, "cli")
    counts = _counts(engine)
    with pytest.raises(AwardRefused, match="already exists"), transaction(engine) as session:
        award(session, evaluation, "cli")
    # Scores too far apart and not moderated: refused too, naming them.
    (demo_tender.parent / "moderation.csv").write_text("bidder_id,lot,criterion,agreed_score\n")
    unmoderated = evaluate(read_tender(demo_tender))
    with pytest.raises(AwardRefused, match="moderate these scores first"), transaction(engine) as session:
        award(session, unmoderated, "cli")
    assert _counts(engine) == counts


def _counts(engine) -> tuple[int, ...]:
    with transaction(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Framework, Lot, LotAward, Provider,
                                                                                   AuditEvent))


def _workbook(rows: list[list], sheet: str = "Bids") -> bytes:
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["Bids received by the deadline"])
    page = book.create_sheet(sheet)
    for row in rows:
        page.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_bids_kept_in_excel_read_as_their_csv_with_excels_row_numbers(demo_tender):
    rows = list(csv.reader((demo_tender.parent / "bids.csv").open(encoding="utf-8")))
    typed = [rows[0]] + [[int(c) if c.isdigit() else (float(c) if c.replace(".", "", 1).isdigit() else (c or None))
                          for c in row] for row in rows[1:]]
    xlsx = demo_tender.parent / "bids.xlsx"
    xlsx.write_bytes(_workbook(typed))
    text = demo_tender.read_text().replace("bids: bids.csv", "bids: {file: bids.xlsx, sheet: Bids}")
    demo_tender.write_text(text)
    from_excel = read_tender(demo_tender)
    assert [(b.bidder_id, b.lot, b.prices, b.capacity_beds) for b in from_excel.bids] == [
        (b.bidder_id, b.lot, b.prices, b.capacity_beds) for b in read_tender(demo_tender, bids=demo_tender.parent /
                                                                             "bids.csv").bids]
    typed[4][3] = "£1,200"  # Excel row 5 (the header is row 1)
    xlsx.write_bytes(_workbook(typed))
    with pytest.raises(TenderFilesRefused) as refused:
        read_tender(demo_tender)
    assert str(refused.value.problems[0]).startswith("bids.xlsx (sheet Bids) row 5, column price_standard: "
                                                     "'£1,200' is not a number")
    xlsx.write_bytes(_workbook(typed, sheet="Sheet2"))
    with pytest.raises(TenderFilesRefused, match="the workbook has no sheet named 'Bids'; its sheets are: Notes, "
                                                 "Sheet2"):
        read_tender(demo_tender)


def test_a_workbook_that_would_unpack_to_gigabytes_is_refused_unread(demo_tender):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    (demo_tender.parent / "bids.xlsx").write_bytes(bomb.getvalue())
    assert len(bomb.getvalue()) < 1024 * 1024  # a few hundred kilobytes on disk
    with pytest.raises(TenderFilesRefused, match=r"the workbook unpacks to 300 MB; the limit is 200 MB"):
        read_tender(demo_tender, bids=demo_tender.parent / "bids.xlsx")


def test_the_command_line_evaluates_writes_the_ranking_and_awards(tmp_path, monkeypatch):
    from api.cli import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'placematch.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--as-of", AS_OF.isoformat()]).exit_code == 0
    written = runner.invoke(app, ["tender", "example", str(tmp_path / "t")])
    assert written.exit_code == 0, written.output
    done = runner.invoke(app, ["tender", "evaluate", str(tmp_path / "t" / "tender.yaml"), "--out", str(tmp_path / "o"),
                               "--award"])
    assert done.exit_code == 0, done.output
    assert "Awarded: framework" in done.output and "Abnormally low price" in done.output
    header = (tmp_path / "o" / "ranking.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Lot,Rank,Bidder,Bidder reference,Weekly price (lot's tier mix),Standard weekly price")
    (tmp_path / "t" / "bids.csv").write_text("bidder_id,bidder_name,lot,capacity_beds\nA,Alder,9,3\n")
    refused = runner.invoke(app, ["tender", "evaluate", str(tmp_path / "t" / "tender.yaml")])
    assert refused.exit_code == 1 and "bids.csv row 2, column lot: there is no lot 9" in refused.output


def test_an_uploaded_tender_is_kept_whole_ranked_again_and_awarded_by_another(engine, demo_tender):
    """providers.tender_store on SQLite and PostgreSQL: the files kept as bytes, the ranking
    worked out again from them, the award refused to its uploader and made by another."""
    from models.accounts import User
    from models.enums import Role
    from models.supply import TenderEvaluation
    from providers.tender_store import award_kept, evaluation_of, save_upload

    _with_demo(engine)
    folder = demo_tender.parent
    files = {part: (f"{part}.csv", (folder / f"{part}.csv").read_bytes()) for part in ("bids", "scores", "moderation")}
    with transaction(engine) as session:
        uploader = User(username="c.one", role=Role.commissioner, full_name="C One", password_hash="x")
        head = User(username="h.one", role=Role.head_of_service, full_name="H One", password_hash="x")
        session.add_all([uploader, head])
        session.flush()
        row = save_upload(session, ("tender.yaml", demo_tender.read_text()), files, head)
        kept_id = row.id
    with transaction(engine) as session:
        row = session.get(TenderEvaluation, kept_id)
        assert row.bids_data == files["bids"][1] and len(row.sha256) == 64
        again = evaluation_of(row)
        assert [(r.bid.bidder_id, r.rank) for r in again.ranked()] == [
            (r.bid.bidder_id, r.rank) for r in evaluate(read_tender(demo_tender)).ranked()]
        head = session.scalars(select(User).where(User.username == "h.one")).one()
        with pytest.raises(AwardRefused, match="you uploaded these bids"):
            award_kept(session, row, head)
    with transaction(engine) as session:
        row = session.get(TenderEvaluation, kept_id)
        other = User(username="d.one", role=Role.director, full_name="D One", password_hash="x")
        session.add(other)
        session.flush()
        framework = award_kept(session, row, other)
        assert row.framework_id == framework.id and row.awarded_by_id == other.id
    # A wrong file is refused whole, and nothing is kept.
    with pytest.raises(TenderFilesRefused), transaction(engine) as session:
        save_upload(session, ("tender.yaml", demo_tender.read_text()),
                    files | {"bids": ("bids.csv", b"bidder_id,bidder_name,lot,capacity_beds\nA,Alder,9,3\n")},
                    session.scalars(select(User).where(User.username == "c.one")).one())
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(TenderEvaluation)) == 1
