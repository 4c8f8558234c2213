"""Files that must be refused, quickly and by name: YAML that expands without limit, files that
are not text, text that is not UTF-8, control characters and impossible dates in a CSV, and
files too large, too long or too wide. Nothing here may take the reader's time or memory
beyond the limits in providers.limits."""

from __future__ import annotations

import resource
import time
import tracemalloc

import pytest
from test_interchange import REF_ALL, VAC_ALL, referral, table_counts, vacancy

from matching.policy import PolicyError, load_policy
from providers import safe_yaml
from providers.interchange import (
    ImportFailed,
    import_referrals,
    import_vacancies,
    read_referrals,
)
from providers.limits import (
    MAX_CELL_CHARS,
    MAX_CELLS_PER_ROW,
    MAX_ERRORS_COLLECTED,
    MAX_ERRORS_SHOWN,
    MAX_FILE_BYTES,
    MAX_ROW_CHARS,
    MAX_ROWS,
    MAX_YAML_CHARS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
)
from scenarios.tender import TenderFileError, read_scenario


def laughs(levels: int, key: str = "description") -> str:
    """A "billion laughs": each level a list of nine aliases of the one before, so the last
    stands for 9 ** (levels + 1) values in a few hundred bytes."""
    lines = ["name: Laughs", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines + [f"{key}: *l{levels}"]) + "\n"


