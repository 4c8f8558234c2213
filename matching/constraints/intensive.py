"""A cap on young people at the intensive tier per shared home, counting those living there.

A pair counts when the tier it provides is intensive (an enhanced need served at a home that only
offers intensive counts too: it is the staffing load that matters)."""

from __future__ import annotations

import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars, locked_rows, worst_first

INTENSIVE = "intensive"


def room(side: Side, property_id: str) -> int | None:
    """Intensive places left in a shared home (None: no cap applies)."""
    if side.intensive_cap is None or property_id not in side.shared:
        return None
    return max(0, side.intensive_cap - side.intensive_residents.get(property_id, 0))


def _counted(pairs: pd.DataFrame, side: Side) -> pd.Series:
    return (pairs["tier"].astype(str) == INTENSIVE) & pairs["property_id"].astype(str).isin(side.shared)


def excluded(pairs: pd.DataFrame, side: Side) -> pd.Series:
    reason = pd.Series("", index=pairs.index, dtype=object)
    if side.intensive_cap is None or pairs.empty:
        return reason
    counted = _counted(pairs, side)
    full = pairs["property_id"].astype(str).map(lambda p: room(side, p) == 0)
    reason[counted & full] = "intensive_cap_full"
    return reason


def build(vars: Vars, side: Side) -> None:
    if side.intensive_cap is None or vars.pairs.empty:
        return
    counted = _counted(vars.pairs, side).to_numpy()
    for prop, rows in vars.rows_by("property_id").items():
        rows = [i for i in rows if counted[i]]
        left = room(side, str(prop))
        if left is not None and len(rows) > left:
            vars.model.add(cp_model.LinearExpr.sum([vars.x[i] for i in rows]) <= left)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    out = []
    if side.intensive_cap is None or chosen.empty:
        return out
    counted = chosen[_counted(chosen, side)]
    if counted.empty:
        return out
    per_home = counted["property_id"].astype(str).value_counts()
    over = {p for p, n in per_home.items() if n > (room(side, p) if room(side, p) is not None else n)}
    if not over:
        return out
    locked = locked_rows(chosen, side)
    position = {label: k for k, label in enumerate(worst_first(chosen, side))}
    for prop, group in counted[counted["property_id"].astype(str).isin(over)].groupby("property_id", sort=True):
        left = room(side, str(prop))
        if left is not None and len(group) > left:
            labels = sorted((i for i in group.index if i not in locked), key=lambda i: position[i])
            out.append(Breach(
                "intensive_cap",
                f"{prop}: {len(group)} new intensive placements with room for {left} "
                f"(cap {side.intensive_cap}, {side.intensive_residents.get(str(prop), 0)} living there)",
                tuple(sorted(map(str, group["referral_id"]))),
                tuple(int(i) for i in labels[: len(group) - left]),
            ))
    return out
