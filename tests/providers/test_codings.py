"""The codings councils use (issue 16, part 1): each table read as placematch's own code, each
refusal naming the forms accepted; and through the importer, a file written as a case system
writes it (sex F, legal status C2, Ofsted grade 2, placement type H5) imports, while an
unknown spelling is refused naming its file, row and column with nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_interchange import (
    one,
    referral,
    refused,
    table_counts,
    vacancy,
    write_referrals,
    write_vacancies,
)

from models.db import transaction
from models.people import Referral
from models.supply import Property, Provider
from providers import codings
from providers.csvfiles import CellError
from providers.interchange import import_referrals, import_vacancies


def read(column: str, files: str = "referrals"):
    spec = (codings.REFERRAL_CODINGS if files == "referrals" else codings.VACANCY_CODINGS)[column]
    return codings.reader(*spec)


@pytest.mark.parametrize("cell, code", [
    ("1", "male"), ("M", "male"), ("Male", "male"), ("male", "male"), (" m ", "male"),
    ("2", "female"), ("F", "female"), ("FEMALE", "female"), ("Girl", "female"),
])
def test_sex_as_the_ssda903_and_case_systems_write_it(cell, code):
    assert read("sex")(cell) == code


def test_a_homes_sex_may_be_any_and_an_unknown_one_is_refused_naming_the_forms():
    assert read("sex", "vacancies")("Mixed") == "any" and read("sex", "vacancies")("2") == "female"
    with pytest.raises(CellError, match=r"^'X' is not a valid sex: give one of male, female, any, or as councils' "
                                        r"files write them: 1, M, Boy, 2, F, Girl, Mixed, Both, All$"):
        read("sex", "vacancies")("X")
    with pytest.raises(CellError, match="'3' is not a valid sex"):
        read("sex", "vacancies")("3")


@pytest.mark.parametrize("cell, code", [
    ("C2", "looked_after"), ("c1", "looked_after"), ("V4", "looked_after"), ("CLA", "looked_after"),
    ("Looked after", "looked_after"), ("looked_after", "looked_after"), ("Eligible child", "eligible"),
    ("relevant", "relevant"), ("Former relevant", "former_relevant"), ("former-relevant", "former_relevant"),
    ("Care leaver", "former_relevant"),
])
def test_legal_status_as_ssda903_codes_and_words(cell, code):
    assert read("legal_status")(cell) == code


@pytest.mark.parametrize("cell", ["C3", "care", "qualifying"])
def test_a_legal_status_no_table_reads_is_refused_naming_the_forms(cell):
    with pytest.raises(CellError) as refused_cell:
        read("legal_status")(cell)
    message = str(refused_cell.value)
    assert message.startswith(f"{cell!r} is not a valid legal status: give one of looked_after, eligible, relevant, "
                              "former_relevant")
    assert "C2" in message and "Former relevant" not in message.split("them:")[0]


@pytest.mark.parametrize("cell, code", [
    ("U3", "foster_care"), ("K2", "childrens_home"), ("H5", "supported_accommodation"),
    ("K3", "supported_accommodation"), ("P2", "supported_tenancy"), ("E1", "supported_lodgings"),
    ("Z2", "staying_put"), ("B", "emergency"), ("Children's home", "childrens_home"),
    ("Outreach", "floating_support"), ("supported_lodgings", "supported_lodgings"),
])
def test_placement_types_as_ssda903_place_and_oc3_accom_codes(cell, code):
    assert read("service_type", "vacancies")(cell) == code


@pytest.mark.parametrize("cell, code", [
    ("1", "outstanding"), ("Outstanding", "outstanding"), ("2", "good"), ("Good", "good"),
    ("3", "requires_improvement"), ("Requires improvement to be good", "requires_improvement"),
    ("requires_improvement", "requires_improvement"), ("4", "inadequate"), ("INADEQUATE", "inadequate"),
])
def test_ofsted_grades_as_words_or_1_to_4(cell, code):
    assert read("ofsted_grade", "vacancies")(cell) == code


@pytest.mark.parametrize("cell", ["5", "0", "Satisfactory", "R1"])
def test_grades_and_types_no_table_reads_are_refused(cell):
    with pytest.raises(CellError, match="is not a valid"):
        read("ofsted_grade", "vacancies")(cell)
    if cell == "R1":  # a residential care home (CQC): not a kind of home placematch matches
        with pytest.raises(CellError, match="'R1' is not a valid service type"):
            read("service_type", "vacancies")(cell)


def test_a_file_written_as_a_case_system_writes_it_imports(engine, tmp_path):
    import_referrals(engine, write_referrals(tmp_path, [
        referral(id="R1", sex="F", legal_status="C2"), referral(id="R2", sex="1", legal_status="Former relevant")]))
    import_vacancies(engine, write_vacancies(tmp_path, [vacancy(sex="Mixed", ofsted_grade="2", service_type="H5")]))
    with transaction(engine) as s:
        got = {r.id: (r.sex.value, r.legal_status.value) for r in s.scalars(select(Referral))}
        home = s.scalars(select(Property)).one()
        grade = s.scalars(select(Provider)).one().ofsted_grade
    assert got == {"R1": ("female", "looked_after"), "R2": ("male", "former_relevant")}
    assert (home.sex.value, home.service_type.value, grade.value) == ("any", "supported_accommodation", "good")


def test_an_unknown_spelling_names_its_file_row_and_column_and_nothing_is_written(engine, tmp_path):
    before = table_counts(engine)
    failure = refused(engine, tmp_path, import_referrals,
                      write_referrals(tmp_path, [referral(id="R1"), referral(id="R2", sex="X")]))
    one(failure, "referrals.csv", 3, "sex", "'X' is not a valid sex", "1, M, Boy, 2, F, Girl")
    mixed = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, [referral(id="R1", sex="Mixed")]))
    assert "'Mixed' is not a valid sex" in str(mixed)  # "mixed" is a home's word, not a young person's
    assert table_counts(engine) == before


# --- other names for the columns -------------------------------------------------------------


def test_every_alias_names_a_documented_column_and_none_hides_one():
    from providers.interchange import (
        REFERRAL_COLUMNS,
        REFERRAL_OPTIONAL_COLUMNS,
        VACANCY_COLUMNS,
        VACANCY_OPTIONAL_COLUMNS,
    )

    for aliases, documented in ((codings.REFERRAL_COLUMN_ALIASES, REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS),
                                (codings.VACANCY_COLUMN_ALIASES, VACANCY_COLUMNS + VACANCY_OPTIONAL_COLUMNS)):
        assert set(aliases.values()) <= set(documented)
        assert not set(aliases) & set(documented)


def headed(path, renames: dict[str, str]):
    """The file with its header's columns renamed as a case system's export heads them."""
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = ",".join(renames.get(c, c) for c in lines[0].rstrip("\r\n").split(",")) + "\n"
    path.write_text("".join(lines))
    return path


def test_a_file_headed_as_a_case_system_exports_it_imports_and_its_errors_say_the_heading(engine, tmp_path):
    renames = {"id": "CHILD", "date_of_birth": "DOB", "sex": "Gender", "legal_status": "LS",
               "referred_on": "Referral date"}
    import_referrals(engine, headed(write_referrals(tmp_path, [referral(id="R1", sex="2", legal_status="C2")]),
                                    renames))
    with transaction(engine) as s:
        r = s.get(Referral, "R1")
        assert (r.sex.value, r.legal_status.value) == ("female", "looked_after")
    failure = refused(engine, tmp_path, import_referrals,
                      headed(write_referrals(tmp_path, [referral(id="R2", sex="X")]), renames))
    error = one(failure, "referrals.csv", 2, "sex", "'X' is not a valid sex")
    assert str(error).startswith("referrals.csv row 2, column sex (headed Gender in the file): ")


def test_a_heading_no_table_knows_is_still_an_unknown_column(engine, tmp_path):
    failure = refused(engine, tmp_path, import_referrals,
                      headed(write_referrals(tmp_path, [referral(id="R1")]), {"sex": "Sex at birth"}))
    one(failure, "referrals.csv", 1, "sex at birth", "unknown column")


# --- Excel, wherever CSV is ------------------------------------------------------------------


def workbook(path, rows: list[dict], columns: list[str], sheet: str = "Referrals", first: str | None = "Notes"):
    """The rows as a sheet of a workbook, behind a notes sheet as councils' workbooks often have."""
    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    if first:
        notes.title = first
        notes.append(["Exported from the case system"])
        data = book.create_sheet(sheet)
    else:
        notes.title, data = sheet, notes
    data.append(columns)
    for row in rows:
        data.append([row.get(c, "") for c in columns])
    book.save(path)
    return path


