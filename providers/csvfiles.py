"""Reading interchange CSV files and parsing their cells, with errors a person can act on.

The people who send us referrals.csv and vacancies.csv edit them in spreadsheets. Every error
therefore names what they see there: the file, the spreadsheet row (the header is row 1, the
first data row is row 2) and the column heading, then says what is wrong and, where we can
guess, what they meant. Nothing here knows about referrals or vacancies: ``providers.interchange``
says which columns a file has and how each cell is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from providers.limits import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_CELL_CHARS,
    MAX_CELLS_PER_ROW,
    MAX_ERRORS_COLLECTED,
    MAX_ERRORS_SHOWN,
    MAX_FILE_BYTES,
    MAX_ROW_CHARS,
    MAX_ROWS,
    MB,
    control_character,
)

LIST_SEPARATOR = ";"

Source = str | os.PathLike | bytes


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in a file. ``row`` is None for the file as a whole; ``column`` is None when
    the problem is with a whole row (a ragged row)."""

    file: str
    row: int | None
    column: str | None
    reason: str
    spelled_as: str | None = None  # the column's heading in the file, when it is another name for it

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f"{',' if self.row is not None else ''} column {self.column}"
            if self.spelled_as:
                where += f" (headed {self.spelled_as} in the file)"
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """A file was refused; nothing was written. ``errors`` holds every problem found, or the
    first MAX_ERRORS_COLLECTED when ``stopped`` (the file was so wrong it was checked no
    further)."""

    def __init__(self, errors: Sequence[RowError], *, stopped: bool = False) -> None:
        self.errors = list(errors)
        self.stopped = stopped
        super().__init__(self._message())

    def summary(self) -> str:
        """How many problems, in words: "3 problems", "more than 1,000 problems"."""
        count = f"{len(self.errors):,} problem{'s' if len(self.errors) != 1 else ''}"
        return f"more than {count}" if self.stopped else count

    def _message(self) -> str:
        shown = self.errors[:MAX_ERRORS_SHOWN]
        lines = [str(e) for e in shown]
        hidden = len(self.errors) - len(shown)
        if self.stopped:
            lines.append(f"... {self.summary()} in all: the file was checked no further "
                         f"(only the first {MAX_ERRORS_SHOWN} are listed)")
        elif hidden:
            lines.append(f"... and {hidden} more errors (only the first {MAX_ERRORS_SHOWN} are listed)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()


class ErrorLog:
    """Collects the errors of one file, so a file is judged whole rather than first-fault; up
    to MAX_ERRORS_COLLECTED of them, after which the file is refused as it stands (a file that
    wrong is not worth minutes more, and its list would bury the first problems anyway).
    ``columns``: the order errors are listed in, left to right."""

    def __init__(self, file: str, columns: Sequence[str] = ()) -> None:
        self.file = file
        self.columns = list(columns)
        self._errors: list[RowError] = []
        self._cells: set[tuple[int | None, str | None]] = set()
        self.spelled: dict[str, str] = {}  # column -> its heading in the file, where an alias was read

    def add(self, row: int | None, column: str | None, reason: str) -> None:
        if len(self._errors) >= MAX_ERRORS_COLLECTED:
            raise ImportFailed(self.sorted(self.columns), stopped=True)
        self._errors.append(RowError(self.file, row, column, reason, self.spelled.get(column or "")))
        self._cells.add((row, column))

    def has(self, row: int | None, column: str | None) -> bool:
        """True when this cell already has an error (later checks then keep quiet about it)."""
        return (row, column) in self._cells

    def __bool__(self) -> bool:
        return bool(self._errors)

    def sorted(self, column_order: Sequence[str] = ()) -> list[RowError]:
        rank = {c: i for i, c in enumerate(column_order)}
        # File-level errors first, then by row, then left to right as the spreadsheet shows them
        # (a stable sort: the items of one list cell stay in the order they were written).
        return sorted(self._errors, key=lambda e: (e.row or 0, rank.get(e.column or "", -1)))

    def raise_if_any(self, column_order: Sequence[str] = ()) -> None:
        if self._errors:
            raise ImportFailed(self.sorted(column_order or self.columns))


class CellError(ValueError):
    """A cell that cannot be read; may carry several reasons (one per bad item of a list)."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


# --- the file as a table of strings ---------------------------------------------------------


@dataclass
class Table:
    file: str
    columns: list[str]  # the header's known columns, in file order
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, cells)


def source_name(source: Source, default: str) -> str:
    return default if isinstance(source, bytes) else Path(source).name


def _too_large(size: int) -> str:
    return (f"the file is {size / MB:,.1f} MB; the limit for one file is {MAX_FILE_BYTES // MB} MB "
            f"(split it into smaller files)")


def _read_bytes(source: Source, errors: ErrorLog) -> bytes | None:
    """The file's bytes, or None (with the reason in ``errors``): a file over MAX_FILE_BYTES is
    refused by its size, before it is read."""
    if isinstance(source, bytes):
        if len(source) > MAX_FILE_BYTES:
            errors.add(None, None, _too_large(len(source)))
            return None
        return source
    path = Path(source)
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
        if size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:  # a file still growing as it is read
            errors.add(None, None, _too_large(max(size, len(data))))
            return None
        return data
    except FileNotFoundError:
        errors.add(None, None, f"file not found (looked for {path.resolve()})")
    except IsADirectoryError:
        errors.add(None, None, f"{path.resolve()} is a folder, not a CSV file")
    except OSError as exc:
        errors.add(None, None, f"cannot be read: {exc.strerror or exc}")
    return None


read_bytes = _read_bytes  # for readers of other shapes of table (providers.workbooks)


def _bad_bytes(cell: str) -> str | None:
    """The bytes that were not UTF-8, as hex, if the cell has any (see surrogateescape below)."""
    bad = [f"0x{ord(ch) - 0xDC00:02X}" for ch in cell if "\udc80" <= ch <= "\udcff"]
    return ", ".join(dict.fromkeys(bad)) if bad else None


_UTF8_HELP = "save the file as 'CSV UTF-8' (in Excel: Save As > CSV UTF-8)"

# What a file that is not CSV text starts with, and what to tell the person who sent it. The
# UTF-32 marks come before UTF-16's, which they begin with.
_NOT_CSV = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zipped file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls) or another Office file"),
    (b"\xff\xfe\x00\x00", "text saved as UTF-32"),
    (b"\x00\x00\xfe\xff", "text saved as UTF-32"),
    (b"\xff\xfe", "text saved as UTF-16 (Excel's 'Unicode Text')"),
    (b"\xfe\xff", "text saved as UTF-16 (Excel's 'Unicode Text')"),
]


def _not_csv(data: bytes) -> str | None:
    """Why the file is not CSV text at all, if it is plainly not (an image, a workbook, UTF-16),
    judged by its first bytes: one refusal instead of a problem per unreadable cell."""
    for signature, kind in _NOT_CSV:
        if data.startswith(signature):
            return f"this is {kind}, not a CSV file; {_UTF8_HELP}"
    head = data[:4096]
    # UTF-16 without its byte-order mark: every other byte of English text is a NUL.
    if len(head) >= 8 and head.count(0) * 3 >= len(head):
        return f"this looks like text saved as UTF-16 (Excel's 'Unicode Text'), not a CSV file; {_UTF8_HELP}"
    return None


def _as_cp1252(cell: str) -> str | None:
    """A cell with undecodable bytes as a Windows-1252 (Latin-1) file would read: what the
    person typed, most often (a heading like 'séx' saved by Excel's plain 'CSV')."""
    try:
        return cell.encode("utf-8", errors="surrogateescape").decode("cp1252")
    except UnicodeDecodeError:
        return None


class _RowTooLong(Exception):
    """Raised from inside the CSV reader when a row is longer than MAX_ROW_CHARS."""


class _BoundedLines:
    """The file's lines for the CSV reader, counting the characters of the row being read (a
    row may span lines inside quotes): a row over MAX_ROW_CHARS stops the reader before it
    has split that row into cells."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.row_chars = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW_CHARS:
            raise _RowTooLong
        return line


def _records(text: str, errors: ErrorLog) -> list[list[str]]:
    """The file's records, read no further than the first that breaks a limit (too many rows,
    a row too long) or is malformed; the limit is reported as that row's problem."""
    records: list[list[str]] = []
    lines = _BoundedLines(text)
    reader = csv.reader(lines, strict=True)
    while True:
        row = len(records) + 1
        lines.row_chars = 0
        try:
            record = next(reader)
        except StopIteration:
            break
        except _RowTooLong:
            errors.add(row, None, f"the row is longer than {MAX_ROW_CHARS:,} characters (the limit for one row); "
                                  "the file was read no further")
            break
        except csv.Error as exc:
            errors.add(
                row,
                None,
                f"malformed CSV ({exc}); a value containing a comma, a double quote or a line break "
                'must be wrapped in double quotes, with each double quote inside it written twice ("")',
            )
            break
        if row > MAX_ROWS + 1:  # the header is row 1
            errors.add(None, None, f"the file has more than {MAX_ROWS:,} rows; the limit for one import is "
                                   f"{MAX_ROWS:,} (split it into smaller files)")
            break
        records.append(record)
    return records


def _cell_problem(cell: str, clean: bool) -> str | None:
    """Why a cell cannot be read as text at all: undecodable bytes, a control character, or
    more characters than any column holds. The cell's value is never repeated (it may be
    personal data)."""
    if not clean and (bad := _bad_bytes(cell)):
        return f"not valid UTF-8 (byte {bad}); {_UTF8_HELP}"
    if len(cell) > MAX_CELL_CHARS:
        return f"is {len(cell):,} characters long; the limit for one cell is {MAX_CELL_CHARS:,}"
    if (control := control_character(cell)) is not None:
        at, which = control
        what = "a NUL character (U+0000)" if which == "U+0000" else f"the control character {which}"
        return (f"contains {what} at character {at + 1}, which a spreadsheet does not show; "
                "remove it (retyping the cell is simplest)")
    return None


def column_key(heading: str) -> str:
    """A heading compared as the alias tables hold them: lower case, spaces and hyphens as ``_``."""
    return re.sub(r"[\s\-]+", "_", heading.strip().lower())


def read_table(
    source: Source, file: str, required: Sequence[str], optional: Sequence[str], errors: ErrorLog,
    aliases: Mapping[str, str] | None = None,
) -> Table | None:
    """The header and non-blank rows of a CSV file, checked for shape; None if unreadable.
    ``aliases`` (column_key(heading) -> column) reads other names for the documented columns,
    as case-system exports head them; errors then say how the file headed the column.

    Errors go to ``errors``; reading goes on past them where the rest can still be trusted, so
    one pass reports everything.
    """
    data = _read_bytes(source, errors)
    if data is None:
        return None
    known = list(required) + list(optional)
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        errors.add(None, None, "the file is empty; the first row must be the header: " + ", ".join(known))
        return None
    if (kind := _not_csv(data)) is not None:
        errors.add(None, None, kind)
        return None

    # surrogateescape keeps every undecodable byte as a marker character, so the CSV can still be
    # split into cells and each bad byte reported at its own row and column. utf-8-sig drops the
    # byte-order mark Excel writes at the start of "CSV UTF-8" files.
    try:
        text = data.decode("utf-8-sig")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="surrogateescape")
        clean = False

    records = _records(text, errors)
    if errors.has(None, None) or (not records and errors.has(1, None)):
        # Too many rows (the file is refused as it stands, its rows unchecked), or the header
        # itself broke a limit or is malformed: said already.
        return None
    if not records or not any(cell.strip() for cell in records[0]):
        errors.add(1, None, "the first row must be the header: " + ", ".join(known))
        return None
    if len(records[0]) > MAX_CELLS_PER_ROW:
        errors.add(1, None, f"the header has {len(records[0]):,} cells; these files have {len(known)} columns "
                            f"at most (the limit for one row is {MAX_CELLS_PER_ROW})")
        return None

    header = [cell.strip().lower() for cell in records[0]]
    if aliases:
        for i, cell in enumerate(records[0]):
            column = aliases.get(column_key(cell))
            if column is not None and header[i] != column:
                errors.spelled.setdefault(column, cell.strip())
                header[i] = column
    if len(header) == 1 and (sep := next((c for c in ";\t|" if c in header[0]), None)):
        # A spreadsheet in a continental locale saves "CSV" with ';' between cells.
        errors.add(1, None, f"the header is one cell; the file looks separated by {sep!r} rather than commas")
        return None
    body = list(enumerate(records[1:], start=2))
    usable = _check_header(header, body, required, known, errors, clean)

    table = Table(file=file, columns=[header[i] for i in usable])
    width = len(header)
    for row, record in body:
        if not any(cell.strip() for cell in record):
            continue  # blank rows (and rows of empty cells) are spreadsheet padding
        if len(record) > MAX_CELLS_PER_ROW:
            errors.add(row, None, f"the row has {len(record):,} cells; the header has {width} columns "
                                  f"(the limit for one row is {MAX_CELLS_PER_ROW})")
            continue
        if len(record) != width:
            extra = record[width:]
            if len(record) > width and not any(cell.strip() for cell in extra):
                record = record[:width]  # trailing empty cells: harmless padding from a spreadsheet
            else:
                errors.add(row, None, _ragged(len(record), header))
                continue
        cells = {}
        for i in usable:
            value = record[i]
            if (problem := _cell_problem(value, clean)) is not None:
                errors.add(row, header[i], problem)
                continue
            cells[header[i]] = value.strip()
        table.rows.append((row, cells))
    return table


