"""Excel workbooks (.xlsx) read as the CSV files they stand for.

Commissioners keep bids and scores in Excel. A sheet of a workbook is turned into the same
table of strings a CSV file gives (providers.csvfiles), so it meets the same checks and its
problems name the same things: the file, the sheet, the row as Excel numbers it (the header in
row 1, nothing skipped), the column heading and the reason.

A workbook is a zip of XML, so its size on disk says little about what it holds: before a
sheet is read, the sizes its zip declares are added up and a workbook that would unpack to more
than ``MAX_UNZIPPED_BYTES`` is refused unread (a "zip bomb" of a few kilobytes can hold
gigabytes); then its rows are read one at a time (openpyxl's read-only mode) and reading stops
at the row and cell limits every import has (providers.limits).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Mapping, Sequence

from providers.csvfiles import ErrorLog, Source, Table, read_bytes, read_table
from providers.limits import MAX_CELLS_PER_ROW, MAX_FILE_BYTES, MAX_ROWS, MB

MAX_UNZIPPED_BYTES = 10 * MAX_FILE_BYTES  # a 20 MB file of text unpacks to a few times that at most
SIGNATURE = b"PK\x03\x04"


def is_workbook(data: bytes) -> bool:
    return data.startswith(SIGNATURE)


def _cell(value) -> str:
    """A cell as the text a CSV file would hold: dates as YYYY-MM-DD, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sheet_as_csv(data: bytes, errors: ErrorLog, sheet: str | None = None) -> bytes | None:
    """The sheet named ``sheet`` (the first sheet if None) as UTF-8 CSV bytes, or None with the
    reason in ``errors`` (a file that is not a workbook, a sheet it lacks, a limit broken)."""
    from openpyxl import load_workbook  # only when a workbook is read

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        errors.add(None, None, "this is not an Excel workbook (.xlsx) that can be opened: save it again from Excel")
        return None
    if unzipped > MAX_UNZIPPED_BYTES:
        errors.add(None, None, f"the workbook unpacks to {unzipped / MB:,.0f} MB; the limit is "
                               f"{MAX_UNZIPPED_BYTES // MB} MB (save only the sheet needed, or as CSV)")
        return None
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 (openpyxl raises many kinds for a damaged or foreign zip)
        errors.add(None, None, "this is not an Excel workbook (.xlsx) that can be opened: save it again from Excel")
        return None
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            errors.add(None, None, f"the workbook has no sheet named {sheet!r}; its sheets are: {', '.join(names)}")
            return None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        width = 0
        for number, row in enumerate(book[sheet or names[0]].iter_rows(values_only=True), start=1):
            if number > MAX_ROWS + 1:
                errors.add(None, None, f"the sheet has more than {MAX_ROWS:,} rows after its header; "
                                       f"the limit for one import is {MAX_ROWS:,} (split it into smaller files)")
                return None
            cells = list(row)
            while cells and cells[-1] is None:  # Excel pads rows to the widest one used
                cells.pop()
            if len(cells) > MAX_CELLS_PER_ROW:
                errors.add(number, None, f"the row has {len(cells):,} cells; the limit for one row is "
                                         f"{MAX_CELLS_PER_ROW}")
                return None
            if number == 1:
                width = len(cells)
            elif cells and len(cells) < width:
                # Excel keeps no difference between an empty trailing cell and a missing one, so a
                # row that stops early is a row whose last columns are blank, not a short row.
                cells += [None] * (width - len(cells))
            writer.writerow([_cell(v) for v in cells])
        return out.getvalue().encode("utf-8")
    finally:
        book.close()


def read_csv_or_sheet(source: Source, file: str, required: Sequence[str], optional: Sequence[str],
                      errors: ErrorLog, *, sheet: str | None = None,
                      aliases: Mapping[str, str] | None = None) -> Table | None:
    """A CSV file, or a sheet of an Excel workbook, as providers.csvfiles reads a CSV file: the
    same checks, the same problems, with Excel's row numbers."""
    data = read_bytes(source, errors)
    if data is None:
        return None
    if is_workbook(data):
        data = sheet_as_csv(data, errors, sheet)
        if data is None:
            return None
    elif sheet is not None:
        errors.add(None, None, f"a sheet ({sheet!r}) is named, but this is a CSV file, not an Excel workbook")
        return None
    return read_table(data, file, required, optional, errors, aliases=aliases)
