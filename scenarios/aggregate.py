"""The table councils publish in sufficiency reports: counts by single year of age (rows) and
31 March (columns), some columns marked projected (a trailing ``*`` or ``(projected)``).

It has ages but no states, so it is projected with cohort-change ratios (the Hamilton-Perry
method): the count at age a+1 next year over the count at age a this year, pooled over the
observed years; the youngest age is carried at the mean of its last three years. Intervals:
the year pairs are resampled (bootstrap) and each replication draws Poisson counts. Projected
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


@dataclass
class AgeTable:
    ages: np.ndarray
    dates: list[dt.date]  # observed 31 Marches, consecutive
    counts: np.ndarray  # (dates, ages)
    projected: dict[dt.date, np.ndarray]  # the council's own projected columns, for comparison


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


def read_table(path: Path) -> AgeTable:
    name = Path(path).name
    problems: list[Problem] = []
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise TableError([Problem(name, None, None, f"cannot be read as CSV ({exc})")]) from None
    if not len(frame.columns) or frame.columns[0].strip().lower() != "age":
        raise TableError([Problem(name, 1, frame.columns[0] if len(frame.columns) else None,
                                  "the first column must be 'age' (single years of age)")])
    observed: list[tuple[dt.date, str]] = []
    projected: list[tuple[dt.date, str]] = []
    for column in frame.columns[1:]:
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
    if ages.notna().all() and ages.duplicated().any():
        problems.append(Problem(name, None, "age", "an age appears twice"))
    if problems:
        raise TableError(problems)
    order = np.argsort(ages.to_numpy())
    return AgeTable(
        ages=ages.to_numpy(int)[order], dates=[d for d, _ in observed],
        counts=np.stack([values[c].to_numpy(float)[order] for _, c in observed]),
        projected={d: values[c].to_numpy(float)[order] for d, c in projected},
    )


def ratios(counts: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
    """Pooled cohort-change ratios, one per age step: sum(N[t+1, a+1]) / sum(N[t, a]) over the
    year pairs (t, t+1) given by their first index (all of them by default)."""
    pairs = np.arange(len(counts) - 1) if pairs is None else pairs
    num = counts[pairs + 1, 1:].sum(axis=0)
    den = counts[pairs, :-1].sum(axis=0)
    return np.divide(num, den, out=np.ones_like(num), where=den > 0)


def project_table(table: AgeTable, horizon: int, replications: int = 500, seed: int = 2026):
    """(mean, sims): mean (horizon + 1, ages) and sims (replications, horizon + 1, ages)."""
    rng = np.random.default_rng(seed)
    youngest = table.counts[-3:, 0].mean()

    def path(r: np.ndarray, noisy: bool) -> np.ndarray:
        out = np.zeros((horizon + 1, len(table.ages)))
        out[0] = table.counts[-1]
        for t in range(horizon):
            nxt = np.empty_like(out[t])
            nxt[0] = youngest
            nxt[1:] = out[t, :-1] * r
            out[t + 1] = rng.poisson(nxt) if noisy else nxt
        return out

    mean = path(ratios(table.counts), False)
    pairs = len(table.counts) - 1
    sims = np.stack([
        path(ratios(table.counts, rng.integers(0, pairs, pairs)), True)
        for _ in range(replications)])
    return mean, sims