def _ragged(cells: int, header: list[str]) -> str:
    if cells < len(header):
        missing = header[cells:]
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        detail = f"nothing for column{'s' if len(missing) > 1 else ''} {shown}"
    else:
        detail = f"{cells - len(header)} cell(s) beyond the last column, {header[-1]}"
    return (
        f"wrong number of cells: {cells} where the header has {len(header)} columns ({detail}); "
        "a value containing a comma must be wrapped in double quotes"
    )


def _check_header(
    header: list[str],
    body: list[tuple[int, list[str]]],
    required: Sequence[str],
    known: Sequence[str],
    errors: ErrorLog,
    clean: bool,
) -> list[int]:
    """Positions of the header's usable columns, after reporting unknown, repeated and
    missing ones."""
    usable: list[int] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not clean and (bad := _bad_bytes(name)):
            seen_as = _as_cp1252(name)
            read = f"; it reads '{seen_as}' as a Windows (Latin-1) file, which placematch does not read" if seen_as else ""
            errors.add(1, None, f"column {i + 1} heading is not valid UTF-8 (byte {bad}){read}; {_UTF8_HELP}")
            continue
        if (problem := _cell_problem(name, True)) is not None:
            errors.add(1, None, f"column {i + 1} heading {problem}")
            continue
        if not name:
            # A nameless column with nothing in it is a spreadsheet's trailing comma; with data it
            # is a column someone forgot to name.
            if any(i < len(rec) and rec[i].strip() for _, rec in body):
                errors.add(1, None, f"column {i + 1} has values but no heading")
            continue
        if name in seen:
            errors.add(1, name, f"column appears twice in the header (columns {seen[name] + 1} and {i + 1})")
            continue
        seen[name] = i
        if name not in known:
            errors.add(1, name, unknown_column(name, known))
            continue
        usable.append(i)
    for name in required:
        if name not in seen:
            errors.add(1, name, "required column is missing from the header")
    return usable


