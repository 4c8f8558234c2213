"""An optional cap on the proposals' total weekly cost (in pence in the model, so it is exact
to the penny whatever the prices)."""

from __future__ import annotations

import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars, locked_rows, pence


def build(vars: Vars, side: Side) -> None:
    if side.budget_pence is None or vars.pairs.empty:
        return
    cost = pence(vars.pairs["weekly_cost"])
    if int(cost.sum()) <= side.budget_pence:
        return  # cannot bind
    vars.model.add(cp_model.LinearExpr.weighted_sum(vars.x, [int(c) for c in cost]) <= side.budget_pence)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    if side.budget_pence is None or chosen.empty:
        return []
    cost = pd.Series(pence(chosen["weekly_cost"]), index=chosen.index)
    total = int(cost.sum())
    if total <= side.budget_pence:
        return []
    locked = locked_rows(chosen, side)
    drop, over = [], total - side.budget_pence
    for label in cost.drop(index=list(locked)).sort_values(ascending=False, kind="stable").index:
        if over <= 0:
            break
        drop.append(int(label))
        over -= int(cost[label])
    return [Breach("budget", f"weekly cost £{total / 100:,.2f} above the cap £{side.budget_pence / 100:,.0f}",
                   tuple(sorted(map(str, chosen["referral_id"]))), tuple(drop))]
