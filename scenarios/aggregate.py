"""The table councils publish in sufficiency reports: counts by single year of age (rows) and
31 March (columns), some columns marked projected (a trailing ``*`` or ``(projected)``), and
optionally a ``group`` column after ``age`` saying whose counts a row holds: looked after, care
leavers, or all (one table may hold both groups, e.g. looked-after 16-17s and care leavers 17-21).

It has ages but no states, so it is projected with cohort-change ratios (the Hamilton-Perry
method): the count at age a+1 next year over the count at age a this year, pooled over the
observed years, for each single age, so each age has its own projection and interval. Where a
group's ages begin, nobody ages in from the row before, so:

* the care leavers' entry age (18) is fed by the looked-after 17-year-olds when the table has
  a row for them (the ratio of next year's 18-year-old care leavers to this year's looked-after
  17s); otherwise it is carried at its recent level (the mean of the last three years). Care
  leavers younger than 18 (relevant children) are carried at their recent level too: they come
  from care, not from the year below, so a handful of 17-year-old care leavers is never
  multiplied into next year's 18s;
* any other group's youngest age is carried at its recent level.

Intervals: the year pairs are resampled (bootstrap), the recent levels are means of resampled
recent years (so their spread shows), and each replication draws Poisson counts. Projected
columns are read and shown but never used to estimate.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.ssda903 import Problem, SSDA903Error

PROJECTED = re.compile(r"\s*(\*|\(projected\)|projected)\s*$", re.IGNORECASE)


class TableError(SSDA903Error):
    """Problems with an aggregate table (listed as for the SSDA903 files)."""

    what = "the table"


GROUPS = {"looked_after": "Looked after", "care_leaver": "Care leavers", "all": "All"}
# How councils head and write the group column (compared without case, spaces or punctuation).
GROUP_SPELLINGS = {
    "lookedafter": "looked_after", "la": "looked_after", "lac": "looked_after", "cla": "looked_after",
    "childrenlookedafter": "looked_after", "incare": "looked_after",
    "careleaver": "care_leaver", "careleavers": "care_leaver", "cl": "care_leaver", "relevant": "care_leaver",
    "formerrelevant": "care_leaver", "eligible": "looked_after", "all": "all", "total": "all",
}
GROUP_HEADINGS = {"group", "status", "legalstatus", "cohort"}
CARE_LEAVER_ENTRY_AGE = 18
RECENT_YEARS = 3


@dataclass
class AgeTable:
    ages: np.ndarray  # per row
    dates: list[dt.date]  # observed 31 Marches, consecutive
    counts: np.ndarray  # (dates, rows)
    projected: dict[dt.date, np.ndarray]  # the council's own projected columns, for comparison
    groups: np.ndarray | None = None  # per row: looked_after, care_leaver or all (None: all)

    def group_of(self, row: int) -> str:
        return "all" if self.groups is None else str(self.groups[row])


def _column_date(name: str) -> dt.date | None:
    text = PROJECTED.sub("", name).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y", "%d %b %Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    if re.fullmatch(r"\d{4}", text):
        return dt.date(int(text), 3, 31)
    return None


def read_table(path: Path, group: str | None = None) -> AgeTable:
    """The table in ``path``; ``group`` says whose counts a table without a group column holds
    (looked after, care leavers or all: the default)."""
    name = Path(path).name
    problems: list[Problem] = []
    whole = None
    if group is not None:
        whole = GROUP_SPELLINGS.get(_squash(group))
        if whole is None:
            raise TableError([Problem(name, None, None, f"group '{group}': write looked after, care leavers or all")])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise TableError([Problem(name, None, None, f"cannot be read as CSV ({exc})")]) from None
    if not len(frame.columns) or frame.columns[0].strip().lower() != "age":
        raise TableError([Problem(name, 1, frame.columns[0] if len(frame.columns) else None,
                                  "the first column must be 'age' (single years of age)")])
    observed: list[tuple[dt.date, str]] = []
    projected: list[tuple[dt.date, str]] = []
    groups = None
    first_count = 1
    if len(frame.columns) > 1 and _squash(frame.columns[1]) in GROUP_HEADINGS:
        first_count = 2
        groups = frame.iloc[:, 1].map(lambda v: GROUP_SPELLINGS.get(_squash(v)))
        for row in frame.index[groups.isna()]:
            problems.append(Problem(name, int(row) + 2, frame.columns[1],
                                    f"'{frame.iat[row, 1]}' is not a group; write looked after, care leavers or all"))
        if whole is not None:
            problems.append(Problem(name, 1, frame.columns[1], "the table has its own group column: "
                                                               "leave out the group given with it"))
    elif whole is not None:
        groups = pd.Series(whole, index=frame.index)
    for column in frame.columns[first_count:]:
        day = _column_date(column)
        if day is None or (day.month, day.day) != (3, 31):
            problems.append(Problem(name, 1, column, "not a 31 March date (e.g. 2024-03-31, or 2026-03-31*)"))
            continue
        (projected if PROJECTED.search(column) else observed).append((day, column))
    ages = pd.to_numeric(frame.iloc[:, 0], errors="coerce")
    for row, value in zip(frame.index[ages.isna()], frame.iloc[:, 0][ages.isna()]):
        problems.append(Problem(name, int(row) + 2, "age", f"'{value}' is not a single year of age"))
    values = {}
    for day, column in observed + projected:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() | (numbers < 0)
        for row, value in zip(frame.index[bad], frame[column][bad]):
            problems.append(Problem(name, int(row) + 2, column, f"'{value}' is not a count (0 or more)"))
        values[column] = numbers
    observed.sort()
    years = [d.year for d, _ in observed]
    if len(observed) < 2:
        problems.append(Problem(name, 1, None, "at least two observed (not projected) 31 March columns are needed"))
    missing = sorted(set(range(years[0], years[-1] + 1)) - set(years)) if years else []
    if missing:
        problems.append(Problem(name, 1, None, f"missing years: {', '.join(f'31 March {y}' for y in missing)} "
                                               "(the columns must be consecutive years)"))
    keyed = pd.DataFrame({"age": ages, "group": groups if groups is not None else "all"})
    if ages.notna().all() and (groups is None or groups.notna().all()):
        for group, g in keyed.groupby("group"):
            label = "" if groups is None else f" among {GROUPS[group].lower()}"
            if g["age"].duplicated().any():
                problems.append(Problem(name, None, "age", f"an age appears twice{label}"))
            elif (gaps := sorted(set(range(int(g["age"].min()), int(g["age"].max()) + 1)) - set(g["age"]))):
                problems.append(Problem(name, None, "age", f"missing age(s){label}: {', '.join(map(str, gaps))} "
                                                           "(single years, with none left out)"))
    if problems:
        raise TableError(problems)
    order = np.lexsort((ages.to_numpy(), keyed["group"].to_numpy()))
    return AgeTable(
        ages=ages.to_numpy(int)[order], dates=[d for d, _ in observed],
        counts=np.stack([values[c].to_numpy(float)[order] for _, c in observed]),
        projected={d: values[c].to_numpy(float)[order] for d, c in projected},
        groups=None if groups is None else groups.to_numpy(str)[order],
    )


def _squash(text: object) -> str:
    return re.sub(r"[^a-z]", "", str(text).lower())


@dataclass(frozen=True)
class Feed:
    """Where a row's next-year count comes from: ``source`` row times a pooled ratio (the row
    below in age, or for the care leavers' entry age the looked-after 17s), or, with no source,
    the row's recent level. ``why`` says it for the notes (empty for plain ageing)."""

    source: int | None
    why: str
    words: str  # for ages.csv: where the count comes from


