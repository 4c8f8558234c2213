"""How much placematch will read from any one input, in one place.

Every file and request is measured against these before it is read or built, so a wrong file
(a database dump, a spreadsheet with pictures in it) or a hostile one (a YAML "billion laughs")
is turned away in well under a second with the limit named, instead of holding the service and
its memory. Each value is far above what a council, or a region of councils, really sends; the
comment beside it says why it is that size. The limits live here, low in the dependency order
(api -> scenarios -> matching -> providers -> models), so the service, the command line and the
scenario and policy readers all share them.
"""

from __future__ import annotations

import datetime as dt
import re

MB = 1024 * 1024

# --- HTTP requests (api.body_limit) ----------------------------------------------------------

# Any request that is not a file upload: the largest is a tender scenario (at most
# MAX_YAML_CHARS characters, which JSON-escaping can grow a few times over); forms, decisions
# and policy changes are a few kilobytes.
MAX_REQUEST_BYTES = 1 * MB

# A whole upload request: the file plus the multipart wrapping around it (boundaries and part
# headers are a few hundred bytes; 64 KB leaves room for any client's).
MAX_UPLOAD_REQUEST_BYTES = 20 * MB + 64 * 1024

# --- interchange files (providers.csvfiles) --------------------------------------------------

# One CSV file. A council's referrals.csv of a few thousand rows is well under 5 MB; low enough
# that a wrong file (a spreadsheet export with images, a database dump) is turned away unread.
MAX_FILE_BYTES = 20 * MB

# Rows in one import: ten times the benchmark's 5,000-row file, and more than every open
# referral and vacancy of the largest regional care co-operative (19 councils) together.
MAX_ROWS = 50_000

# Cells in one row (the header included): the files have at most 24 columns; a row wider than
# this is not one of ours, and its cells are not looked at one by one.
MAX_CELLS_PER_ROW = 100

# Characters in one cell: the longest field is a young person's wishes (2,000 characters, see
# models.schemas.ReferralIn); a ';'-separated list of codes or postcodes is far shorter.
MAX_CELL_CHARS = 4_000

# Characters in one row as the file holds it (all cells, quotes and separators): checked while
# the row is read, so a row of a million empty cells is refused before its cells are built.
MAX_ROW_CHARS = MAX_CELLS_PER_ROW * 200 + 2 * MAX_CELL_CHARS

# Problems listed for one refused file, by the command line and the API alike: enough to fix a
# file in one sitting without burying the first problems under thousands of copies of the same
# one (a whole column in the wrong format).
MAX_ERRORS_SHOWN = 200

# Problems collected before a file is judged no further: a file this wrong is refused as it
# stands (its first MAX_ERRORS_SHOWN problems listed), rather than spending minutes on more.
MAX_ERRORS_COLLECTED = 5 * MAX_ERRORS_SHOWN

# Dates in a file (dates of birth, referral dates, when a bed is free): every young person the
# service can place (16 to 25) and every record it keeps fall well inside; a date outside is a
# typing slip (9999 for "unknown", 1800 for 2018), and a year like 9999 would overflow the date
# arithmetic of matching.
EARLIEST_DATE = dt.date(1950, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)

# --- YAML files (providers.safe_yaml) --------------------------------------------------------

# Characters in one scenario or policy file: the shipped examples are 1-3 KB, a scenario with
# hundreds of block contracts still under 50 KB. Same as the API's scenario field.
MAX_YAML_CHARS = 100_000

# Keys, values and list items in one YAML file: a large scenario has a few hundred.
MAX_YAML_NODES = 10_000

# Nesting depth of a YAML file: the scenario file nests four deep (supply > block_contracts >
# 1 > tier); deeper nesting is not ours and would exhaust the reader's recursion.
MAX_YAML_DEPTH = 20

# --- characters ------------------------------------------------------------------------------

# Control characters a spreadsheet or a text box never shows: NUL (which PostgreSQL cannot
# store in text at all), the other C0 codes but tab and line breaks, DEL and the C1 codes (what
# a Windows-1252 file's curly quotes become when read as Latin-1).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str) -> tuple[int, str] | None:
    """Where the first control character in ``text`` is, and which (written as U+XXXX), or None."""
    found = _CONTROL.search(text)
    return (found.start(), f"U+{ord(found.group()):04X}") if found else None
