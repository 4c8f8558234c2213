"""The engine's exact model as a mixed-integer program (HiGHS), for the pairs the LP leaves.

Why a MIP beside CP-SAT: on a large queue held no worse than one-at-a-time practice, the
model keeps a handful of dense rows (total miles, placements, ... over every pair). CP-SAT
treats each as one more linear constraint among thousands of Booleans and searches from its
start; a MIP solver works from the LP, which on these queues is all but integral. Measured on
the 5,000-young-person queue with its measures held (21,000 pairs the reduced costs left):
CP-SAT's answer stayed near practice's penalty, four times the LP's, where HiGHS's branch and
bound reached the LP's bound. CP-SAT stays the engine of record for panel-size queues and is
the reference the tests check this against.

The model is :func:`matching.relaxation.build_lp` over the given pairs with every column
integer: the same rows as CP-SAT's model, so a proposal it returns is checked by the same
:func:`matching.constraints.breaches` as any other. Levels are solved one after another, each
earlier one held at the value just proven (the lexicographic order of
:func:`matching.scoring.levels`). Deterministic: one thread, a fixed seed and a node limit,
never a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd

from matching import constraints
from matching.constraints import Side
from matching.policy import Policy
from matching.relaxation import build_lp, hold_in, quiet_highs
from matching.scoring import levels

# Branch-and-bound nodes per level (deterministic, unlike seconds).
NODE_LIMIT = 2_000


@dataclass
class MipAnswer:
    """The best proposal found (row labels of the pairs given) and, per level solved, whether
    HiGHS proved it optimal over those pairs."""

    rows: list[int]
    proven: dict[str, bool]
    nodes: int

    @property
    def optimal(self) -> bool:
        return bool(self.proven) and all(self.proven.values())


def _highs() -> highspy.Highs:
    h = quiet_highs()
    for option, value in (("output_flag", False), ("threads", 1), ("random_seed", 0),
                          ("mip_rel_gap", 0.0), ("mip_abs_gap", 0.5)):  # integer levels: within 0.5 is proven
        h.setOptionValue(option, value)
    return h


def solve(pairs: pd.DataFrame, side: Side, policy: Policy, *, hold: Mapping[str, int] | None = None,
          node_limit: int = NODE_LIMIT) -> MipAnswer | None:
    """The lexicographic optimum over ``pairs`` (any labels) of every level not in ``hold``
    (leading levels held at the values given: at least them when maximised, at most when
    minimised). None when no proposal keeps every rule and hold.

    No start is given to HiGHS: with a start and its presolve on, HiGHS 1.16 called a
    25-pair instance's start optimal at a value 291 below the start's own (its objective
    offset in the presolved space was wrong), where the true optimum lay between the two.
    Without one it found CP-SAT's optimum on every instance tried (tests/matching/test_mip.py)."""
    labels = pairs.index.to_numpy()
    local = pairs.reset_index(drop=True)
    lp = build_lp(local, side)
    if lp.infeasible:
        return None
    held = dict(hold or {})
    columns: dict[str, np.ndarray] = {name: local[name].to_numpy(dtype=np.float64) for name, _ in levels(policy)}
    for name, sense in levels(policy):
        if name in held:
            cost = np.zeros(lp.n_cols)
            cost[: lp.n_pairs] = columns[name]
            hold_in(lp, cost, sense, int(held[name]))
    proven: dict[str, bool] = {}
    nodes = 0
    chosen: np.ndarray | None = None
    for name, sense in levels(policy):
        if name in held:
            continue
        cost = np.zeros(lp.n_cols)
        cost[: lp.n_pairs] = columns[name]
        h = _highs()
        h.setOptionValue("mip_max_nodes", int(node_limit))
        h.passModel(lp.n_cols, lp.n_rows, int(lp.index.size), int(highspy.MatrixFormat.kRowwise),
                    int(highspy.ObjSense.kMinimize if sense == "min" else highspy.ObjSense.kMaximize), 0.0,
                    cost, lp.col_lower, lp.col_upper, lp.row_lower, lp.row_upper,
                    lp.start[:-1], lp.index, lp.value, np.ones(lp.n_cols, dtype=np.int32))
        h.run()
        status = h.modelStatusToString(h.getModelStatus())
        nodes += int(h.getInfo().mip_node_count)
        solution = h.getSolution()
        if status == "Infeasible" or not solution.value_valid:
            return None if chosen is None else MipAnswer(sorted(labels[chosen].tolist()), proven, nodes)
        values = np.asarray(solution.col_value, dtype=np.float64)
        rows = np.flatnonzero(values[: lp.n_pairs] > 0.5)
        if constraints.breaches(local.iloc[rows], side):
            # HiGHS's tolerances let an almost-integral answer through: not a proposal.
            return None if chosen is None else MipAnswer(sorted(labels[chosen].tolist()), proven, nodes)
        chosen = rows
        proven[name] = status == "Optimal"
        value = round(float(columns[name][rows].sum()))
        if not proven[name]:
            break  # a later level is only meaningful with this one proven
        hold_in(lp, cost, sense, value)
    return None if chosen is None else MipAnswer(sorted(labels[chosen].tolist()), proven, nodes)


def _solution(values: np.ndarray) -> highspy.HighsSolution:
    solution = highspy.HighsSolution()
    solution.col_value = values.tolist()
    solution.value_valid = True
    return solution