def _refused_flat(call) -> tuple[Exception, float, float]:
    """Run ``call``, which must raise; the exception, the seconds it took and the peak MB
    Python allocated meanwhile."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(Exception) as caught:
            call()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return caught.value, seconds, peak


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# --- YAML -------------------------------------------------------------------------------------


def test_a_billion_laughs_is_refused_at_its_first_anchor_with_memory_flat():
    before = _maxrss_mb()
    refusal, seconds, peak = _refused_flat(lambda: safe_yaml.load(laughs(8), "laughs.yaml"))
    assert isinstance(refusal, safe_yaml.YamlRefused)
    assert (refusal.file, refusal.line) == ("laughs.yaml", 2)
    assert "anchor &l0" in refusal.reason and "write each value out in full" in refusal.reason
    assert seconds < 1.0
    assert peak < 2.0  # MB: the few hundred bytes of the file, never its expansion
    assert _maxrss_mb() - before < 20


def test_an_alias_bomb_in_a_tender_scenario_is_refused_with_the_file_and_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(5), encoding="utf-8")
    refusal, seconds, peak = _refused_flat(lambda: read_scenario(path))
    assert isinstance(refusal, TenderFileError)
    [problem] = refusal.problems
    assert (problem.file, problem.line) == ("bomb.yaml", 2) and "anchor" in problem.reason
    assert seconds < 1.0 and peak < 5.0


def test_an_alias_bomb_in_a_policy_file_is_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(laughs(5, key="mode"), encoding="utf-8")
    refusal, seconds, peak = _refused_flat(lambda: load_policy(path))
    assert isinstance(refusal, PolicyError)
    assert "policy.yaml line 2" in str(refusal) and "anchor" in str(refusal)
    assert seconds < 1.0 and peak < 5.0


def test_a_lone_alias_is_refused_too():
    with pytest.raises(safe_yaml.YamlRefused, match=r"alias \*x"):
        safe_yaml.load("name: a\nb: *x\n", "a.yaml")


@pytest.mark.parametrize("text, limit", [
    ("name: " + "x" * MAX_YAML_CHARS, f"{MAX_YAML_CHARS:,}"),
    ("items: [" + ", ".join(["1"] * MAX_YAML_NODES) + "]\n", f"{MAX_YAML_NODES:,}"),
    ("[" * 5000 + "]" * 5000, f"{MAX_YAML_DEPTH}"),  # deeper than Python's recursion limit
])
def test_yaml_too_long_too_many_values_or_too_deep_is_refused_naming_the_limit(text, limit):
    with pytest.raises(safe_yaml.YamlRefused) as caught:
        safe_yaml.load(text, "big.yaml")
    assert limit in caught.value.reason


def test_an_oversize_scenario_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"name: x\n" + b"#" * (4 * MAX_YAML_CHARS + 10) + b"\n")
    with pytest.raises(TenderFileError) as caught:
        read_scenario(path)
    assert "limit" in caught.value.problems[0].reason


def test_yaml_with_a_control_character_names_its_line():
    with pytest.raises(safe_yaml.YamlRefused) as caught:
        safe_yaml.load("name: a\ndescription: b\x00c\n", "nul.yaml")
    assert caught.value.line == 2 and "U+0000" in caught.value.reason


def test_the_shipped_scenarios_and_policies_still_read():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "scenarios" / "examples").glob("*.yaml")) + [root / "matching" / "policy.yaml"]
    assert files
    for path in files:
        assert isinstance(safe_yaml.read(path), dict), path
    assert load_policy(root / "matching" / "policy.yaml") is not None


# --- CSV: files that are not CSV text ---------------------------------------------------------

def csv_text(columns: list[str], rows: list[dict]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return out.getvalue()


def refusals(data: bytes, name: str = "referrals.csv") -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        read_referrals(data, name=name)
    return [str(e) for e in caught.value.errors]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(range(256))


@pytest.mark.parametrize("data, kind", [
    (PNG, "a PNG image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
    (csv_text(REF_ALL, [referral()]).encode("utf-16"), "UTF-16"),  # with its byte-order mark
    (csv_text(REF_ALL, [referral()]).encode("utf-16-le"), "UTF-16"),  # without
])
def test_a_file_that_is_not_csv_text_gets_one_named_refusal(data, kind):
    [problem] = refusals(data, "upload.csv")
    assert problem.startswith("upload.csv: this ") and kind in problem
    assert "CSV UTF-8" in problem  # what to do about it


def test_a_damaged_workbook_gets_one_named_refusal():
    """A workbook is read like a CSV file (providers.workbooks); one that cannot be opened is
    refused with what to do about it."""
    [problem] = refusals(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "upload.xlsx")
    assert problem == "upload.xlsx: this is not an Excel workbook (.xlsx) that can be opened: save it again from Excel"


def test_a_stray_latin1_byte_in_a_heading_is_named_with_what_it_says():
    text = csv_text(REF_ALL, [referral()]).replace("wishes", "wishés", 1)
    problems = refusals(text.encode("cp1252"))
    assert any(p.startswith("referrals.csv row 1: column 23 heading is not valid UTF-8 (byte 0xE9)")
               and "'wishés'" in p for p in problems), problems


def test_a_latin1_byte_in_a_cell_is_named_by_row_and_column_without_its_value():
    text = csv_text(REF_ALL, [referral(), referral(id="R2", wishes="Café nearby")])
    [problem] = refusals(text.encode("cp1252"))
    assert problem.startswith("referrals.csv row 3, column wishes: not valid UTF-8 (byte 0xE9)")
    assert "Caf" not in problem  # a cell's value may be personal data


@pytest.mark.parametrize("column, value, code", [
    ("wishes", "near\x00college", "NUL"),
    ("wishes", "ring\x07bell", "U+0007"),
    ("id", "R\x1b1", "U+001B"),
    ("sibling_group", "S\x7f1", "U+007F"),
])
def test_control_characters_in_a_text_cell_are_refused_by_row_and_column(column, value, code):
    [problem] = refusals(csv_text(REF_ALL, [referral(**{column: value})]).encode())
    assert problem.startswith(f"referrals.csv row 2, column {column}: contains ") and code in problem


def test_tabs_and_line_breaks_in_a_cell_are_still_text():
    [row] = read_referrals(csv_text(REF_ALL, [referral(wishes="Near college,\n\tplease")]).encode())
    assert row.referral.wishes == "Near college,\n\tplease"


@pytest.mark.parametrize("column, value", [
    ("referred_on", "9999-12-31"),
    ("referred_on", "01/01/1800"),
    ("date_of_birth", "1800-03-14"),
    ("date_of_birth", "9999-03-14"),
])
def test_a_date_outside_sensible_years_is_refused_naming_its_column(column, value):
    # 1800: a referral in 1800 of someone born in 1784 is 16 on the day, so only the date's
    # own range can refuse it.
    row = referral(**{column: value}, **({"date_of_birth": "1784-01-01"} if value == "01/01/1800" else {}))
    problems = refusals(csv_text(REF_ALL, [row]).encode())
    assert any(p.startswith(f"referrals.csv row 2, column {column}: '{value}' is not a plausible date")
               for p in problems), problems


def test_a_vacancy_free_in_the_year_9999_is_refused_and_nothing_is_written(sqlite_engine, tmp_path):
    path = tmp_path / "vacancies.csv"
    path.write_text(csv_text(VAC_ALL, [vacancy(reserved_for="", shared_with="", available_from="9999-12-31")]))
    before = table_counts(sqlite_engine)
    with pytest.raises(ImportFailed) as caught:
        import_vacancies(sqlite_engine, path)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "available_from")]
    assert table_counts(sqlite_engine) == before


# --- CSV: files too large, too long, too wide -------------------------------------------------


def test_an_oversize_file_is_refused_by_its_size_unread(sqlite_engine, tmp_path):
    path = tmp_path / "referrals.csv"
    with path.open("wb") as fh:  # sparse: the size is on disk without the bytes being written
        fh.write(csv_text(REF_ALL, [referral()]).encode())
        fh.truncate(MAX_FILE_BYTES + 1)
    before = table_counts(sqlite_engine)
    refusal, _, peak = _refused_flat(lambda: import_referrals(sqlite_engine, path))
    assert isinstance(refusal, ImportFailed)
    [problem] = refusal.errors
    assert problem.row is None and f"the limit for one file is {MAX_FILE_BYTES // 2**20} MB" in problem.reason
    assert peak < 1.0  # MB: the file was never read
    assert table_counts(sqlite_engine) == before


def test_more_rows_than_the_limit_are_refused_and_nothing_is_written(sqlite_engine, tmp_path):
    good = csv_text(REF_ALL, [referral()]).splitlines()[1]
    path = tmp_path / "referrals.csv"
    path.write_text(",".join(REF_ALL) + "\n" + (good + "\n") * (MAX_ROWS + 1))
    before = table_counts(sqlite_engine)
    with pytest.raises(ImportFailed) as caught:
        import_referrals(sqlite_engine, path)
    assert any(e.row is None and f"more than {MAX_ROWS:,} rows" in e.reason for e in caught.value.errors)
    assert table_counts(sqlite_engine) == before


def test_a_row_of_a_million_cells_is_refused_before_its_cells_are_built():
    data = (",".join(REF_ALL) + "\n" + "," * 1_000_000 + "x\n").encode()
    refusal, _, peak = _refused_flat(lambda: read_referrals(data))
    assert isinstance(refusal, ImportFailed)
    assert any(e.row == 2 and f"longer than {MAX_ROW_CHARS:,} characters" in e.reason for e in refusal.errors)
    # The file's own text (a few copies of 1 MB); its million cells would take tens of MB.
    assert peak < 8.0


def test_a_row_wider_than_the_limit_but_short_is_refused_by_its_cell_count():
    data = (",".join(REF_ALL) + "\n" + "," * (MAX_CELLS_PER_ROW * 2) + "x\n").encode()
    [problem] = refusals(data)
    assert f"the limit for one row is {MAX_CELLS_PER_ROW}" in problem


def test_a_header_of_thousands_of_columns_gets_one_refusal():
    data = (",".join(f"c{k}" for k in range(2000)) + "\n").encode()
    [problem] = refusals(data)
    assert problem.startswith("referrals.csv row 1: the header has 2,000 cells")


def test_a_cell_longer_than_the_limit_is_refused_without_being_read():
    [problem] = refusals(csv_text(REF_ALL, [referral(wishes="x" * (MAX_CELL_CHARS + 1))]).encode())
    assert problem.startswith("referrals.csv row 2, column wishes: is ")
    assert f"the limit for one cell is {MAX_CELL_CHARS:,}" in problem


def test_a_file_with_thousands_of_problems_is_checked_no_further_and_lists_the_first(sqlite_engine, tmp_path):
    rows = [referral(id=f"R{k}", tier="platinum", urgency="whenever") for k in range(3 * MAX_ERRORS_COLLECTED)]
    path = tmp_path / "referrals.csv"
    path.write_text(csv_text(REF_ALL, rows))
    started = time.perf_counter()
    with pytest.raises(ImportFailed) as caught:
        import_referrals(sqlite_engine, path)
    assert time.perf_counter() - started < 10  # far from the seconds the whole file's checks take
    refusal = caught.value
    assert refusal.stopped and len(refusal.errors) == MAX_ERRORS_COLLECTED
    lines = str(refusal).splitlines()
    assert len(lines) == MAX_ERRORS_SHOWN + 1
    assert lines[0].startswith("referrals.csv row 2, column tier:")
    assert f"more than {MAX_ERRORS_COLLECTED:,} problems" in lines[-1]
    assert sum(table_counts(sqlite_engine).values()) == 0