def feeds(table: AgeTable) -> list[Feed]:
    row_of = {(table.group_of(r), int(a)): r for r, a in enumerate(table.ages)}
    out = []
    for r, age in enumerate(table.ages):
        group, age = table.group_of(r), int(age)
        below = row_of.get((group, age - 1))
        if group == "care_leaver" and age <= CARE_LEAVER_ENTRY_AGE:
            looked_after = row_of.get(("looked_after", age - 1)) if age == CARE_LEAVER_ENTRY_AGE else None
            if looked_after is not None:
                out.append(Feed(looked_after, f"care leavers aged {age}: from the looked-after {age - 1}-year-olds",
                                "the looked-after a year younger"))
            else:
                why = ("the table has no looked-after 17-year-olds to feed them" if age == CARE_LEAVER_ENTRY_AGE
                       else "they come from care, not from the year below")
                out.append(Feed(None, f"care leavers aged {age}: at their recent level (the mean of the last "
                                      f"{RECENT_YEARS} years), as {why}", "their recent level"))
        elif below is not None:
            out.append(Feed(below, "", "the year below, a year on"))
        else:
            out.append(Feed(None, f"{GROUPS[group].lower()} aged {age}, the youngest in the table: at their "
                                  f"recent level (the mean of the last {RECENT_YEARS} years)", "their recent level"))
    return out


