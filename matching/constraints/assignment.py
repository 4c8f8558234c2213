"""The assignment core: at most one placement per young person, no more than the free beds."""

from __future__ import annotations

import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars, locked_rows, worst_first


def build(vars: Vars, side: Side) -> None:
    for rows in vars.rows_by("referral_id").values():
        if len(rows) > 1:
            vars.model.add_at_most_one([vars.x[i] for i in rows])
    for vacancy, rows in vars.rows_by("vacancy_id").items():
        beds = side.beds.get(vacancy, 0)
        if len(rows) > beds:
            vars.model.add(cp_model.LinearExpr.sum([vars.x[i] for i in rows]) <= beds)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    out = []
    if chosen.empty:
        return out
    twice = chosen["referral_id"].duplicated(keep=False)
    counts = chosen["vacancy_id"].value_counts()
    beds = counts.index.map(lambda v: side.beds.get(str(v), 0)).to_numpy()
    crowded = set(counts.index[counts.to_numpy() > beds])
    if not twice.any() and not crowded:
        return out
    locked = locked_rows(chosen, side)
    position = {label: k for k, label in enumerate(worst_first(chosen, side))}
    for referral, group in chosen[twice].groupby("referral_id", sort=True):
        labels = sorted(group.index, key=lambda i: (i in locked, -position[i]))  # keep the best
        out.append(Breach("one_per_referral", f"{referral} placed {len(group)} times", (str(referral),),
                          tuple(int(i) for i in labels[: len(group) - 1])))
    for vacancy, group in chosen[chosen["vacancy_id"].isin(crowded)].groupby("vacancy_id", sort=True):
        beds = side.beds.get(str(vacancy), 0)
        labels = sorted((i for i in group.index if i not in locked), key=lambda i: position[i])
        out.append(Breach("beds", f"{vacancy}: {len(group)} placed in {beds} beds",
                          tuple(sorted(map(str, group["referral_id"]))),
                          tuple(int(i) for i in labels[: len(group) - beds])))
    return out