def test_a_workbook_sheet_imports_and_an_error_on_row_7_names_row_7(engine, tmp_path):
    from test_interchange import REF_ALL

    rows = [referral(id=f"R{k}", sex="F" if k % 2 else "M", legal_status="C2") for k in range(1, 8)]
    rows[5]["tier"] = "enhnced"  # the 6th young person: Excel's row 7 (the header is row 1)
    path = workbook(tmp_path / "referrals.xlsx", rows, list(REF_ALL))
    failure = refused(engine, tmp_path, lambda e, p: import_referrals(e, p, sheet="Referrals"), path)
    one(failure, "referrals.xlsx", 7, "tier", "'enhnced' is not a valid tier")
    rows[5]["tier"] = "enhanced"
    import_referrals(engine, workbook(tmp_path / "referrals.xlsx", rows, list(REF_ALL)), sheet="Referrals")
    with transaction(engine) as s:
        assert len(s.scalars(select(Referral)).all()) == 7


def test_a_sheet_the_workbook_lacks_is_refused_naming_its_sheets(engine, tmp_path):
    from test_interchange import VAC_ALL

    path = workbook(tmp_path / "vacancies.xlsx", [vacancy(shared_with="")], list(VAC_ALL), sheet="Vacancies")
    failure = refused(engine, tmp_path, lambda e, p: import_vacancies(e, p, sheet="Beds"), path)
    assert "no sheet named 'Beds'; its sheets are: Notes, Vacancies" in str(failure)
    import_vacancies(engine, path, sheet="Vacancies")
    with transaction(engine) as s:
        assert s.scalars(select(Property)).one() is not None


def test_the_command_line_imports_a_workbook_by_sheet(tmp_path, monkeypatch):
    from test_interchange import REF_ALL
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["init-db"]).exit_code == 0
    path = workbook(tmp_path / "referrals.xlsx", [referral(id="R1", sex="2")], list(REF_ALL))
    done = runner.invoke(app, ["import", "referrals", str(path), "--sheet", "Referrals"])
    assert done.exit_code == 0, done.output
    wrong = runner.invoke(app, ["import", "referrals", str(path), "--sheet", "Nope"])
    assert wrong.exit_code == 1 and "no sheet named 'Nope'" in wrong.output