def warnings(table: AgeTable) -> list[str]:
    """What looks wrong about how the table was described: a table of everyone whose 17s are far
    fewer than its 18s counts care leavers only, and its 18s would be projected from the few
    17-year-old care leavers."""
    row_of = {(table.group_of(r), int(a)): r for r, a in enumerate(table.ages)}
    r17, r18 = row_of.get(("all", 17)), row_of.get(("all", 18))
    if r17 is not None and r18 is not None:
        recent = table.counts[-RECENT_YEARS:]
        if recent[:, r17].mean() < 0.5 * recent[:, r18].mean():
            return ["the 17-year-olds are far fewer than the 18-year-olds, as in a table of care leavers only: "
                    "if it is one, say so (a group column, or --group 'care leavers') so the 18s are not "
                    "projected from the few 17-year-old care leavers"]
    return []


def ratios(counts: np.ndarray, sources: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
    """Pooled ratios, one per row with a source: sum(N[t+1, row]) / sum(N[t, source]) over the
    year pairs (t, t+1) given by their first index (all of them by default); 1 where the source
    row was always empty."""
    pairs = np.arange(len(counts) - 1) if pairs is None else pairs
    num = counts[pairs + 1].sum(axis=0)
    den = counts[pairs][:, sources].sum(axis=0)
    return np.divide(num, den, out=np.ones_like(num), where=den > 0)


def project_table(table: AgeTable, horizon: int, replications: int = 500, seed: int = 2026):
    """(mean, sims, feeds): mean (horizon + 1, rows) and sims (replications, horizon + 1, rows)."""
    rng = np.random.default_rng(seed)
    plan = feeds(table)
    fed = np.array([f.source is not None for f in plan])
    sources = np.array([f.source if f.source is not None else r for r, f in enumerate(plan)])
    recent = table.counts[-RECENT_YEARS:]

    def path(r: np.ndarray, level: np.ndarray, noisy: bool) -> np.ndarray:
        out = np.zeros((horizon + 1, len(table.ages)))
        out[0] = table.counts[-1]
        for t in range(horizon):
            nxt = np.where(fed, out[t, sources] * r, level)
            out[t + 1] = rng.poisson(nxt) if noisy else nxt
        return out

    mean = path(ratios(table.counts, sources), recent.mean(axis=0), False)
    pairs = len(table.counts) - 1
    sims = np.stack([
        path(ratios(table.counts, sources, rng.integers(0, pairs, pairs)),
             recent[rng.integers(0, len(recent), len(recent))].mean(axis=0), True)
        for _ in range(replications)])
    return mean, sims, plan