def unknown_column(name: str, known: Sequence[str]) -> str:
    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else ""
    return f"unknown column{hint} (columns: {', '.join(known)})"


# --- cells ----------------------------------------------------------------------------------

Parser = Callable[[str], Any]


def text(cell: str) -> str:
    return cell


def boolean(cell: str) -> bool:
    value = _BOOLEANS.get(cell.lower())
    if value is None:
        raise CellError(f"{cell!r} is not a yes/no value (use true/false, yes/no, y/n or 1/0)")
    return value


_BOOLEANS = {
    "true": True, "yes": True, "y": True, "1": True,
    "false": False, "no": False, "n": False, "0": False,
}

# ISO dates, and DD/MM/YYYY as SSDA903 files write them. Nothing else: 03/04/25 or 2025/4/3
# could be read more than one way, and a wrong date of birth silently changes who is eligible.
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def date(cell: str) -> dt.date:
    if m := _ISO.match(cell):
        year, month, day = (int(g) for g in m.groups())
    elif m := _UK.match(cell):
        day, month, year = (int(g) for g in m.groups())
    else:
        raise CellError(f"{cell!r} is not a date; write it as YYYY-MM-DD (or DD/MM/YYYY)")
    try:
        value = dt.date(year, month, day)
    except ValueError as exc:
        raise CellError(f"{cell!r} is not a real date ({exc})") from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        # 9999 for "not known" or 1800 for 2018: refused here, before an age or a deadline is
        # worked out from it.
        raise CellError(f"{cell!r} is not a plausible date: dates must be between "
                        f"{EARLIEST_DATE:%d/%m/%Y} and {LATEST_DATE:%d/%m/%Y}")
    return value


