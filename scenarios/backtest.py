"""Honest backtests: train on census years up to t-1, predict t and t+2, and compare with what
happened, against two baselines a council's spreadsheet would use.

* naive persistence: next year's count at each age and state is this year's;
* linear trend: each cell's counts over the training years, extended by a straight line.

Errors are scored on cells of (age band, state) summed over the ages in the band, since that
is what commissioners plan with: MAE (people) and MAPE (where the actual count is not zero).
Interval coverage: the share of those cells whose actual count lies inside the 80% and 95%
intervals (bootstrap quantiles); close to 80% and 95% means the intervals can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios import cohort as C
from scenarios.ssda903 import History

HORIZONS = (1, 3)  # from a model trained up to t-1: t (one year on) and t+2 (three years on)
ENOUGH = 10.0  # mean actual count in a cell for its errors to say something


@dataclass
class Backtest:
    cells: pd.DataFrame  # one row per (origin, horizon, band, state): actual, model, lo/hi, baselines
    summary: pd.DataFrame  # per (band, state): MAE and MAPE of each method, coverage, verdict


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
        mean = C.project_mean(observed[origin], rates, horizon)
        sims = C.simulate(observed[origin], boot, horizon, rng)
        for h in HORIZONS:
            target = origin + h
            if target not in observed:
                continue
            actual = _banded(observed[target])
            model = _banded(mean[h])
            persistence = _banded(observed[origin])
            trend = _banded(_linear_trend([observed[y] for y in train], train, target))
            q = {p: _banded(np.percentile(sims[:, h], p, axis=0)) for p in (2.5, 10, 90, 97.5)}
            for key in actual:
                rows.append({"origin": origin, "horizon": h, "target": target, "band": key[0], "state": key[1],
                             "actual": actual[key], "model": model[key], "persistence": persistence[key],
                             "trend": trend[key], "lo80": q[10][key], "hi80": q[90][key],
                             "lo95": q[2.5][key], "hi95": q[97.5][key]})
    cells = pd.DataFrame(rows)
    return Backtest(cells, summarise(cells))


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


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    if not len(cells):
        return pd.DataFrame()
    out = []
    for (band, state), g in cells.groupby(["band", "state"], sort=False):
        row = {"band": band, "state": state, "cells": len(g), "mean actual": g["actual"].mean()}
        nonzero = g["actual"] > 0
        for method in ("model", "persistence", "trend"):
            err = (g[method] - g["actual"]).abs()
            row[f"MAE {method}"] = err.mean()
            row[f"MAPE {method}"] = (err[nonzero] / g.loc[nonzero, "actual"]).mean() if nonzero.any() else np.nan
        row["cover 80"], row["cover 95"] = coverage(g)
        enough = row["mean actual"] >= ENOUGH
        beats = row["MAE model"] < row["MAE persistence"]
        row["verdict"] = ("too few" if not enough else "model better" if beats else "persistence better")
        out.append(row)
    return pd.DataFrame(out)
