"""Floating support and outreach packages are sized in support hours a week, not beds: the
young people proposed to one package never take more hours than it has free. Each takes the
hours of the tier they are proposed at (the policy's ``support_hours_needed``).

The min-cost flow sees a package's beds only (the most young people it takes at once), which
is a relaxation of this constraint, so its bound stays valid; CP-SAT holds the hours exactly
and a repair drops the least valuable placements of an over-committed package."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars, locked_rows, worst_first

EXCLUDED = "support_hours"


def hours_of(pairs: pd.DataFrame, side: Side) -> np.ndarray:
    """Support hours a week each pair takes (0 for a pair not at a package)."""
    if not side.hours or pairs.empty:
        return np.zeros(len(pairs), dtype=np.int64)
    at_package = pairs["vacancy_id"].isin(side.hours.keys()).to_numpy()
    needed = pairs["tier"].astype(str).map(side.hours_needed).fillna(0).to_numpy(dtype=np.int64)
    return np.where(at_package, needed, 0)


def excluded(pairs: pd.DataFrame, side: Side) -> pd.Series:
    """A pair needing more hours than its package has free, on its own."""
    reason = pd.Series("", index=pairs.index, dtype=object)
    if not side.hours or pairs.empty:
        return reason
    free = pairs["vacancy_id"].map(side.hours).fillna(np.inf).to_numpy(dtype=float)
    reason[hours_of(pairs, side) > free] = EXCLUDED
    return reason


def build(vars: Vars, side: Side) -> None:
    if not side.hours or vars.pairs.empty:
        return
    hours = hours_of(vars.pairs, side)
    for vacancy, rows in vars.rows_by("vacancy_id").items():
        free = side.hours.get(vacancy)
        if free is None or int(hours[rows].sum()) <= free:
            continue  # cannot bind
        vars.model.add(cp_model.LinearExpr.weighted_sum([vars.x[i] for i in rows], [int(h) for h in hours[rows]]) <= free)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    if not side.hours or chosen.empty:
        return []
    hours = pd.Series(hours_of(chosen, side), index=chosen.index)
    out = []
    packages = chosen[chosen["vacancy_id"].isin(side.hours.keys())]
    if packages.empty:
        return out
    locked = locked_rows(chosen, side)
    order = worst_first(chosen, side)
    for vacancy, group in packages.groupby("vacancy_id", sort=True):
        free, used = side.hours[str(vacancy)], int(hours[group.index].sum())
        if used <= free:
            continue
        drop, over = [], used - free
        for label in (i for i in order if i in group.index and i not in locked):
            if over <= 0:
                break
            drop.append(int(label))
            over -= int(hours[label])
        out.append(Breach("support_hours", f"{vacancy}: {used} support hours a week proposed, {free} free",
                          tuple(sorted(map(str, group["referral_id"]))), tuple(drop)))
    return out
