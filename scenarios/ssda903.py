"""SSDA903 files (Header, Episodes, OC3, UASC) read, checked against the year's code lists, and
combined across years into one history per child.

A council keeps one set of files per collection year (April to March; ``YEAR`` 2023 is the
return for 2023/24, whose census date is 31 March 2024). The same episode appears in every
year's file it overlaps, and a later file may close it (its DEC filled in): combining keeps each
episode's latest version, keyed by (LA, CHILD, DECOM). Files without LA or YEAR columns (a
single council's single return) are given them by the caller.

Every problem is listed as ``FILE row R, column C: reason`` (with the year's valid codes for an
unknown code), all at once; nothing is computed from files with problems. The public synthetic
samples carry some overlapping episodes and episodes of children with no header row: those are
refused too, unless the caller asks for ``repair=True``, which trims each overlapped episode to
end when the next one starts and leaves out children without a header row, and reports every
repair it made.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

# --- code lists -------------------------------------------------------------------------------

FOSTERING = {"U1", "U2", "U3", "U4", "U5", "U6"}
RESIDENTIAL = {"K1", "K2", "R1", "R2", "R5", "S1"}
SUPPORTED_BEFORE_2024 = {"H5", "P2"}  # H5 semi-independent living, P2 independent living
SUPPORTED_FROM_2024 = {"K3", "P2"}  # H5 became K3, registered supported accommodation, in 2024/25
OTHER_PLACEMENTS = {"A3", "A4", "A5", "A6", "P1", "P3", "R3", "T0", "T1", "T2", "T3", "T4", "Z1"}
FIRST_YEAR_OF_K3 = 2024  # the 2024/25 return


def place_codes(year: int) -> set[str]:
    supported = SUPPORTED_FROM_2024 if year >= FIRST_YEAR_OF_K3 else SUPPORTED_BEFORE_2024
    return FOSTERING | RESIDENTIAL | supported | OTHER_PLACEMENTS


LEGAL_STATUS = {"C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4"}
SHORT_BREAKS = {"V3", "V4"}  # respite: not looked after between breaks, left out of the counts
REASON_NEW_EPISODE = {"B", "L", "P", "S", "T", "U"}
ACCOMMODATION_LETTERS = "BCDEGHKRSTUVWXYZ"
OC3_ACCOM = {f"{letter}{suffix}" for letter in ACCOMMODATION_LETTERS for suffix in "12"} | {"0"}
OC3_IN_TOUCH = {"YES", "NO", "DIED", "REFU", "NREQ", "RHOM"}
# OC3 activity: education or training full/part time (F1, P1 higher; F2, P2 other), employment
# (F4, P4), not in education, employment or training (G4-G6); 0 where not known.
OC3_ACTIV = {"F1", "P1", "F2", "P2", "F4", "P4", "G4", "G5", "G6", "0"}
SEX = {"1", "2"}

REQUIRED = {
    "header": ["CHILD", "SEX", "DOB"],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC"],
    "oc3": ["CHILD", "DOB", "IN_TOUCH", "ACCOM"],
    "uasc": ["CHILD", "SEX", "DOB", "DUC"],
}
# SSDA903 tables the forecast does not use: read past, not refused.
UNUSED_TABLES = ("missing", "oc2", "ad1", "placed_for_adoption", "prev_perm", "reviews", "sbc")
DATES = {"header": ["DOB"], "episodes": ["DECOM", "DEC"], "oc3": ["DOB"], "uasc": ["DOB", "DUC"]}


# --- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None  # the file's line number (the header is line 1)
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row else "") + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


class SSDA903Error(ValueError):
    """Problems with SSDA903 files, all of them (not only the first)."""

    what = "the SSDA903 files"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in {self.what}:\n{shown}{more}")


# --- reading ----------------------------------------------------------------------------------


@dataclass
class History:
    """Every child's episodes across years, with their date of birth; ``repairs`` says what
    ``repair=True`` changed."""

    episodes: pd.DataFrame  # LA, CHILD, DOB, SEX, DECOM, DEC, PLACE, LS, RNE, UASC
    oc3: pd.DataFrame  # LA, CHILD, DOB, YEAR, IN_TOUCH, ACCOM
    uasc: pd.DataFrame  # LA, CHILD, DOB, DUC
    years: list[int]
    repairs: list[str] = field(default_factory=list)

    @property
    def census_dates(self) -> list[dt.date]:
        """31 March of each collection year the files cover."""
        return [dt.date(y + 1, 3, 31) for y in self.years]


def _read(path: Path, kind: str, problems: list[Problem], default_la: str | None,
          default_year: int | None) -> pd.DataFrame | None:
    name = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        problems.append(Problem(name, None, None, f"cannot be read as CSV ({exc})"))
        return None
    frame.columns = [c.strip().upper() for c in frame.columns]
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if missing:
        extra = [c for c in frame.columns if c not in REQUIRED[kind]]
        hints = [f"the file has '{close[0]}': did you mean {c}?" for c in missing
                 if (close := difflib.get_close_matches(c, extra, n=1))]
        problems.append(Problem(name, 1, ", ".join(missing), f"missing from this {kind} table"
                                + (f" ({'; '.join(hints)})" if hints else "")))
        return None
    frame = frame.apply(lambda col: col.str.strip())
    frame["_row"] = frame.index + 2
    frame["_file"] = name
    if "LA" not in frame.columns or (frame["LA"] == "").all():
        frame["LA"] = default_la or "council"
    if "YEAR" not in frame.columns:
        if default_year is None and kind in ("episodes", "oc3"):
            problems.append(Problem(name, 1, "YEAR", "no YEAR column: give the collection year (e.g. --year 2023)"))
            return None
        frame["YEAR"] = str(default_year or "")
    for column in DATES[kind]:
        frame[column] = _dates(frame, column, name, problems, required=not (kind == "episodes" and column == "DEC"))
    if kind in ("episodes", "oc3"):
        years = pd.to_numeric(frame["YEAR"], errors="coerce")
        for row in frame.loc[years.isna() | (years < 1990) | (years > 2100), "_row"]:
            problems.append(Problem(name, int(row), "YEAR", "not a collection year (e.g. 2023 for 2023/24)"))
        frame["YEAR"] = years.fillna(0).astype(int)
    return frame


def _dates(frame: pd.DataFrame, column: str, name: str, problems: list[Problem], required: bool) -> pd.Series:
    raw = frame[column]
    # The validator's fakes write 27/03/2008, the demand samples 2008-03-27: one format per file.
    fmt = "%d/%m/%Y" if raw.str.contains("/", regex=False).any() else "%Y-%m-%d"
    parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
    bad = parsed.isna() & ((raw != "") | required)
    for row, value in zip(frame.loc[bad, "_row"], raw[bad]):
        problems.append(Problem(name, int(row), column, f"'{value}' is not a date" if value else "a date is needed"))
    return parsed


def _codes(frame: pd.DataFrame, column: str, valid_for, problems: list[Problem], allow_blank: bool = False) -> None:
    """Each value of ``column`` must be in ``valid_for(year)`` (a set, or a function of the year)."""
    for year, rows in frame.groupby("YEAR"):
        valid = valid_for(int(year)) if callable(valid_for) else valid_for
        values = rows[column]
        bad = ~values.isin(valid) & ~((values == "") & allow_blank)
        for row, value, file in zip(rows.loc[bad, "_row"], values[bad], rows.loc[bad, "_file"]):
            listed = ", ".join(sorted(valid))
            year_text = f" in {int(year)}/{(int(year) + 1) % 100:02d}" if year else ""
            problems.append(Problem(file, int(row), column, f"unknown code '{value}'{year_text}; valid: {listed}"))


def read_history(paths: list[Path], *, default_la: str | None = None, default_year: int | None = None,
                 repair: bool = False) -> History:
    """Read SSDA903 files, told apart by their names (header*, episodes*, oc3*, uasc*; several of
    each, e.g. one per year, are combined) and return one history per child."""
    problems: list[Problem] = []
    frames: dict[str, list[pd.DataFrame]] = {kind: [] for kind in REQUIRED}
    given: set[str] = set()
    for path in paths:
        kind = next((k for k in REQUIRED if Path(path).name.lower().startswith(k)), None)
        if kind is None and Path(path).name.lower().startswith(UNUSED_TABLES):
            continue
        if kind is None:
            problems.append(Problem(Path(path).name, None, None,
                                    "not an SSDA903 table I read (header, episodes, oc3, uasc)"))
            continue
        given.add(kind)
        frame = _read(Path(path), kind, problems, default_la, default_year)
        if frame is not None:
            frames[kind].append(frame)
    if not {"header", "episodes"} <= given:  # (a file given but refused has its own problem above)
        problems.append(Problem("(files)", None, None, "a header file and an episodes file are needed"))
    if problems:
        raise SSDA903Error(problems)

    header = pd.concat(frames["header"], ignore_index=True)
    episodes = pd.concat(frames["episodes"], ignore_index=True)
    _codes(header.assign(YEAR=0), "SEX", SEX, problems)
    _codes(episodes, "PLACE", place_codes, problems)
    _codes(episodes, "LS", LEGAL_STATUS, problems)
    _codes(episodes, "RNE", REASON_NEW_EPISODE, problems)
    oc3 = pd.concat(frames["oc3"], ignore_index=True) if frames["oc3"] else pd.DataFrame(
        columns=["LA", "CHILD", "DOB", "YEAR", "IN_TOUCH", "ACCOM", "_row", "_file"])
    if len(oc3):
        _codes(oc3, "ACCOM", OC3_ACCOM, problems)
        _codes(oc3, "IN_TOUCH", OC3_IN_TOUCH, problems)
        if "ACTIV" in oc3.columns:
            _codes(oc3, "ACTIV", OC3_ACTIV, problems, allow_blank=True)
    uasc = pd.concat(frames["uasc"], ignore_index=True) if frames["uasc"] else pd.DataFrame(
        columns=["LA", "CHILD", "DOB", "DUC", "_row", "_file"])

    backwards = episodes["DEC"].notna() & (episodes["DEC"] < episodes["DECOM"])
    for file, row in zip(episodes.loc[backwards, "_file"], episodes.loc[backwards, "_row"]):
        problems.append(Problem(file, int(row), "DEC", "the episode ends (DEC) before it starts (DECOM)"))
    dob = header.sort_values("YEAR" if "YEAR" in header else "_row").drop_duplicates(["LA", "CHILD"], keep="last")
    conflicts = header.groupby(["LA", "CHILD"])["DOB"].nunique()
    for (la, child) in conflicts[conflicts > 1].index:
        first = header[(header.LA == la) & (header.CHILD == child)].iloc[0]
        problems.append(Problem(first["_file"], int(first["_row"]), "DOB",
                                f"child {child} ({la}) has different dates of birth in different rows"))
    if problems:
        raise SSDA903Error(problems)

    repairs: list[str] = []
    # The latest year's version of each episode (a later return may have closed it).
    episodes = (episodes.sort_values(["YEAR", "_row"]).drop_duplicates(["LA", "CHILD", "DECOM"], keep="last")
                .sort_values(["LA", "CHILD", "DECOM"]).reset_index(drop=True))
    merged = episodes.merge(dob[["LA", "CHILD", "DOB", "SEX"]], on=["LA", "CHILD"], how="left")
    orphans = merged["DOB"].isna()
    if orphans.any():
        if not repair:
            problems += [Problem(f, int(r), "CHILD", f"child {c} has no row in the header file")
                         for f, r, c in zip(merged.loc[orphans, "_file"], merged.loc[orphans, "_row"],
                                            merged.loc[orphans, "CHILD"])]
        else:
            repairs.append(f"left out {int(orphans.sum())} episodes of "
                           f"{merged.loc[orphans, ['LA', 'CHILD']].drop_duplicates().shape[0]} children "
                           "with no header row")
            merged = merged[~orphans].reset_index(drop=True)
    following = merged.groupby(["LA", "CHILD"])["DECOM"].shift(-1)
    overlapping = following.notna() & (merged["DEC"].isna() | (merged["DEC"] > following))
    if overlapping.any():
        if not repair:
            problems += [Problem(f, int(r), "DEC", f"child {c}'s episode from {s:%Y-%m-%d} overlaps the next, "
                                 f"which starts {n:%Y-%m-%d}")
                         for f, r, c, s, n in zip(merged.loc[overlapping, "_file"], merged.loc[overlapping, "_row"],
                                                  merged.loc[overlapping, "CHILD"], merged.loc[overlapping, "DECOM"],
                                                  following[overlapping])]
        else:
            repairs.append(f"trimmed {int(overlapping.sum())} overlapping episodes to end when the next starts")
            merged.loc[overlapping, "DEC"] = following[overlapping]
    if problems:
        raise SSDA903Error(problems)

    uasc_children = set(zip(uasc["LA"], uasc["CHILD"]))
    merged["UASC"] = [(la, c) in uasc_children for la, c in zip(merged["LA"], merged["CHILD"])]
    years = sorted({int(y) for y in episodes["YEAR"] if y})
    return History(
        episodes=merged[["LA", "CHILD", "DOB", "SEX", "DECOM", "DEC", "PLACE", "LS", "RNE", "UASC", "YEAR"]],
        oc3=oc3.drop(columns=["_row", "_file"], errors="ignore"),
        uasc=uasc.drop(columns=["_row", "_file"], errors="ignore"),
        years=years, repairs=repairs,
    )


def history_from_folder(folder: Path, **kwargs) -> History:
    paths = sorted(p for p in Path(folder).glob("*.csv"))
    if not paths:
        raise SSDA903Error([Problem(str(folder), None, None, "no CSV files here")])
    return read_history(paths, **kwargs)