def integer(cell: str) -> int:
    try:
        number = float(cell)
    except ValueError:
        raise CellError(f"{cell!r} is not a whole number") from None
    # Spreadsheets sometimes write whole numbers as 3.0; 3.5 beds is a mistake, not a rounding.
    if not math.isfinite(number) or not number.is_integer():
        raise CellError(f"{cell!r} is not a whole number")
    return int(number)


def number(cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise CellError(
            f"{cell!r} is not a number (write it like 1250 or 1250.50, without £ or commas)"
        ) from None
    if not math.isfinite(value):
        raise CellError(f"{cell!r} is not a number")
    return value


def code(codes: Sequence[str], what: str) -> Parser:
    """A parser for one code of a closed list, case-insensitive, suggesting the nearest code."""
    valid = list(codes)
    lookup = {c.lower(): c for c in valid}

    def parse(cell: str) -> str:
        found = lookup.get(cell.lower())
        if found is not None:
            return found
        raise CellError(bad_code(cell, valid, what))

    return parse


def nearest(value: str, valid: Sequence[str]) -> str | None:
    """The code someone most likely meant, if any is close."""
    # Risks to others carry a prefix ("to_others:physical"); a bare "physical" means that one.
    prefixed = [c for c in valid if c.endswith(":" + value.lower())]
    if prefixed:
        return prefixed[0]
    guesses = difflib.get_close_matches(value.lower(), valid, n=1, cutoff=0.6)
    return guesses[0] if guesses else None


def did_you_mean(value: str, valid: Sequence[str]) -> str:
    guess = nearest(value, valid)
    return f"; did you mean '{guess}'?" if guess else ""


def bad_code(value: str, valid: Sequence[str], what: str) -> str:
    return f"{value!r} is not a valid {what}{did_you_mean(value, valid)} (valid: {', '.join(valid)})"


def items(cell: str) -> list[str]:
    """The non-empty items of a ';'-separated cell, stripped."""
    return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]


