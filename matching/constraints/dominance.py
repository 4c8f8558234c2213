"""Never worse than practice: hold headline measures at or better than given limits.

``side.limits`` maps a measure of :mod:`matching.measures` to its limit: at least the limit for
a measure where more is better (young people placed, weighted by urgency), at most the limit
for the others (placements over 20 miles, at a distance, out of area, total miles, weekly
cost). The engine sets them from the one-at-a-time practice baseline when its first proposal
is worse than practice on some measure (:mod:`matching.practice`); empty otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching import measures
from matching.constraints import Breach, Side, Vars


def build(vars: Vars, side: Side) -> None:
    if not side.limits or vars.pairs.empty:
        return
    per_pair = measures.coefficients(vars.pairs)
    for name, limit in side.limits:
        c = per_pair[name]
        nonzero = np.flatnonzero(c)
        expr = cp_model.LinearExpr.weighted_sum([vars.x[i] for i in nonzero], [int(c[i]) for i in nonzero])
        if measures.BY_NAME[name].sense == "max":
            vars.model.add(expr >= int(limit))
        else:
            vars.model.add(expr <= int(limit))


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    if not side.limits:
        return []
    found = measures.of(chosen)
    out = []
    for name, limit in side.limits:
        m = measures.BY_NAME[name]
        if (found[name] < limit) if m.sense == "max" else (found[name] > limit):
            # No repair by dropping placements: that is the solver's job, not a quick fix.
            out.append(Breach("dominance", f"{m.words}: {measures.written(name, found[name])} against "
                                           f"{measures.written(name, int(limit))} one at a time"))
    return out
