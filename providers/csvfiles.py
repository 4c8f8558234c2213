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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

# Enough to fix a file in one sitting without burying the first problems under thousands of
# copies of the same one (a whole column in the wrong format).
MAX_ERRORS_SHOWN = 200

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

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f"{',' if self.row is not None else ''} column {self.column}"
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """A file was refused; nothing was written. ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.errors[:MAX_ERRORS_SHOWN]
        lines = [str(e) for e in shown]
        hidden = len(self.errors) - len(shown)
        if hidden:
            lines.append(f"... and {hidden} more errors (only the first {MAX_ERRORS_SHOWN} are listed)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()


class ErrorLog:
    """Collects the errors of one file, so a file is judged whole rather than first-fault."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._errors: list[RowError] = []
        self._cells: set[tuple[int | None, str | None]] = set()

    def add(self, row: int | None, column: str | None, reason: str) -> None:
        self._errors.append(RowError(self.file, row, column, reason))
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
            raise ImportFailed(self.sorted(column_order))


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


def _read_bytes(source: Source, errors: ErrorLog) -> bytes | None:
    if isinstance(source, bytes):
        return source
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        errors.add(None, None, f"file not found (looked for {path.resolve()})")
    except IsADirectoryError:
        errors.add(None, None, f"{path.resolve()} is a folder, not a CSV file")
    except OSError as exc:
        errors.add(None, None, f"cannot be read: {exc.strerror or exc}")
    return None


def _bad_bytes(cell: str) -> str | None:
    """The bytes that were not UTF-8, as hex, if the cell has any (see surrogateescape below)."""
    bad = [f"0x{ord(ch) - 0xDC00:02X}" for ch in cell if "\udc80" <= ch <= "\udcff"]
    return ", ".join(dict.fromkeys(bad)) if bad else None


_UTF8_HELP = "save the file as 'CSV UTF-8' (in Excel: Save As > CSV UTF-8)"


def read_table(
    source: Source, file: str, required: Sequence[str], optional: Sequence[str], errors: ErrorLog
) -> Table | None:
    """The header and non-blank rows of a CSV file, checked for shape; None if unreadable.

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

    # surrogateescape keeps every undecodable byte as a marker character, so the CSV can still be
    # split into cells and each bad byte reported at its own row and column. utf-8-sig drops the
    # byte-order mark Excel writes at the start of "CSV UTF-8" files.
    try:
        text = data.decode("utf-8-sig")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="surrogateescape")
        clean = False

    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        errors.add(
            len(records) + 1,
            None,
            f"malformed CSV ({exc}); a value containing a comma, a double quote or a line break "
            'must be wrapped in double quotes, with each double quote inside it written twice ("")',
        )

    if not records or not any(cell.strip() for cell in records[0]):
        errors.add(1, None, "the first row must be the header: " + ", ".join(known))
        return None

    header = [cell.strip().lower() for cell in records[0]]
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
            if not clean and (bad := _bad_bytes(value)):
                errors.add(row, header[i], f"not valid UTF-8 (byte {bad}); {_UTF8_HELP}")
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
            errors.add(1, None, f"column {i + 1} heading is not valid UTF-8 (byte {bad}); {_UTF8_HELP}")
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
        return dt.date(year, month, day)
    except ValueError as exc:
        raise CellError(f"{cell!r} is not a real date ({exc})") from None


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
