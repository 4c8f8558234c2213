"""referrals.csv and vacancies.csv as councils and providers send them: good files import (and
update what is there), every kind of bad file is refused with a message naming file, row,
column and reason and leaves the database exactly as it was, and export -> import -> export
gives the same bytes."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from models.db import make_engine, migrate, transaction
from models.enums import PlacementStatus, ReferralStatus, Tier
from models.orm import (
    AuditEvent,
    Base,
    Framework,
    LocalAuthority,
    Lot,
    Placement,
    Property,
    Provider,
    Referral,
    TierPrice,
    Vacancy,
)
from providers.interchange import (
    REFERRAL_COLUMNS,
    REFERRAL_OPTIONAL_COLUMNS,
    VACANCY_COLUMNS,
    VACANCY_OPTIONAL_COLUMNS,
    ImportFailed,
    RowError,
    export_dir,
    import_referrals,
    import_vacancies,
    read_referrals,
)

# Real postcodes (checked against the ONS directory by test_fixture_postcodes_are_real).
MEDWAY = ["ME4 4AA", "ME5 7AA", "ME1 1AA", "ME7 1AA", "ME2 4AA", "ME4 4TR"]  # E06000035
MAIDSTONE = ["ME14 1XX", "ME14 1AA", "ME15 6AA"]  # E07000110
CANTERBURY = "CT1 1AA"
TERMINATED = "ME12 9AA"  # in the directory, but no grid reference

REF_ALL = REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS
VAC_ALL = VACANCY_COLUMNS + VACANCY_OPTIONAL_COLUMNS


# --- fixture files ---------------------------------------------------------------------------


def referral(**kw) -> dict:
    row = dict(
        id="R1", date_of_birth="2009-03-14", sex="female", legal_status="looked_after",
        home_postcode="ME4 4AA", education_postcode="ME5 7AA", tier="enhanced",
        urgency="within_5_days", needs="mental_health;esol", risks_to_self="going_missing",
        risks_to_others="", living_with="no_preference", suitable_types="supported_accommodation",
        unsuitable_types="emergency", preferred_postcode="", avoid_postcodes="",
        avoid_radius_miles="", sibling_group="", deprivation_of_liberty="no",
        referred_on="2026-01-12", duration_weeks="26", step_down_weeks="12",
        wishes="Near college, please",
    )
    row.update(kw)
    return row


def referrals() -> list[dict]:
    return [
        referral(),
        referral(id="R2", date_of_birth="01/02/2008", sex="male", legal_status="eligible",
                 home_postcode="me1 1aa", education_postcode="", tier="intensive", urgency="today",
                 needs="", risks_to_self="self_harm", risks_to_others="physical;fire_setting",
                 living_with="solo", suitable_types="", unsuitable_types="",
                 preferred_postcode="ME7 1AA", avoid_postcodes="CT1 1AA", avoid_radius_miles="2.5",
                 deprivation_of_liberty="Y", duration_weeks="", step_down_weeks="", wishes=""),
        referral(id="R3", date_of_birth="2007-11-30", sex="female", legal_status="former_relevant",
                 home_postcode="ME14 1XX", tier="standard", urgency="over_5_days", needs="",
                 risks_to_self="", living_with="with_others", sibling_group="S1",
                 duration_weeks="", step_down_weeks="", wishes=""),
    ]


def vacancy(**kw) -> dict:
    row = dict(
        id="V1", provider_id="PR1", provider_name="Medway Youth Homes", property_id="P1",
        postcode="ME4 4TR", service_type="supported_accommodation", setting="shared_care_experienced",
        ofsted_registered="true", ofsted_grade="good", beds="2", available_from="2026-01-19",
        age_min="16", age_max="21", sex="any", tiers="standard;enhanced", price_standard="1250",
        price_enhanced="1800.5", price_intensive="", accepts_needs="mental_health;esol",
        excludes_risks="to_others:fire_setting", shared_with="R2;drugs_alcohol", reserved_for="",
        ofsted_urn="2600001", in_house="no",
    )
    row.update(kw)
    return row


def vacancies() -> list[dict]:
    return [
        vacancy(),
        vacancy(id="V2", beds="1", available_from="2026-02-02"),
        vacancy(id="V3", provider_id="PR2", provider_name="Kent Lodgings", property_id="P2",
                postcode="ME14 1AA", service_type="staying_put", setting="private_residence",
                ofsted_registered="false", ofsted_grade="", beds="1", age_min="18", age_max="21",
                tiers="standard", price_standard="350", price_enhanced="", accepts_needs="",
                excludes_risks="", shared_with="", reserved_for="R3", ofsted_urn="", in_house="yes"),
    ]


def write(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def write_referrals(tmp_path: Path, rows: list[dict] | None = None, columns=REF_ALL) -> Path:
    return write(tmp_path / "referrals.csv", list(columns), referrals() if rows is None else rows)


def write_vacancies(tmp_path: Path, rows: list[dict] | None = None, columns=VAC_ALL) -> Path:
    return write(tmp_path / "vacancies.csv", list(columns), vacancies() if rows is None else rows)


def load_good(engine, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir(exist_ok=True)
    import_referrals(engine, write_referrals(good))
    import_vacancies(engine, write_vacancies(good))


def table_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def snapshot(engine, tmp_path: Path, label: str) -> tuple[dict[str, int], dict[str, bytes]]:
    files = export_dir(engine, tmp_path / f"snapshot-{label}")
    return table_counts(engine), {k: p.read_bytes() for k, p in files.items()}


def refused(engine, tmp_path: Path, importer, path: Path) -> ImportFailed:
    """Import must fail and leave every table (audit_event included) and every record as it was."""
    before = snapshot(engine, tmp_path, "before")
    with pytest.raises(ImportFailed) as caught:
        importer(engine, path)
    assert snapshot(engine, tmp_path, "after") == before
    return caught.value


def one(failure: ImportFailed, file: str, row: int | None, column: str | None, *fragments: str) -> RowError:
    """The error at (file, row, column), checked to contain every fragment, in its message too."""
    hits = [e for e in failure.errors if (e.file, e.row, e.column) == (file, row, column)]
    assert hits, f"no error at {file} row {row} column {column}; got:\n{failure}"
    matching = [e for e in hits if all(f in e.reason for f in fragments)]
    assert matching, f"no error at {file} row {row} column {column} with {fragments}; got:\n{failure}"
    error = matching[0]
    assert str(error) in str(failure).splitlines()
    return error


# --- postcodes used above are real -----------------------------------------------------------


def test_fixture_postcodes_are_real():
    from providers.geography import locate

    found = locate(MEDWAY + MAIDSTONE + [CANTERBURY, TERMINATED])
    assert found["error"].iloc[:-1].isna().all()
    assert set(found["la_code"].iloc[: len(MEDWAY)]) == {"E06000035"}
    assert set(found["la_code"].iloc[len(MEDWAY):-2]) == {"E07000110"}
    assert "terminated" in found["error"].iloc[-1]


# --- good files ------------------------------------------------------------------------------


def test_good_files_import_with_located_postcodes_and_one_audit_event_each(engine, tmp_path):
    ref_report = import_referrals(engine, write_referrals(tmp_path), actor="alice")
    vac_report = import_vacancies(engine, write_vacancies(tmp_path), actor="alice")

    assert (ref_report.rows, ref_report.created, ref_report.updated) == (3, 3, 0)
    assert (vac_report.rows, vac_report.created, vac_report.updated) == (3, 3, 0)
    assert vac_report.details == {"properties_created": 2, "properties_updated": 0,
                                  "providers_created": 2, "providers_updated": 0}
    with transaction(engine) as s:
        r1, r2 = s.get(Referral, "R1"), s.get(Referral, "R2")
        assert r1.status is ReferralStatus.open and r1.home_la_code == "E06000035"
        assert (r1.home_easting, r1.home_northing) == (575850, 167644)
        assert r1.education_postcode == "ME5 7AA" and r1.education_easting is not None
        assert r1.type_suitability["supported_accommodation"] == "preferred"
        assert r1.type_suitability["emergency"] == "unsuitable"
        assert r1.type_suitability["staying_put"] == "suitable"
        assert r1.wishes == "Near college, please" and r1.duration_weeks == 26
        assert r2.home_postcode == "ME1 1AA" and r2.date_of_birth == dt.date(2008, 2, 1)
        assert r2.deprivation_of_liberty is True and r2.avoid_radius_miles == 2.5
        assert r2.education_postcode is None and r2.education_easting is None
        assert r2.risks_to_others == ["physical", "fire_setting"]

        p1 = s.get(Property, "P1")
        assert p1.la_code == "E06000035" and p1.total_beds == 3  # 2 + 1 free beds, a new property
        assert {p.tier: p.weekly_price for p in p1.prices} == {Tier.standard: 1250, Tier.enhanced: 1800.5}
        # R2 lives there: their risks, with 'to_others:' for risks to others, plus the named code.
        assert p1.resident_risks == ["drugs_alcohol", "self_harm", "to_others:fire_setting", "to_others:physical"]
        assert s.get(Provider, "PR1").ofsted_grade == "good"
        pr2 = s.get(Provider, "PR2")
        assert pr2.in_house is True and pr2.ofsted_grade is None and pr2.ofsted_urn is None
        assert s.get(Vacancy, "V3").reserved_for_referral_id == "R3"
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.action, e.entity_type, e.entity_id, e.actor) for e in events] == [
            ("import", "referrals", "referrals.csv", "alice"),
            ("import", "vacancies", "vacancies.csv", "alice"),
        ]
        assert events[0].after == {"rows": 3, "created": 3, "updated": 0}
        # No personal data in the audit trail: counts only.
        assert all(isinstance(v, int) for e in events for v in e.after.values())


def test_read_referrals_returns_validated_rows_with_locations(tmp_path):
    rows = read_referrals(write_referrals(tmp_path))
    assert [r.row for r in rows] == [2, 3, 4]
    assert rows[0].referral.tier is Tier.enhanced and rows[0].home.la_code == "E06000035"
    assert rows[2].home.la_code == "E07000110" and rows[1].education is None


def test_files_with_only_the_design_columns_in_another_order_import(sqlite_engine, tmp_path):
    import_referrals(sqlite_engine, write_referrals(tmp_path, columns=list(reversed(REFERRAL_COLUMNS))))
    rows = [{k: v for k, v in r.items() if k != "reserved_for"} for r in vacancies()]
    report = import_vacancies(sqlite_engine, write_vacancies(tmp_path, rows, columns=VACANCY_COLUMNS))
    assert report.created == 3


def test_upsert_updates_existing_records_and_creates_new_ones(engine, tmp_path):
    load_good(engine, tmp_path)
    with transaction(engine) as s:
        s.get(Referral, "R1").status = ReferralStatus.placed
        s.add(LocalAuthority(code="E06000035", name="Medway", upper_tier_code="E06000035"))
        s.flush()
        fw = Framework(name="16-25 DPS", kind="dps", placing_authority_code="E06000035")
        fw.lots.append(Lot(number=1, name="Supported accommodation", service_type="supported_accommodation"))
        s.add(fw)
        s.flush()
        price = s.scalars(select(TierPrice).where(TierPrice.property_id == "P1", TierPrice.tier == Tier.standard)).one()
        price.lot_id = fw.lots[0].id
        s.get(Property, "P1").total_beds = 6

    # R1 changes tier; R4 is new; the file has no optional columns, so R1's wishes stay.
    rows = [referral(tier="intensive"), referral(id="R4", home_postcode="ME2 4AA")]
    report = import_referrals(engine, write_referrals(tmp_path, rows, columns=REFERRAL_COLUMNS))
    assert (report.created, report.updated) == (1, 1)

    # P1 now offers standard and intensive (enhanced dropped) at new prices; V4 is new.
    changed = dict(tiers="standard;intensive", price_standard="1300", price_enhanced="",
                   price_intensive="2600")
    rows = [vacancy(**changed), vacancy(id="V4", beds="1", **changed)]
    report = import_vacancies(engine, write_vacancies(tmp_path, rows))
    assert (report.created, report.updated) == (1, 1)
    assert report.details["properties_updated"] == 1 and report.details["providers_updated"] == 1

    with transaction(engine) as s:
        r1 = s.get(Referral, "R1")
        assert r1.tier is Tier.intensive and r1.status is ReferralStatus.placed
        assert r1.wishes == "Near college, please" and r1.duration_weeks == 26
        assert s.get(Referral, "R4").status is ReferralStatus.open
        assert s.scalar(select(func.count()).select_from(Referral)) == 4
        p1 = s.get(Property, "P1")
        assert {p.tier: (p.weekly_price, p.lot_id is not None) for p in p1.prices} == {
            Tier.standard: (1300, True),  # repriced, still bought under its lot
            Tier.intensive: (2600, False),
        }
        assert p1.total_beds == 6  # a known capacity is kept: free beds say nothing of its size
        assert s.scalar(select(func.count()).select_from(Vacancy)) == 4
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 4


def test_a_failure_while_writing_rolls_back_everything(engine, tmp_path, monkeypatch):
    load_good(engine, tmp_path)
    import providers.interchange as interchange

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(interchange, "record", broken)
    rows = referrals() + [referral(id="R9")]
    before = snapshot(engine, tmp_path, "before")
    with pytest.raises(RuntimeError):
        import_referrals(engine, write_referrals(tmp_path, rows))
    assert snapshot(engine, tmp_path, "after") == before


# --- bad files: file-level -------------------------------------------------------------------


def test_missing_file(engine, tmp_path):
    load_good(engine, tmp_path)
    failure = refused(engine, tmp_path, import_referrals, tmp_path / "nowhere" / "referrals.csv")
    one(failure, "referrals.csv", None, None, "file not found", str(tmp_path / "nowhere"))
    assert str(failure).startswith("referrals.csv: file not found")


def test_empty_file(engine, tmp_path):
    load_good(engine, tmp_path)
    path = tmp_path / "vacancies.csv"
    path.write_text("\n")
    failure = refused(engine, tmp_path, import_vacancies, path)
    one(failure, "vacancies.csv", None, None, "the file is empty", "id, provider_id, provider_name")


def test_header_only_file_is_zero_rows_not_an_error(sqlite_engine, tmp_path):
    report = import_referrals(sqlite_engine, write_referrals(tmp_path, []))
    assert (report.rows, report.created) == (0, 0)


def test_not_utf8(engine, tmp_path):
    load_good(engine, tmp_path)
    path = write_referrals(tmp_path)
    # Excel's plain "CSV" is Windows-1252: a pound sign is byte 0xA3, which UTF-8 refuses.
    path.write_bytes(path.read_bytes().replace(b"Near college, please", "£20 a week for the bus".encode("cp1252")))
    failure = refused(engine, tmp_path, import_referrals, path)
    one(failure, "referrals.csv", 2, "wishes", "not valid UTF-8", "0xA3", "CSV UTF-8")


def test_utf8_with_byte_order_mark_is_fine(sqlite_engine, tmp_path):
    path = write_referrals(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"please", "please \xe2\x80\x93 Zo\xc3\xab".encode("latin-1")))
    assert import_referrals(sqlite_engine, path).created == 3


def test_ragged_row(engine, tmp_path):
    load_good(engine, tmp_path)
    path = write_referrals(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 2)[0]  # row 3 loses its last two cells
    lines[3] = lines[3] + ",Kent,extra"  # row 4 has two too many
    path.write_text("\n".join(lines) + "\n")
    failure = refused(engine, tmp_path, import_referrals, path)
    one(failure, "referrals.csv", 3, None, "wrong number of cells: 21", "header has 23 columns",
        "nothing for columns step_down_weeks, wishes")
    one(failure, "referrals.csv", 4, None, "wrong number of cells: 25", "beyond the last column, wishes")


def test_malformed_quoting(engine, tmp_path):
    load_good(engine, tmp_path)
    path = write_referrals(tmp_path)
    path.write_text(path.read_text().replace('"Near college, please"', '"Near "college", please"'))
    failure = refused(engine, tmp_path, import_referrals, path)
    one(failure, "referrals.csv", 2, None, "malformed CSV", "double quotes")


def test_missing_required_column(engine, tmp_path):
    load_good(engine, tmp_path)
    columns = [c for c in REF_ALL if c != "urgency"]
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, columns=columns))
    one(failure, "referrals.csv", 1, "urgency", "required column is missing")
    # Reported once for the file, not once per row.
    assert [e.column for e in failure.errors].count("urgency") == 1


def test_unknown_column_suggests_the_nearest(engine, tmp_path):
    load_good(engine, tmp_path)
    columns = [("tiers" if c == "tier" else c) for c in REF_ALL] + ["keyworker"]
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, columns=columns))
    one(failure, "referrals.csv", 1, "tiers", "unknown column", "did you mean 'tier'?")
    one(failure, "referrals.csv", 1, "keyworker", "unknown column (columns: id, date_of_birth")
    one(failure, "referrals.csv", 1, "tier", "required column is missing")


# --- bad files: cells ------------------------------------------------------------------------


def test_bad_enum_values_suggest_the_nearest_code(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[2]["tier"] = "enhnced"
    rows[1]["needs"] = "esol;mental health;astrology"
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    error = one(failure, "referrals.csv", 4, "tier")
    assert str(error) == ("referrals.csv row 4, column tier: 'enhnced' is not a valid tier; "
                          "did you mean 'enhanced'? (valid: standard, enhanced, intensive)")
    reasons = [e.reason for e in failure.errors if (e.row, e.column) == (3, "needs")]
    assert len(reasons) == 2  # every bad item of a list, not just the first
    assert reasons[0].startswith("'mental health' is not a valid need; did you mean 'mental_health'?")
    assert reasons[1].startswith("'astrology' is not a valid need (valid: mental_health,")


def test_bad_risk_code_in_excludes_risks(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[0]["excludes_risks"] = rows[1]["excludes_risks"] = "fire_setting"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 2, "excludes_risks", "'fire_setting' is not a valid risk code",
        "did you mean 'to_others:fire_setting'?")


@pytest.mark.parametrize(
    "value, reason",
    [
        ("14 March 2009", "'14 March 2009' is not a date; write it as YYYY-MM-DD (or DD/MM/YYYY)"),
        ("2009-02-30", "'2009-02-30' is not a real date (day is out of range for month)"),
        ("31/04/2009", "'31/04/2009' is not a real date"),
        ("03/14/09", "is not a date"),  # US order, two-digit year: ambiguous, refused
    ],
)
def test_bad_dates(engine, tmp_path, value, reason):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[1]["date_of_birth"] = value
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 3, "date_of_birth", reason)


def test_date_of_birth_outside_16_to_25_at_referral(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[0]["date_of_birth"] = "2011-01-13"  # 14 on referred_on 2026-01-12
    rows[2]["date_of_birth"] = "2000-01-01"  # 26
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 2, "date_of_birth", "makes the young person 14", "ages 16-25")
    one(failure, "referrals.csv", 4, "date_of_birth", "makes the young person 26")


def test_unknown_and_terminated_postcodes_are_named(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[0]["home_postcode"] = "ZZ1 1ZZ"
    rows[1]["avoid_postcodes"] = f"CT1 1AA;{TERMINATED}"
    rows[2]["education_postcode"] = "ME4"
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 2, "home_postcode", "'ZZ1 1ZZ' is not found in the ONS postcode directory")
    one(failure, "referrals.csv", 3, "avoid_postcodes", f"'{TERMINATED}' is terminated or has no grid reference")
    one(failure, "referrals.csv", 4, "education_postcode", "'ME4' is not a valid UK postcode format")


def test_negative_beds(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[2]["beds"] = "-1"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 4, "beds", "'-1' cannot be negative")


def test_not_a_number_and_not_a_boolean(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[2]["price_standard"] = "£350"
    rows[2]["in_house"] = "sometimes"
    rows[2]["beds"] = "1.5"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 4, "price_standard", "'£350' is not a number")
    one(failure, "vacancies.csv", 4, "in_house", "'sometimes' is not a yes/no value")
    one(failure, "vacancies.csv", 4, "beds", "'1.5' is not a whole number")


def test_duplicate_ids_name_both_rows(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals() + [referral(id="R2")]
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 5, "id", "duplicate id 'R2': rows 3 and 5 both use it")


def test_price_missing_for_an_offered_tier(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[2]["tiers"] = "standard;intensive"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 4, "price_intensive", "price_intensive is missing for offered tier intensive")


def test_schema_rules_map_to_their_columns(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[0].update(age_min="22")  # above age_max 21 (and so on row 3 for consistency's sake)
    rows[1].update(age_min="22")
    rows[2].update(id="V 3", age_max="26")
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 2, "age_min", "age_min 22 is above age_max 21")
    one(failure, "vacancies.csv", 4, "id", "'V 3' is not a valid id")
    one(failure, "vacancies.csv", 4, "age_max", "'26' is above the maximum of 25")


def test_referral_rules_map_to_their_columns(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[0]["suitable_types"] = "emergency;supported_lodgings"  # also unsuitable
    rows[1]["avoid_radius_miles"] = ""  # avoid_postcodes without a radius
    rows[2].update(duration_weeks="10", step_down_weeks="12", sex="any")
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 2, "unsuitable_types", "cannot be both suitable and unsuitable: emergency")
    one(failure, "referrals.csv", 3, "avoid_postcodes", "avoid_postcodes needs avoid_radius_miles")
    one(failure, "referrals.csv", 4, "sex", "a young person's sex is male or female")


def test_semicolon_separated_file_is_explained(engine, tmp_path):
    load_good(engine, tmp_path)
    path = tmp_path / "referrals.csv"
    path.write_text(";".join(REF_ALL) + "\n" + ";".join(referral().values()) + "\n")
    failure = refused(engine, tmp_path, import_referrals, path)
    assert str(failure) == (
        "referrals.csv row 1: the header is one cell; the file looks separated by ';' rather than commas"
    )


def test_windows_line_endings_and_padding_are_fine(sqlite_engine, tmp_path):
    path = write_referrals(tmp_path)
    lines = path.read_text().splitlines()
    # Excel: CRLF, a trailing empty column, blank rows of commas at the end.
    padded = [line + "," for line in lines] + ["," * len(REF_ALL), ""]
    path.write_bytes("\r\n".join(padded).encode())
    assert import_referrals(sqlite_engine, path).created == 3


def test_required_value_missing(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = referrals()
    rows[1]["urgency"] = ""
    failure = refused(engine, tmp_path, import_referrals, write_referrals(tmp_path, rows))
    one(failure, "referrals.csv", 3, "urgency", "a value is required")


def test_inconsistent_property_and_provider_fields(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[1].update(postcode="ME5 7AA", setting="shared_mixed", tiers="enhanced;standard",
                   provider_name="Medway Youth Homes Ltd")
    rows[2].update(provider_id="PR1", provider_name="Medway Youth Homes", ofsted_grade="good",
                   ofsted_urn="2600001", in_house="no")
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 3, "postcode",
        "property 'P1' has postcode 'ME5 7AA' here but 'ME4 4TR' on row 2")
    one(failure, "vacancies.csv", 3, "setting", "'shared_mixed' here but 'shared_care_experienced' on row 2")
    one(failure, "vacancies.csv", 3, "provider_name",
        "provider 'PR1' has provider_name 'Medway Youth Homes Ltd' here but 'Medway Youth Homes' on row 2")
    # The same tiers in another order agree.
    assert not [e for e in failure.errors if e.column == "tiers"]


def test_shared_with_must_be_risk_codes_or_known_referrals(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    for row in rows[:2]:
        row["shared_with"] = "R2;R404;self-harm"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 2, "shared_with",
        "'R404' is neither a risk code nor the id of a referral in the database (risk codes: self_harm,")
    one(failure, "vacancies.csv", 2, "shared_with", "'self-harm'")
    assert any("did you mean 'self_harm'?" in e.reason for e in failure.errors)


def test_reserved_for_must_name_a_known_referral(engine, tmp_path):
    load_good(engine, tmp_path)
    rows = vacancies()
    rows[2]["reserved_for"] = "R77"
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path, rows))
    one(failure, "vacancies.csv", 4, "reserved_for", "'R77' is not the id of a referral in the database")


def test_every_error_is_reported_and_the_list_is_capped(sqlite_engine, tmp_path):
    rows = [referral(id=f"R{i}", tier="enhnced", sex="x") for i in range(150)]
    before = table_counts(sqlite_engine)
    with pytest.raises(ImportFailed) as caught:
        import_referrals(sqlite_engine, write_referrals(tmp_path, rows))
    assert len(caught.value.errors) == 300
    lines = str(caught.value).splitlines()
    assert len(lines) == 201
    assert lines[0].startswith("referrals.csv row 2, column sex: 'x' is not a valid sex")
    assert lines[-1] == "... and 100 more errors (only the first 200 are listed)"
    assert table_counts(sqlite_engine) == before


# --- export and round trip -------------------------------------------------------------------


def test_export_writes_design_columns_plain_values_and_residents_risks(engine, tmp_path):
    load_good(engine, tmp_path)
    with transaction(engine) as s:
        # R1 is placed at P2: their risks join the home's shared_with; R1 leaves the open queue.
        s.get(Referral, "R1").status = ReferralStatus.placed
        s.get(Referral, "R3").status = ReferralStatus.proposed
        s.add(Placement(referral_id="R1", property_id="P2", tier=Tier.standard, weekly_cost=350,
                        starts_on=dt.date(2026, 1, 5), status=PlacementStatus.active))
    files = export_dir(engine, tmp_path / "out")
    ref_text = files["referrals"].read_text(encoding="utf-8")
    vac_text = files["vacancies"].read_text(encoding="utf-8")
    assert "\r" not in ref_text + vac_text
    ref_lines, vac_lines = ref_text.splitlines(), vac_text.splitlines()
    assert ref_lines[0] == ",".join(REF_ALL) and vac_lines[0] == ",".join(VAC_ALL)
    # R3 is not open but V3 is reserved for them, so they are exported for V3 to re-import.
    assert [line.split(",")[0] for line in ref_lines[1:]] == ["R2", "R3"]
    assert ref_lines[1] == (
        "R2,2008-02-01,male,eligible,ME1 1AA,,intensive,today,,self_harm,fire_setting;physical,solo,"
        ",,ME7 1AA,CT1 1AA,2.5,,true,2026-01-12,,,"
    )
    assert vac_lines[1] == (
        "V1,PR1,Medway Youth Homes,P1,ME4 4TR,supported_accommodation,shared_care_experienced,true,"
        "good,2,2026-01-19,16,21,any,standard;enhanced,1250,1800.5,,esol;mental_health,"
        "to_others:fire_setting,drugs_alcohol;self_harm;to_others:fire_setting;to_others:physical,"
        ",2600001,false,"  # no support hours: a home counted in beds
    )
    assert vac_lines[3].startswith("V3,PR2,Kent Lodgings,P2,ME14 1AA,staying_put,private_residence,false,,1,")
    assert vac_lines[3].endswith(",standard,350,,,,,going_missing,R3,,true,")


def test_export_import_export_is_byte_identical_on_a_small_market(engine, tmp_path):
    load_good(engine, tmp_path)
    first = export_dir(engine, tmp_path / "first")
    second_engine = _second_database(engine, tmp_path)
    import_referrals(second_engine, first["referrals"])
    import_vacancies(second_engine, first["vacancies"])
    second = export_dir(second_engine, tmp_path / "second")
    for kind in ("referrals", "vacancies"):
        assert second[kind].read_bytes() == first[kind].read_bytes(), kind


def _second_database(engine, tmp_path: Path):
    """A fresh, migrated database beside ``engine``: a new SQLite file, or for PostgreSQL the
    same server emptied (the caller has already exported what it needs)."""
    if engine.dialect.name == "sqlite":
        fresh = make_engine(f"sqlite:///{tmp_path / 'second.db'}")
    else:
        fresh = engine
        with fresh.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate(fresh)
    return fresh


# --- speed -----------------------------------------------------------------------------------


def test_five_thousand_rows_import_whole(sqlite_engine, tmp_path):
    """A council-sized file goes in whole (timings are in benchmarks/bench_foundation.py)."""
    from providers.geography import postcodes_in

    postcodes = postcodes_in("E06000035", ["M"])["postcode"].head(5000).tolist()
    refs = [referral(id=f"R{i:05d}", home_postcode=pc, education_postcode="") for i, pc in enumerate(postcodes)]
    vacs = [vacancy(id=f"V{i:05d}", property_id=f"P{i:05d}", postcode=pc, shared_with="R00001;self_harm")
            for i, pc in enumerate(postcodes)]
    ref_path, vac_path = write_referrals(tmp_path, refs), write_vacancies(tmp_path, vacs)
    assert import_referrals(sqlite_engine, ref_path).created == 5000
    assert import_vacancies(sqlite_engine, vac_path).created == 5000
    assert table_counts(sqlite_engine)["property"] == 5000


def test_demo_council_round_trips_byte_for_byte(engine, tmp_path):
    """Build the demo into one database, export, import into a fresh one, export again."""
    from providers.demo import build_demo

    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=dt.date(2026, 1, 12))
    first = export_dir(engine, tmp_path / "first")
    open_count = sum(1 for _ in first["referrals"].open()) - 1
    assert open_count > 0 and sum(1 for _ in first["vacancies"].open()) > 1

    second_engine = _second_database(engine, tmp_path)
    assert import_referrals(second_engine, first["referrals"]).created == open_count
    import_vacancies(second_engine, first["vacancies"])
    second = export_dir(second_engine, tmp_path / "second")
    for kind in ("referrals", "vacancies"):
        assert second[kind].read_bytes() == first[kind].read_bytes(), kind


def test_reimporting_an_export_into_the_same_database_changes_nothing(sqlite_engine, tmp_path):
    """Placed residents' risks come from their placements and are not copied onto the home."""
    from models.orm import Property
    from providers.demo import build_demo

    with transaction(sqlite_engine) as s:
        build_demo(s, seed=2026, as_of=dt.date(2026, 1, 12))
        resident_risks = {p.id: p.resident_risks for p in s.scalars(select(Property))}
    first = export_dir(sqlite_engine, tmp_path / "first")
    import_referrals(sqlite_engine, first["referrals"])
    import_vacancies(sqlite_engine, first["vacancies"])
    with transaction(sqlite_engine) as s:
        for prop in s.scalars(select(Property)):  # nothing copied from placements onto the home
            assert set(prop.resident_risks) <= set(resident_risks[prop.id]), prop.id
    second = export_dir(sqlite_engine, tmp_path / "second")
    for kind in ("referrals", "vacancies"):
        assert second[kind].read_bytes() == first[kind].read_bytes(), kind


