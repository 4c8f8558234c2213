"""A region's guarantee to each member council (individual rationality, as multi-hospital kidney
exchange gives each hospital): the region's run places at least as many of the council's young
people, weighted by urgency (the "placed" measure, :mod:`matching.measures`), as the council
would place matching alone on its own share of the market. ``side.council_floors`` holds each
council's floor, computed from its own run (:mod:`matching.region`); ``side.council_of`` each
young person's council."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars


def _weights(pairs: pd.DataFrame, side: Side) -> tuple[np.ndarray, np.ndarray]:
    council = pairs["referral_id"].map(side.council_of).to_numpy(dtype=object)
    return council, pairs["reward"].to_numpy(dtype=np.int64)


def build(vars: Vars, side: Side) -> None:
    if not side.council_floors or vars.pairs.empty:
        return
    council, reward = _weights(vars.pairs, side)
    for code, floor in side.council_floors:
        rows = np.flatnonzero((council == code) & (reward != 0))
        expr = cp_model.LinearExpr.weighted_sum([vars.x[i] for i in rows], [int(reward[i]) for i in rows])
        vars.model.add(expr >= int(floor))


def placed_by_council(chosen: pd.DataFrame, side: Side) -> dict[str, int]:
    """Each member council's urgency-weighted placements in ``chosen``."""
    if chosen.empty:
        return {code: 0 for code, _ in side.council_floors}
    council, reward = _weights(chosen, side)
    return {code: int(reward[council == code].sum()) for code, _ in side.council_floors}


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    if not side.council_floors:
        return []
    got = placed_by_council(chosen, side)
    # No repair by dropping placements (it only lowers a council's count): the solver's job.
    return [Breach("councils", f"{council_name(code)} would place fewer of its young people ({got[code]}, weighted "
                               f"by urgency) than matching alone ({floor})")
            for code, floor in side.council_floors if got[code] < floor]


def council_name(code: str) -> str:
    """A council as people name it, with its code."""
    from providers.authorities import default_authorities

    try:
        return f"{default_authorities().name(code)} ({code})"
    except (KeyError, ValueError):
        return code
