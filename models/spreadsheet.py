"""Cells a spreadsheet will not run: the one rule every CSV export meant for people applies.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (and a leading tab or carriage return can hide one), so a young person's note or
a scenario's name such as ``=HYPERLINK("http://...", "open")`` would run on a manager's
machine when the export is opened (CSV injection). Such a *text* cell is written with a
leading single quote, which every spreadsheet shows as plain text.

Numbers stay numbers: a numeric value (int, float, Decimal) is never touched, and neither is
text that is nothing but a number (``-3.5``, ``+44``, ``1e-3``): a spreadsheet reads it as that
number, not as a formula, and a negative cost or change is data. ``-3.5+1`` or ``-A1`` are not
plain numbers and are neutralised. In a list cell (``;`` between the items) each item is
checked, so a spreadsheet that splits the cell on ``;`` is safe too.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def inert(value: Any) -> Any:
    """``value`` as a spreadsheet will show it and never run it (see the module)."""
    if isinstance(value, str):
        if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(inert(v) for v in value)
    return value


def inert_row(row):
    """A row (a list of cells, or a dict of column -> cell) with every cell made inert."""
    if isinstance(row, dict):
        return {k: inert(v) for k, v in row.items()}
    return [inert(v) for v in row]


def inert_frame(frame):
    """A pandas DataFrame with its text columns made inert (numeric columns are left alone);
    a copy, the frame given is not changed."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(inert)
    return out
