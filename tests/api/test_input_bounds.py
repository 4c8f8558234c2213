"""Denial of service by input, over HTTP: every request, upload, row, cell and list of problems
is bounded before it is read, and a refused input answers 413 or 422 quickly, naming the limit,
with nothing written."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc

from sqlalchemy import func, select

from models.enums import Role
from models.orm import AuditEvent, Property, Provider, Referral, TierPrice, Vacancy
from providers.interchange import export_dir
from providers.limits import (
    MAX_CELLS_PER_ROW,
    MAX_ERRORS_SHOWN,
    MAX_FILE_BYTES,
    MAX_REQUEST_BYTES,
    MAX_ROWS,
    MAX_UPLOAD_REQUEST_BYTES,
)


def laughs(levels: int) -> str:
    lines = ["name: Laughs", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines + [f"description: *l{levels}"]) + "\n"


# --- YAML -------------------------------------------------------------------------------------


def _refused_bomb(client, headers, path: str) -> None:
    response = client.post(path, json={"yaml": laughs(5), "file_name": "laughs.yaml"}, headers=headers)
    assert response.status_code == 422, response.text
    [field] = response.json()["error"]["fields"]
    assert field["path"] == "body.yaml:line 2"
    assert "anchor &l0" in field["message"]


def test_an_alias_bomb_scenario_is_refused_within_a_second_with_memory_flat(client, as_role):
    headers = as_role(Role.commissioner)
    tracemalloc.start()
    try:
        _refused_bomb(client, headers, "/scenario-checks")  # also imports the scenario reader
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert peak < 20.0  # MB (measured: about 3); expanded, the bomb would take hundreds
    for path in ("/scenario-checks", "/scenario-results"):
        started = time.perf_counter()
        _refused_bomb(client, headers, path)
        assert time.perf_counter() - started < 1.0  # the bound
    assert client.get("/scenario-results", headers=headers).json() == []  # nothing saved


def test_a_scenario_file_name_with_a_control_character_is_refused(client, as_role):
    response = client.post("/scenario-checks", json={"yaml": "name: x\n", "file_name": "a\x00b.yaml"},
                           headers=as_role(Role.commissioner))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "body.file_name"


# --- request bodies ---------------------------------------------------------------------------

def _snapshot(engine) -> dict:
    """Everything an upload could write: the rows of each table it touches, and the audit log."""
    with engine.connect() as conn:
        tables = {model.__name__: sorted(tuple(row) for row in conn.execute(select(*model.__table__.c)))
                  for model in (Referral, Provider, Property, TierPrice, Vacancy)}
        tables["audit"] = conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    return tables


def _exported(engine, tmp_path, kind: str) -> tuple[list[str], list[dict[str, str]]]:
    path = export_dir(engine, tmp_path / "export")[kind]
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def _csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _upload(client, headers, data: bytes, name: str = "referrals.csv", path: str = "/referrals/upload"):
    return client.post(path, files={"file": (name, data, "text/csv")}, headers=headers)


def _too_large(response, limit_mb: int) -> None:
    assert response.status_code == 413, response.text[:500]
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (413, "too_large")
    assert f"{limit_mb} MB" in error["message"]


def test_a_body_declared_too_large_is_refused_unread(client, as_role):
    headers = as_role(Role.commissioner) | {"Content-Type": "application/json"}
    body = b'{"yaml": "' + b"x" * MAX_REQUEST_BYTES + b'"}'
    started = time.perf_counter()
    response = client.post("/scenario-checks", content=body, headers=headers)
    assert time.perf_counter() - started < 1.0
    _too_large(response, MAX_REQUEST_BYTES // 2**20)


def test_a_streamed_body_is_refused_once_it_passes_the_limit(client, as_role, demo_engine):
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    sent = 0

    def chunks():  # no Content-Length: the body's size is known only as it arrives
        nonlocal sent
        yield (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"referrals.csv\"\r\n"
               b"Content-Type: text/csv\r\n\r\n")
        while sent < 3 * MAX_UPLOAD_REQUEST_BYTES:
            sent += 2**20
            yield b"x" * 2**20

    response = client.post("/referrals/upload", content=chunks(),
                           headers=headers | {"Content-Type": "multipart/form-data; boundary=b"})
    _too_large(response, MAX_UPLOAD_REQUEST_BYTES // 2**20)
    assert _snapshot(demo_engine) == before


def test_an_upload_larger_than_the_request_limit_is_refused(client, as_role, demo_engine):
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    _too_large(_upload(client, headers, b"x" * (MAX_UPLOAD_REQUEST_BYTES + 1)), MAX_UPLOAD_REQUEST_BYTES // 2**20)
    assert _snapshot(demo_engine) == before


def test_a_file_just_over_its_limit_is_refused_with_413(client, as_role, demo_engine):
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    response = _upload(client, headers, b"x" * (MAX_FILE_BYTES + 1))
    _too_large(response, MAX_FILE_BYTES // 2**20)
    assert response.json()["error"]["fields"] == [{"path": "body.file", "message": "too large"}]
    assert _snapshot(demo_engine) == before


def test_an_ordinary_upload_still_goes_through(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    response = _upload(client, as_role(Role.panel_member), _csv(columns, rows).encode())
    assert response.status_code == 200, response.text


# --- files: rows, cells, contents -------------------------------------------------------------


def test_more_rows_than_the_limit_are_refused_and_nothing_is_written(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    text = _csv(columns, rows[:1])
    header, line = text.splitlines()
    response = _upload(client, headers, (header + "\n" + (line + "\n") * (MAX_ROWS + 1)).encode())
    assert response.status_code == 422, response.text[:500]
    [field] = response.json()["error"]["fields"]
    assert field["path"] == "referrals.csv" and f"more than {MAX_ROWS:,} rows" in field["message"]
    assert _snapshot(demo_engine) == before


def test_a_row_with_too_many_cells_is_refused_and_nothing_is_written(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "vacancies")
    headers = as_role(Role.commissioner)
    before = _snapshot(demo_engine)
    text = _csv(columns, rows).rstrip("\n") + "\n" + "x," * (MAX_CELLS_PER_ROW * 10) + "x\n"
    response = _upload(client, headers, text.encode(), "vacancies.csv", "/vacancies/upload")
    assert response.status_code == 422
    [field] = response.json()["error"]["fields"]
    assert field["path"] == f"vacancies.csv row {len(rows) + 2}"
    assert f"the limit for one row is {MAX_CELLS_PER_ROW}" in field["message"]
    assert _snapshot(demo_engine) == before


def test_a_png_upload_gets_a_named_422(client, as_role, demo_engine):
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x00\x00\x00\x01\x80\x08\x02\x00\x00\x00" + bytes(4096)
    response = _upload(client, headers, png, "photo.png")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "file_refused"
    assert error["fields"] == [{"path": "photo.png", "message": error["fields"][0]["message"]}]
    assert error["fields"][0]["message"].startswith("this is a PNG image, not a CSV file")
    assert _snapshot(demo_engine) == before


def test_utf16_and_latin1_files_get_named_refusals(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    text = _csv(columns, rows)
    utf16 = _upload(client, headers, text.encode("utf-16"), "unicode.csv")
    assert utf16.status_code == 422
    [field] = utf16.json()["error"]["fields"]
    assert field["path"] == "unicode.csv" and "UTF-16" in field["message"]

    latin1 = _upload(client, headers, text.replace("wishes", "wishés", 1).encode("cp1252"), "latin.csv")
    assert latin1.status_code == 422
    fields = latin1.json()["error"]["fields"]
    heading = next(f for f in fields if f["path"] == "latin.csv row 1")
    assert "not valid UTF-8 (byte 0xE9)" in heading["message"] and "'wishés'" in heading["message"]
    assert _snapshot(demo_engine) == before


def test_a_nul_in_a_text_field_is_refused_by_row_and_column(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    rows[1]["wishes"] = "near\x00college"
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    response = _upload(client, headers, _csv(columns, rows).encode())
    assert response.status_code == 422
    [field] = response.json()["error"]["fields"]
    assert field["path"] == "referrals.csv row 3 column wishes" and "NUL" in field["message"]
    assert _snapshot(demo_engine) == before


def test_a_year_9999_date_is_refused_naming_its_column(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "vacancies")
    rows[0]["available_from"] = "9999-12-31"
    headers = as_role(Role.commissioner)
    before = _snapshot(demo_engine)
    response = _upload(client, headers, _csv(columns, rows).encode(), "vacancies.csv", "/vacancies/upload")
    assert response.status_code == 422
    [field] = response.json()["error"]["fields"]
    assert field["path"] == "vacancies.csv row 2 column available_from"
    assert "'9999-12-31' is not a plausible date" in field["message"]
    assert _snapshot(demo_engine) == before


def test_the_api_lists_at_most_200_problems_as_the_command_line_does(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    for row in rows:
        row["tier"], row["urgency"], row["sex"] = "platinum", "whenever", "unknown"
    rows = (rows * (400 // len(rows) + 1))[:400]
    for k, row in enumerate(rows):
        rows[k] = dict(row, id=f"R{k:05d}")
    headers = as_role(Role.panel_member)
    before = _snapshot(demo_engine)
    response = _upload(client, headers, _csv(columns, rows).encode())
    assert response.status_code == 422
    error = response.json()["error"]
    assert len(error["fields"]) == MAX_ERRORS_SHOWN
    assert f"the first {MAX_ERRORS_SHOWN} listed" in error["message"]
    assert error["fields"][0]["path"] == "referrals.csv row 2 column sex"
    assert _snapshot(demo_engine) == before