def list_of(parse: Parser) -> Parser:
    """A parser for a ';'-separated list, reporting every bad item rather than the first."""

    def parse_list(cell: str) -> list:
        values, reasons = [], []
        for item in items(cell):
            try:
                values.append(parse(item))
            except CellError as exc:
                reasons.extend(exc.reasons)
        if reasons:
            raise CellError(*reasons)
        return list(dict.fromkeys(values))

    return parse_list


def parse_row(
    row: int, cells: dict[str, str], parsers: dict[str, Parser], errors: ErrorLog
) -> dict[str, Any]:
    """Typed values of a row's non-empty cells (an empty cell is 'not given' and left out)."""
    values: dict[str, Any] = {}
    for column, cell in cells.items():
        if cell == "":
            continue
        try:
            values[column] = parsers[column](cell)
        except CellError as exc:
            for reason in exc.reasons:
                errors.add(row, column, reason)
    return values


# --- pydantic errors back to columns --------------------------------------------------------


def schema_errors(
    exc: ValidationError, row: int, cells: dict[str, str], columns: Sequence[str], errors: ErrorLog
) -> None:
    """Report a schema's complaints against the columns they concern, in a person's words.

    Field errors carry the field (= column) name in their location. Whole-row rules (age at
    referral, price for each offered tier) have no location, so the column is the first one
    the rule's message names.
    """
    for err in exc.errors(include_url=False):
        loc = err.get("loc") or ()
        column = str(loc[0]) if loc else _first_column_named(_message(err), columns)
        if errors.has(row, column):
            continue  # already reported as a cell that could not be read
        if err["type"] == "missing":
            if column in cells:  # a missing header column is reported once, not per row
                errors.add(row, column, "a value is required")
            continue
        errors.add(row, column, _reason(err, cells.get(column or "", "")))


def _message(err: dict) -> str:
    ctx = err.get("ctx") or {}
    if err["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(err.get("msg", ""))


def _first_column_named(message: str, columns: Sequence[str]) -> str | None:
    hits = [
        (m.start(), c) for c in columns if (m := re.search(rf"(?<![\w:]){re.escape(c)}(?!\w)", message))
    ]
    if hits:
        return min(hits)[1]
    for phrase, column in _RULE_COLUMNS.items():
        if phrase in message and column in columns:
            return column
    return None


# Whole-row rules whose message does not name a column.
_RULE_COLUMNS = {"both suitable and unsuitable": "unsuitable_types"}


def _reason(err: dict, raw: str) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    shown = repr(raw)
    if kind == "greater_than_equal":
        limit = ctx.get("ge")
        return f"{shown} cannot be negative" if limit == 0 else f"{shown} is below the minimum of {limit}"
    if kind == "greater_than":
        return f"{shown} must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"{shown} is above the maximum of {ctx.get('le')}"
    if kind == "less_than":
        return f"{shown} must be less than {ctx.get('lt')}"
    if kind == "string_pattern_mismatch":
        return (
            f"{shown} is not a valid id: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind in ("too_short", "string_too_short"):
        return "a value is required"
    if kind == "value_error":
        return _message(err)
    return f"{shown}: {err.get('msg', 'invalid')}"


# --- writing --------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """One value as the interchange files write it (and read it back unchanged)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # 1250.0 -> "1250", 1250.5 -> "1250.5": prices and radii as a person writes them.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(cell(v) for v in value)
    return str(value)


def write_table(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as UTF-8 CSV with '\\n' line endings, via a temporary file so a reader never
    sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(c)) for c in columns])
    tmp.replace(path)
    return path