def test_a_floating_support_package_is_sized_in_hours(engine, tmp_path):
    outreach = dict(id="V4", provider_id="PR3", provider_name="Medway Outreach", property_id="P3",
                    postcode="ME14 1AA", service_type="floating_support", setting="private_residence",
                    ofsted_registered="false", ofsted_grade="good", beds="6", age_min="18", age_max="25",
                    tiers="standard;enhanced", price_standard="180", price_enhanced="420", accepts_needs="",
                    excludes_risks="", shared_with="", in_house="no")
    failure = refused(engine, tmp_path, import_vacancies,
                      write_vacancies(tmp_path, [*vacancies(), vacancy(**outreach)]))
    hits = [e for e in failure.errors if e.row == 5]
    assert hits and all("support_hours is needed for floating_support" in e.reason for e in hits), failure
    (tmp_path / "ok").mkdir()
    import_referrals(engine, write_referrals(tmp_path / "ok"))
    rows = [*vacancies(), vacancy(**outreach, support_hours="40"), vacancy(id="V5", support_hours="0")]
    failure = refused(engine, tmp_path, import_vacancies, write_vacancies(tmp_path / "ok", rows))
    assert [(e.row, e.column) for e in failure.errors] == [(6, "support_hours")]
    one(failure, "vacancies.csv", 6, "support_hours", "below the minimum of 1")
    import_vacancies(engine, write_vacancies(tmp_path / "ok", rows[:4]))
    with transaction(engine) as s:
        assert s.get(Vacancy, "V4").support_hours == 40 and s.get(Vacancy, "V1").support_hours is None
    exported = export_dir(engine, tmp_path / "out")["vacancies"].read_text().splitlines()
    assert exported[0].endswith(",support_hours") and exported[4].startswith("V4,") and exported[4].endswith(",40")
