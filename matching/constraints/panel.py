"""The panel's locks (this young person goes to this vacancy) and bans (never this pair).

A lock leaves its young person no other option; a ban removes the pair. Eligibility already
drops banned pairs (``banned_by_panel``); this is the model's own guard."""

from __future__ import annotations

import pandas as pd

from matching.constraints import Breach, Side, Vars


def excluded(pairs: pd.DataFrame, side: Side) -> pd.Series:
    reason = pd.Series("", index=pairs.index, dtype=object)
    if pairs.empty or not (side.locks or side.bans):
        return reason
    keys = list(zip(pairs["referral_id"], pairs["vacancy_id"], strict=True))
    locked_to = dict(side.locks)
    for label, (r, v) in zip(pairs.index, keys, strict=True):
        if (r, v) in side.bans:
            reason.at[label] = "banned_by_panel"
        elif r in locked_to and locked_to[r] != v:
            reason.at[label] = "locked_elsewhere"
    return reason


def build(vars: Vars, side: Side) -> None:
    if not side.locks:
        return
    keys = dict(zip(zip(vars.pairs["referral_id"], vars.pairs["vacancy_id"], strict=True), range(len(vars.pairs))))
    for lock in side.locks:
        row = keys.get(lock)
        if row is None:  # the engine refuses such a lock before building; keep the model honest
            vars.model.add_bool_or([])
        else:
            vars.model.add(vars.x[row] == 1)
    for ban in side.bans:
        row = keys.get(ban)
        if row is not None:
            vars.model.add(vars.x[row] == 0)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    out = []
    keys = dict(zip(zip(chosen["referral_id"], chosen["vacancy_id"], strict=True), chosen.index))
    for r, v in side.locks:
        if (r, v) not in keys:
            out.append(Breach("locks", f"lock {r} -> {v} not honoured", (r,)))
    for (r, v), label in keys.items():
        if (r, v) in side.bans:
            out.append(Breach("bans", f"banned pair {r} -> {v} proposed", (r,), (int(label),)))
    return out
