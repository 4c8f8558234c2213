"""Honest backtests: train on census years up to t-1, predict t and t+2, and compare with what
happened, against two baselines a council's spreadsheet would use.

* naive persistence: next year's count at each age and state is this year's;
* linear trend: each cell's counts over the training years, extended by a straight line.

Cells are (age band, state), summed over the ages in the band, since that is what commissioners
plan with. Scores, always one year ahead apart from longer horizons (the error grows with the
horizon, and mixing them would hide how good next year's figure is):

* WAPE: the sum of absolute errors over the sum of actual counts (people wrong per person there),
  over all cells of a horizon, or of one origin year (a fold);
* MAE: the mean absolute error in people per cell;
* coverage: the share of cells with anyone in them whose actual count lies inside the 80% and
  95% intervals the forecast ships (scenarios.forecast.band_summary: quantiles of each
  replication's band total, not sums of per-age quantiles); near 80% and 95% means they can be
  trusted. A cell empty in every year is inside any interval and would flatter the figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios import cohort as C
from scenarios.forecast import band_summary
from scenarios.ssda903 import History

HORIZONS = (1, 3)  # from a model trained up to t-1: t (one year on) and t+2 (three years on)
ENOUGH = 10.0  # mean actual count in a cell for its errors to say something


METHODS = ("model", "persistence", "trend")


@dataclass
class Backtest:
    cells: pd.DataFrame  # one row per (origin, horizon, band, state): actual, model, lo/hi, baselines
    summary: pd.DataFrame  # per (horizon, band, state): WAPE, MAE and MAPE of each method, coverage, verdict
    by_horizon: pd.DataFrame  # per horizon, all cells: WAPE and MAE of each method, coverage
    folds: pd.DataFrame  # per (horizon, origin): the same, one fold at a time


def _banded(array: np.ndarray) -> dict[tuple[str, str], float]:
    """(ages, states) -> {(band, state): count}."""
    out = {}
    for band, (lo, hi) in C.AGE_BANDS.items():
        rows = array[lo - C.FIRST_AGE: hi - C.FIRST_AGE + 1].sum(axis=0)
        for s, state in enumerate(C.STATES):
            out[(band, state)] = float(rows[s])
    return out


def run_backtest(history: History, rules: C.Rules = C.Rules(), replications: int = 200, seed: int = 2026) -> Backtest:
    rng = np.random.default_rng(seed)
    censuses = history.census_dates
    observed = {d.year: C.counts(C.snapshot(history, d, rules)) for d in censuses}
    years = sorted(observed)
    rows = []
    for origin in years[1:]:  # at least one observed year of moves before the origin
        train = [y for y in years if y <= origin]
        obs = C.observe(history, rules, until=origin)
        rates = C.estimate(obs, rules)
        boot = C.bootstrap_rates(obs, rules, replications, rng)
        horizon = max(HORIZONS)
        shipped = band_summary(C.project_mean(observed[origin], rates, horizon),
                               C.simulate(observed[origin], boot, horizon, rng))
        for h in HORIZONS:
            target = origin + h
            if target not in observed:
                continue
            actual = _banded(observed[target])
            persistence = _banded(observed[origin])
            trend = _banded(_linear_trend([observed[y] for y in train], train, target))
            for band, state in actual:
                s = C.STATES.index(state)
                rows.append({"origin": origin, "horizon": h, "target": target, "band": band, "state": state,
                             "actual": actual[(band, state)], "model": float(shipped[band]["mean"][h, s]),
                             "persistence": persistence[(band, state)], "trend": trend[(band, state)],
                             **{name: float(shipped[band][name][h, s]) for name in ("lo80", "hi80", "lo95", "hi95")}})
    cells = pd.DataFrame(rows)
    return Backtest(cells, summarise(cells), scores(cells, ["horizon"]), scores(cells, ["horizon", "origin"]))


def _linear_trend(arrays: list[np.ndarray], years: list[int], target: int) -> np.ndarray:
    if len(arrays) < 2:
        return arrays[-1]
    stack = np.stack(arrays)
    x = np.array(years, dtype=float)
    slope, intercept = np.polyfit(x, stack.reshape(len(x), -1), 1)
    return np.maximum(0.0, (slope * target + intercept).reshape(arrays[0].shape))


def coverage(cells: pd.DataFrame) -> tuple[float, float]:
    """Shares of cells inside their 80% and 95% intervals, over cells where someone was (a cell
    empty in every year is inside any interval and would flatter the figure)."""
    seen = cells[cells["actual"] > 0]
    if not len(seen):
        return float("nan"), float("nan")
    inside = lambda lo, hi: float(((seen["actual"] >= seen[lo]) & (seen["actual"] <= seen[hi])).mean())  # noqa: E731
    return inside("lo80", "hi80"), inside("lo95", "hi95")


def _errors(g: pd.DataFrame) -> dict[str, float]:
    row: dict[str, float] = {"cells": len(g), "actual people": float(g["actual"].sum())}
    for method in METHODS:
        err = (g[method] - g["actual"]).abs()
        row[f"WAPE {method}"] = float(err.sum() / g["actual"].sum()) if g["actual"].sum() > 0 else np.nan
        row[f"MAE {method}"] = float(err.mean())
    row["cover 80"], row["cover 95"] = coverage(g)
    return row


def scores(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """WAPE and MAE of each method and the intervals' coverage, per group of ``by``."""
    if not len(cells):
        return pd.DataFrame()
    return pd.DataFrame([{**dict(zip(by, key if isinstance(key, tuple) else (key,))), **_errors(g)}
                         for key, g in cells.groupby(by, sort=True)])


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    if not len(cells):
        return pd.DataFrame()
    out = []
    for (horizon, band, state), g in cells.groupby(["horizon", "band", "state"], sort=False):
        row = {"horizon": horizon, "band": band, "state": state, "mean actual": g["actual"].mean(), **_errors(g)}
        nonzero = g["actual"] > 0
        for method in METHODS:
            err = (g[method] - g["actual"]).abs()
            row[f"MAPE {method}"] = (err[nonzero] / g.loc[nonzero, "actual"]).mean() if nonzero.any() else np.nan
        enough = row["mean actual"] >= ENOUGH
        beats = row["MAE model"] < row["MAE persistence"]
        row["verdict"] = ("too few" if not enough else "model better" if beats else "persistence better")
        out.append(row)
    return pd.DataFrame(out)
