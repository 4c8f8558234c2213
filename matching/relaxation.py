"""A certified bound per objective level from the LP relaxation of the engine's exact model.

The min-cost flow (:mod:`matching.flow`) bounds only the first level and ignores every side
constraint, so on a dense queue it reports a gap although the answer is optimal. Here the LP
relaxation of EXACTLY the CP-SAT model of :func:`matching.model.build` is solved, level by
level: the same Boolean per pair (now in [0, 1]), the same auxiliary variables (a sibling
group's "together at this property", a co-residency "which side may move in" per home and
incompatible pair), the same side constraints. Three rewrites keep the same integer points and
can only tighten the LP: a co-residency implication is written once per (home, young person)
over all their options there (``sum x <= h`` instead of ``x <= h`` per option: at most one of
them is chosen anyway); someone carrying both of an incompatible pair's risks shares a
column z per home with everyone they clash with there, instead of a row per clashing pair (see
:func:`_clashes_with_everyone`); and a resident clash or a panel lock/ban is a column bound.

Levels (:func:`matching.scoring.levels`): maximise ``reward``, then minimise ``penalty``, then
``cost``; weighted mode minimises ``pounds`` alone. Level k+1's LP holds every earlier level at
its proven integer optimum (``reward . x >= R*``, ``penalty . x <= P*``): the lexicographic
optimum satisfies those, so a bound of that LP bounds the next level of every lexicographic
optimum. A level is proven when its bound equals the value of a feasible proposal: the LP's own
solution when it is integral (checked with :func:`matching.constraints.breaches`), or the
caller's incumbent. A later level's bound is NaN while an earlier one is unproven.

Why the bound is safe against floating point. The bound is not the solver's objective value:
it is recomputed from the solver's row duals by weak duality, which holds for ANY dual vector,
optimal or not. For ``min c.x`` subject to ``L <= A x <= U`` and ``0 <= x <= 1``, any ``y``
gives ``c.x >= sum_j (y_j L_j if y_j > 0 else y_j U_j) + sum_i min(0, (c - A^T y)_i)``
(a ``y_j`` that would need an infinite side is set to 0 first). Tolerances inside the solver
can only make this bound weaker, never invalid. Its evaluation in doubles errs by at most a few
units in the last place of the magnitudes summed (each column has a handful of entries, sums
are pairwise); :data:`ROUNDING_SLACK` times those magnitudes is subtracted, thousands of times
that error. Every objective coefficient is an integer, so the bound is then rounded to an
integer in the safe direction (``ceil`` for a minimised level, ``floor`` for a maximised one).

Why HiGHS (``highspy``), by measurement on the dense benchmark instances (2-core machine shared
with other engineers; see the module's closing notes for the figures): the model goes in as
numpy arrays in one call (``passModel`` with a row-wise matrix; OR-Tools' model_builder takes
arrays only through a scipy sparse matrix, and scipy is not a dependency, otherwise one Python
object per variable), its dual simplex is deterministic on one thread with an ITERATION limit,
later levels re-solve warm from the previous level's basis, and the same library gives the
exact MIP of :func:`exact_fractional`. Level 1 of the dense 300 x 1,500-bed queue (49,348 pairs,
49,257 rows, 50,148 columns): HiGHS dual simplex without presolve 0.2-0.6 s, with presolve
1.2-2.3 s, HiGHS IPM 8.8 s, GLOP 1.0 s (from the same LP read from MPS), PDLP 3.4 s (one thread;
an interior answer, fractional everywhere, so it can prove no integrality). GLOP's vertex
happened to be integral where HiGHS's had 28 fractional columns; HiGHS closes that with the exact
step (or any incumbent meeting the bound proves it), so GLOP's edge did not outweigh building
its model one Python object per variable. At 1,000 x 5,000 beds (641,609 pairs, 1.08 million
rows): build 3.6 s, level 1 4.3 s (13,351 iterations), level 2 5.6 s.

Pricing (:class:`_Master`): above :data:`PRICING_PAIRS` HiGHS gets a master LP of each young
person's best options and only the rows they touch; left-out options come in by their reduced
cost and co-residency rows when the master's solution breaks one. Measured on the dense 1,000 x
2,000-row queue held no worse than practice (379,491 pairs, 710,057 rows): the full LP's
penalty level took 30 s; a master of 30 options each with every row 8.8 s (164,000 rows); with
rows left out until broken (4,200 rows) 4.9 s, and the bound it certifies is the same.

Memory: the LP's arrays are about 3.8 million non-zeros at 1.3 million pairs' scale (12 bytes
each) plus HiGHS's own copies; the measuring process peaked at 2.5 GB with the engine's run
included.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata

import highspy
import numpy as np
import pandas as pd

from matching import constraints, measures
from matching.constraints import Side, support_hours
from matching.constraints.intensive import INTENSIVE, room
from matching.policy import Policy
from matching.scoring import levels

# A deterministic cap on simplex iterations per level (the same input gives the same answer on
# an idle or a busy machine; a wall-clock limit would not). Measured: the dense 1,000 x 5,000
# bed queue (641,609 pairs) needs 13,351 iterations at its first level and 6,163 at its second.
ITERATION_LIMIT = 5_000_000
# Branch-and-bound nodes for the exact step on a fractional level (deterministic, unlike time).
NODE_LIMIT = 10_000
# HiGHS's presolve on this LP costs more than it saves: level 1 of the dense 300 x 1,500 queue
# takes 1.2-2.3 s with it and 0.2-0.6 s without (shared machine).
PRESOLVE = "off"
INTEGRAL_TOLERANCE = 1e-6  # an LP value this close to 0 or 1 is read as that Boolean
ROUNDING_SLACK = 1e-12  # relative allowance for rounding in the dual bound's evaluation
_INF = math.inf


@dataclass
class LevelBound:
    """One objective level's LP relaxation."""

    name: str  # "reward" | "penalty" | "cost" | "pounds"
    sense: str  # "max" | "min"
    bound: float  # certified: every feasible proposal has level <= bound (max) / >= bound (min);
    #               an integer, or NaN when not computed (an earlier level unproven, LP failed)
    lp_objective: float  # the LP optimum as the solver reports it (NaN when not solved)
    status: str  # "optimal" | "iteration_limit" | "infeasible" | "not_reached" | solver's words
    integral: bool  # the LP optimum is a feasible proposal meeting the bound: proven optimal
    solution: tuple[int, ...] | None  # its chosen row positions (when integral), sorted
    proven: int | None  # the proven optimum of this level (LP integral or incumbent meets bound)
    fractional: int  # pair columns of the LP optimum not within INTEGRAL_TOLERANCE of 0 or 1
    iterations: int  # simplex iterations of this level's solve
    seconds: float
    exact: str | None = None  # what exact_fractional concluded, when it ran: "proven" |
    #                           "bound_raised" (no proposal meets the LP's bound) | "node_limit"
    values: np.ndarray | None = None  # the LP optimum's pair columns (float32), when solved:
    #                                   the engine rounds them (the fractional part goes to CP-SAT)
    rounded: tuple[int, ...] | None = None  # the rounder's proposal for this level, when it
    #                                         kept every rule and every earlier level's optimum
    # The duals' verdict on each pair column, in minimisation form (``-reward`` for the first
    # level): every proposal meeting the earlier levels' optima and the side constraints has
    # level value >= ``lower + sum of reduced[i] over its pairs with reduced[i] > 0``, so a pair
    # with reduced cost above s is in no proposal within s of ``lower`` (see engine._reduced).
    reduced: np.ndarray | None = None  # float32 per pair column, when the LP was solved
    lower: float = math.nan  # the dual bound itself, minimisation form, before rounding


@dataclass
class Relaxation:
    """The LP relaxation of the engine's model, level by level (keys in level order)."""

    levels: dict[str, LevelBound]
    solver: str  # e.g. "highs-1.16.0 dual simplex"
    build_seconds: float  # the LP's arrays and its hand-over to the solver
    rows: int
    columns: int  # pair columns first (column i is pair row i), then auxiliary ones
    nonzeros: int
    infeasible: str | None = None  # why the model has no solution at all (a missing lock's pair)

    @property
    def bound(self) -> dict[str, float]:
        return {name: level.bound for name, level in self.levels.items()}

    @property
    def seconds(self) -> float:
        return self.build_seconds + sum(level.seconds for level in self.levels.values())

    @property
    def solution(self) -> tuple[int, ...] | None:
        """A proposal proven optimal at every level by the LP alone (None otherwise)."""
        last = list(self.levels.values())[-1] if self.levels else None
        return last.solution if last is not None and all(lv.integral for lv in self.levels.values()) else None


# --- the LP, in arrays --------------------------------------------------------------------------


@dataclass
class _LP:
    """min/max c.x subject to row_lower <= A x <= row_upper, col_lower <= x <= col_upper;
    A row-wise (CSR: start, index, value)."""

    n_pairs: int
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    infeasible: str | None = None
    lazy: np.ndarray | None = None  # rows a master may leave out until its solution breaks them

    @property
    def n_cols(self) -> int:
        return len(self.col_lower)

    @property
    def n_rows(self) -> int:
        return len(self.row_lower)


@dataclass
class _Builder:
    """Collects rows as numpy blocks and auxiliary columns, all in [0, 1]. Each block is put in
    row order as it comes, so the whole matrix is in row order by concatenation: no sort of
    every entry, and no row index per entry kept (measured at 3.6 million pairs, the global
    sort and its copies were the LP build's peak)."""

    n_pairs: int
    n_aux: int = 0
    count: int = 0
    sizes: list = field(default_factory=list)  # entries per row, block by block
    cols: list = field(default_factory=list)
    vals: list = field(default_factory=list)
    lower: list = field(default_factory=list)
    upper: list = field(default_factory=list)
    lazy: list = field(default_factory=list)

    def new_columns(self, k: int) -> np.ndarray:
        first = self.n_pairs + self.n_aux
        self.n_aux += k
        return np.arange(first, first + k, dtype=np.int64)

    def rows(self, row_of: np.ndarray, cols: np.ndarray, vals, lower, upper, m: int, lazy: bool = False) -> None:
        """Add ``m`` rows; entry e is in local row ``row_of[e]``. ``lazy``: rows that rarely
        bind (co-residency), which a master leaves out until its solution breaks one."""
        if m == 0:
            return
        row_of = np.asarray(row_of, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int32)
        vals = np.broadcast_to(np.asarray(vals, dtype=np.float64), row_of.shape)
        if row_of.size > 1 and np.any(row_of[1:] < row_of[:-1]):
            order = np.argsort(row_of, kind="stable")
            cols, vals = cols[order], vals[order]
        self.sizes.append(np.bincount(row_of, minlength=m))
        self.cols.append(cols)
        self.vals.append(vals)
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (m,)))
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (m,)))
        self.lazy.append(np.full(m, lazy))
        self.count += m

    def finish(self, col_lower: np.ndarray, col_upper: np.ndarray, infeasible: str | None) -> _LP:
        n_cols = self.n_pairs + self.n_aux
        lower = np.concatenate([col_lower, np.zeros(self.n_aux)])
        upper = np.concatenate([col_upper, np.ones(self.n_aux)])
        if self.sizes:
            index = np.concatenate(self.cols)
            self.cols.clear()
            value = np.concatenate(self.vals)
            self.vals.clear()
            start = np.zeros(self.count + 1, dtype=np.int64)
            np.cumsum(np.concatenate(self.sizes), out=start[1:])
            row_lower, row_upper = np.concatenate(self.lower), np.concatenate(self.upper)
        else:
            index, value = np.zeros(0, np.int32), np.zeros(0)
            start, row_lower, row_upper = np.zeros(1, np.int64), np.zeros(0), np.zeros(0)
        assert index.size == 0 or int(index.max()) < n_cols
        assert index.size < 2**31, "the LP's entries no longer fit 32-bit row starts"
        lazy = np.concatenate(self.lazy) if self.lazy else np.zeros(0, dtype=bool)
        return _LP(self.n_pairs, lower, upper, row_lower, row_upper, start.astype(np.int32), index, value,
                   infeasible, lazy)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(values.astype(str).to_numpy(dtype=object), return_inverse=True)
    return uniques, codes.astype(np.int64)


def _group_rows(b: _Builder, codes: np.ndarray, mask: np.ndarray, upper_of: np.ndarray) -> None:
    """One ``sum x <= upper_of[code]`` row per code whose options (rows in ``mask``) exceed it."""
    counts = np.bincount(codes[mask], minlength=len(upper_of))
    binding = counts > upper_of
    positions = np.flatnonzero(mask & binding[codes])
    if positions.size == 0:
        return
    row_of_code = np.cumsum(binding) - 1
    b.rows(row_of_code[codes[positions]], positions, 1.0, -_INF, upper_of[binding], int(binding.sum()))


def _one_placement_each(b: _Builder, referral: np.ndarray, n_referrals: int) -> None:
    """Each young person takes at most one bed (the model's ``add_at_most_one``)."""
    _group_rows(b, referral, np.ones(len(referral), bool), np.ones(n_referrals))


def _free_beds(b: _Builder, vacancy: np.ndarray, vacancies: np.ndarray, side: Side) -> None:
    beds = np.array([side.beds.get(v, 0) for v in vacancies], dtype=np.float64)
    _group_rows(b, vacancy, np.ones(len(vacancy), bool), beds)


def _support_hours(b: _Builder, pairs: pd.DataFrame, vacancy: np.ndarray, vacancies: np.ndarray,
                   side: Side) -> None:
    """A support package's hours a week: one ``sum hours x <= free`` row per package its
    options could over-commit (as in the model)."""
    if not side.hours:
        return
    hours = support_hours.hours_of(pairs, side).astype(np.float64)
    free = np.array([side.hours.get(v, _INF) for v in vacancies], dtype=np.float64)
    binding = np.bincount(vacancy, weights=hours, minlength=len(vacancies)) > free
    positions = np.flatnonzero(binding[vacancy] & (hours > 0))
    if positions.size == 0:
        return
    row_of_code = np.cumsum(binding) - 1
    b.rows(row_of_code[vacancy[positions]], positions, hours[positions], -_INF, free[binding], int(binding.sum()))
    # Chvatal-Gomory cuts, one per tier's hours g: sum floor(h / g) x <= floor(free / g) holds for
    # every whole assignment (divide the row by g, round down), and cuts the LP's fractional
    # young people at a package; without them the bound on placements stays a fraction above the
    # optimum on every package that binds.
    for g in sorted({h for h in side.hours_needed.values() if h > 0}):
        coefficient = np.floor(hours[positions] / g)
        keep = coefficient > 0
        if keep.any():
            b.rows(row_of_code[vacancy[positions[keep]]], positions[keep], coefficient[keep], -_INF,
                   np.floor(free[binding] / g), int(binding.sum()))


def _intensive_cap(b: _Builder, pairs: pd.DataFrame, home: np.ndarray, homes: np.ndarray,
                   shared: np.ndarray, side: Side) -> None:
    """Intensive placements in a shared home up to the room the cap leaves (residents count)."""
    if side.intensive_cap is None:
        return
    counted = (pairs["tier"].astype(str).to_numpy() == INTENSIVE) & shared[home]
    left = np.array([room(side, p) if room(side, p) is not None else _INF for p in homes])
    _group_rows(b, home, counted, left)


def _weekly_budget(b: _Builder, pairs: pd.DataFrame, side: Side) -> None:
    if side.budget_pence is None:
        return
    cost = constraints.pence(pairs["weekly_cost"]).astype(np.float64)
    if cost.sum() <= side.budget_pence:
        return  # cannot bind (as in the model)
    nonzero = np.flatnonzero(cost)
    b.rows(np.zeros(nonzero.size), nonzero, cost[nonzero], -_INF, float(side.budget_pence), 1)


def _measure_limits(b: _Builder, pairs: pd.DataFrame, side: Side) -> None:
    """The headline measures held no worse than practice (``side.limits``), one row each."""
    if not side.limits:
        return
    per_pair = measures.coefficients(pairs)
    for name, limit in side.limits:
        c = per_pair[name].astype(np.float64)
        nonzero = np.flatnonzero(c)
        at_least = measures.BY_NAME[name].sense == "max"
        b.rows(np.zeros(nonzero.size), nonzero, c[nonzero], float(limit) if at_least else -_INF,
               _INF if at_least else float(limit), 1)


def _token_table(tokens: list[str], owners: np.ndarray, risks_of) -> np.ndarray:
    """owners x tokens: does each owner carry each risk token."""
    table = np.zeros((len(owners), len(tokens)), dtype=bool)
    for k, owner in enumerate(owners):  # one per young person or home, not per pair
        mine = risks_of(owner)
        table[k] = [t in mine for t in tokens]
    return table


def _resident_clashes(pairs_home: np.ndarray, pairs_ref: np.ndarray, homes: np.ndarray, referrals: np.ndarray,
                      shared: np.ndarray, side: Side) -> np.ndarray:
    """Pairs that would put a young person in a shared home with a resident they clash with
    (the model fixes them to 0; the engine normally removes them first)."""
    if not side.incompatible or not side.resident_risks:
        return np.zeros(len(pairs_home), dtype=bool)
    # A home forbids X when a resident carries Y, and Y when a resident carries X.
    forbid: dict[str, set[str]] = {}
    for p, residents in side.resident_risks.items():
        for x, y in side.incompatible:
            for risks in residents:
                if y in risks:
                    forbid.setdefault(p, set()).add(x)
                if x in risks:
                    forbid.setdefault(p, set()).add(y)
    tokens = sorted({t for pair in side.incompatible for t in pair})
    home_forbids = _token_table(tokens, homes, lambda p: forbid.get(p, set())) & shared[:, None]
    carries = _token_table(tokens, referrals, lambda r: side.risks.get(r, frozenset()))
    return (home_forbids[pairs_home] & carries[pairs_ref]).any(axis=1)


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions grouped by key: ``members[start[k]:start[k+1]]`` hold key k."""
    order = np.argsort(keys, kind="stable")
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=start[1:])
    return order, start


def _co_residency(b: _Builder, home: np.ndarray, referral: np.ndarray, shared: np.ndarray,
                  referrals: np.ndarray, side: Side) -> None:
    """Incompatible risks never move into one shared home (``matching.constraints.coresidency``):
    per home and incompatible pair (X, Y), a column h in [0, 1]; each young person carrying X
    only has ``sum of their options there <= h``, each carrying Y only ``... <= 1 - h``; someone
    carrying both clashes with everyone else carrying either (pairwise at most one)."""
    if not side.incompatible:
        return
    at_shared = np.flatnonzero(shared[home])
    if at_shared.size == 0:
        return
    n_ref = len(referrals)
    # (home, young person) groups of options in shared homes.
    key = home[at_shared] * n_ref + referral[at_shared]
    group_keys, group_of = np.unique(key, return_inverse=True)
    g_home, g_ref = group_keys // n_ref, group_keys % n_ref
    members, start = _csr(group_of, len(group_keys))
    member_rows = at_shared[members]
    n_homes = int(home.max()) + 1
    tokens = sorted({t for pair in side.incompatible for t in pair})
    carries = _token_table(tokens, referrals, lambda r: side.risks.get(r, frozenset()))
    for x_token, y_token in side.incompatible:
        gx, gy = carries[g_ref, tokens.index(x_token)], carries[g_ref, tokens.index(y_token)]
        n_a = np.bincount(g_home, gx, minlength=n_homes)
        n_b = np.bincount(g_home, gy, minlength=n_homes)
        n_both = np.bincount(g_home, gx & gy, minlength=n_homes)
        live = (n_a > 0) & (n_b > 0) & ~((n_a == 1) & (n_b == 1) & (n_both == 1))
        with_h = live & (n_a > n_both) & (n_b > n_both)
        h = np.full(n_homes, -1, dtype=np.int64)
        h[with_h] = b.new_columns(int(with_h.sum()))
        for side_a, sign, upper in ((gx & ~gy, -1.0, 0.0), (gy & ~gx, 1.0, 1.0)):
            chosen_groups = np.flatnonzero(side_a & with_h[g_home])
            _option_sums_with(b, chosen_groups, start, member_rows, h[g_home[chosen_groups]], sign, upper)
        _clashes_with_everyone(b, np.flatnonzero(gx & gy & live[g_home]), g_home, gx | gy, gx & gy, start,
                               member_rows)


def _options_of(groups: np.ndarray, start: np.ndarray, member_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, pair column) for every option of ``groups[k]``, group by group."""
    position, local = _spans(start, groups)
    return local, member_rows[position]


def _option_sums_with(b: _Builder, groups: np.ndarray, start: np.ndarray, member_rows: np.ndarray,
                      h_cols: np.ndarray, sign: float, upper: float) -> None:
    """One row per group: sum of its options + sign * h <= upper."""
    if groups.size == 0:
        return
    local, x_cols = _options_of(groups, start, member_rows)
    row_of = np.concatenate([local, np.arange(groups.size)])
    cols = np.concatenate([x_cols, h_cols])
    vals = np.concatenate([np.ones(x_cols.size), np.full(groups.size, sign)])
    b.rows(row_of, cols, vals, -_INF, upper, groups.size, lazy=True)


def _clashes_with_everyone(b: _Builder, carriers: np.ndarray, g_home: np.ndarray, either: np.ndarray,
                           both: np.ndarray, start: np.ndarray, member_rows: np.ndarray) -> None:
    """Someone carrying X and Y (the groups ``carriers``) clashes with everyone else at a home
    carrying either. Per such home a column z in [0, 1] ("one of them moves in"): the options
    there of every carrier of both sum to at most z, and each other young person carrying X or
    Y has their options there summing to at most 1 - z. The integer points are those of a row
    per clashing pair (x_c + x_r <= 1), and so is the LP or tighter: adding a carrier's row to
    a rival's gives that pair's row, and the carriers' own row is a clique. The entries grow
    with the young people at a home, not with their pairs: measured at 3,000 x 6,000 rows, the
    pairwise rows held 40.7 million of the LP's 49.8 million entries."""
    if carriers.size == 0:
        return
    homes = np.unique(g_home[carriers])
    z = b.new_columns(homes.size)
    local, x_cols = _options_of(carriers, start, member_rows)
    row_of = np.concatenate([np.searchsorted(homes, g_home[carriers])[local], np.arange(homes.size)])
    cols = np.concatenate([x_cols, z])
    vals = np.concatenate([np.ones(x_cols.size), -np.ones(homes.size)])
    b.rows(row_of, cols, vals, -_INF, 0.0, homes.size, lazy=True)
    rivals = np.flatnonzero(either & ~both & np.isin(g_home, homes))
    if rivals.size == 0:
        return
    local, x_cols = _options_of(rivals, start, member_rows)
    row_of = np.concatenate([local, np.arange(rivals.size)])
    cols = np.concatenate([x_cols, z[np.searchsorted(homes, g_home[rivals])]])
    b.rows(row_of, cols, 1.0, -_INF, 1.0, rivals.size, lazy=True)


def _siblings_together(b: _Builder, referral_ids: np.ndarray, home: np.ndarray,
                       col_upper: np.ndarray, side: Side) -> None:
    """A sibling group goes to one property or not at all: per property t in [0, 1] and, for
    each member, the sum of their options there equals t."""
    for members in side.sibling_groups.values():
        mine = np.flatnonzero(np.isin(referral_ids, members))
        if mine.size == 0:
            continue
        present = set(referral_ids[mine])
        if len(present) < len(members):  # a member with no option: nobody in the group goes
            col_upper[mine] = 0.0
        props, prop_of = np.unique(home[mine], return_inverse=True)
        member_of = np.searchsorted(np.array(members, dtype=object), referral_ids[mine])
        t = b.new_columns(len(props))
        n_members = len(members)
        # Row (member m, property p) = m * len(props) + p; every combination, even with no option.
        combos = np.arange(n_members * len(props))
        row_of = np.concatenate([member_of * len(props) + prop_of, combos])
        cols = np.concatenate([mine, t[combos % len(props)]])
        vals = np.concatenate([np.ones(mine.size), -np.ones(combos.size)])
        b.rows(row_of, cols, vals, 0.0, 0.0, combos.size)


def _panel_choices(pairs: pd.DataFrame, side: Side, col_lower: np.ndarray, col_upper: np.ndarray) -> str | None:
    """Locks fix a pair to 1 and bans to 0; a lock with no eligible pair makes the model
    infeasible (as ``matching.constraints.panel`` does)."""
    if not (side.locks or side.bans):
        return None
    position = pd.Series(np.arange(len(pairs)),
                         index=pd.MultiIndex.from_arrays([pairs["referral_id"].astype(str),
                                                          pairs["vacancy_id"].astype(str)]))
    missing = []
    for lock in side.locks:
        if lock in position.index:
            col_lower[position[lock]] = 1.0
        else:
            missing.append(lock)
    for ban in side.bans:
        if ban in position.index:
            col_upper[position[ban]] = 0.0
    if missing:
        return "no eligible pair for lock " + ", ".join(f"{r} -> {v}" for r, v in missing)
    return None


def build_lp(pairs: pd.DataFrame, side: Side) -> _LP:
    """The LP relaxation of :func:`matching.model.build` over ``pairs`` (scored, indexed
    0..n-1: column i is pair row i)."""
    n = len(pairs)
    b = _Builder(n)
    col_lower, col_upper = np.zeros(n), np.ones(n)
    if n == 0:
        return b.finish(col_lower, col_upper, _panel_choices(pairs, side, col_lower, col_upper) if side.locks else None)
    referrals, referral = _codes(pairs["referral_id"])
    vacancies, vacancy = _codes(pairs["vacancy_id"])
    homes, home = _codes(pairs["property_id"])
    shared = np.isin(homes, list(side.shared))
    infeasible = _panel_choices(pairs, side, col_lower, col_upper)
    _one_placement_each(b, referral, len(referrals))
    _free_beds(b, vacancy, vacancies, side)
    _support_hours(b, pairs, vacancy, vacancies, side)
    col_upper[_resident_clashes(home, referral, homes, referrals, shared, side)] = 0.0
    _co_residency(b, home, referral, shared, referrals, side)
    _intensive_cap(b, pairs, home, homes, shared, side)
    _siblings_together(b, referrals[referral], home, col_upper, side)
    _weekly_budget(b, pairs, side)
    _measure_limits(b, pairs, side)
    return b.finish(col_lower, col_upper, infeasible)


# --- the certified bound ------------------------------------------------------------------------


def _spans(start: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of ``keys`` in a compressed layout (``start[k]:start[k+1]`` hold key k):
    (position of each entry, which of ``keys`` it belongs to), key by key."""
    sizes = (start[keys + 1] - start[keys]).astype(np.int64)
    owner = np.repeat(np.arange(keys.size), sizes)
    position = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes) \
        + np.repeat(start[keys].astype(np.int64), sizes)
    return position, owner


def _transposed(lp: _LP, y: np.ndarray) -> tuple[np.ndarray, float]:
    """(A^T y, sum of |A_ji y_j|) over the rows where ``y`` is not 0 only. Most rows' duals are
    0 (a master's left-out rows always are), so this reads a small part of the matrix instead
    of every entry; the full pass held several copies of the entries' row index at once."""
    rows = np.flatnonzero(y)
    position, owner = _spans(lp.start, rows)
    weighted = lp.value[position] * y[rows][owner]
    return np.bincount(lp.index[position], weighted, minlength=lp.n_cols), float(np.abs(weighted).sum())


def _usable(lp: _LP, y: np.ndarray) -> np.ndarray:
    """``y`` with every multiplier that would need an infinite row side set to 0 (weak duality
    holds for any multipliers with finite sides)."""
    y = np.where((y > 0) & np.isinf(lp.row_lower), 0.0, y)
    return np.where((y < 0) & np.isinf(lp.row_upper), 0.0, y)


def dual_bound(lp: _LP, cost: np.ndarray, y: np.ndarray) -> float:
    """A lower bound on min cost.x over the LP from ANY row multipliers ``y`` (weak duality),
    with an allowance for rounding in its own evaluation (see the module notes)."""
    y = _usable(lp, y)
    side_of_row = np.where(y > 0, lp.row_lower, lp.row_upper)
    row_part = np.where(y != 0, y * np.where(np.isinf(side_of_row), 0.0, side_of_row), 0.0)
    aty, weight = _transposed(lp, y)
    reduced = cost - aty
    col_part = np.where(reduced > 0, reduced * lp.col_lower, reduced * lp.col_upper)
    magnitude = np.abs(row_part).sum() + np.abs(cost).sum() + weight + np.abs(col_part).sum()
    return float(row_part.sum() + col_part.sum() - ROUNDING_SLACK * magnitude - 1e-9)


def _certified(lp: _LP, cost: np.ndarray, sense: str, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """An integer bound on the level (cost is the level's own coefficients) from the better of
    the two readings of the solver's dual sign convention, both valid by weak duality; with the
    unrounded bound in minimisation form and the duals read that way (for reduced costs)."""
    c = cost if sense == "min" else -cost
    lower, sign = max((dual_bound(lp, c, y), 1), (dual_bound(lp, c, -y), -1))
    bound = float(math.ceil(lower)) if sense == "min" else float(math.floor(-lower))
    return bound, lower, sign * y


# --- the solver ---------------------------------------------------------------------------------


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance without its banner: highspy 1.16 prints "Running HiGHS ..." on standard
    output when constructed, before any option can silence it, which would land in the CLI's
    output and the workers' pipes. Standard output is pointed at /dev/null for that moment."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def hold_in(lp: _LP, cost: np.ndarray, sense: str, value: int) -> None:
    """Keep a proven level at its optimum in the later levels' LPs: a new row of ``lp``, so the
    dual bound sees it (the master adds it to HiGHS)."""
    nz = np.flatnonzero(cost)
    lower, upper = (float(value), _INF) if sense == "max" else (-_INF, float(value))
    lp.row_lower = np.append(lp.row_lower, lower)
    lp.row_upper = np.append(lp.row_upper, upper)
    lp.index = np.concatenate([lp.index, nz.astype(np.int32)])
    lp.value = np.concatenate([lp.value, cost[nz]])
    lp.start = np.append(lp.start, lp.start[-1] + nz.size).astype(np.int32)
    if lp.lazy is not None:
        lp.lazy = np.append(lp.lazy, False)


# --- the master LP: every row, the pair columns that matter --------------------------------------

# Above this many pairs the LP handed to HiGHS starts from a few options per young person and
# grows by pricing (column generation): HiGHS's dual simplex computes each pivot row over every
# column, so on a dense queue most of its time went on options that never enter the answer.
# Below it every column goes in (small LPs solve in a fraction of a second either way).
PRICING_PAIRS = 10_000
FIRST_OPTIONS = 30  # options per young person in the first master (the policy's best first)
ADDED_OPTIONS = 30  # per young person and round: the most improving options left out
PRICE_TOLERANCE = 1e-6  # a reduced cost below minus this improves the LP: the option goes in


def _best_options(pairs: pd.DataFrame, policy: Policy, k: int) -> np.ndarray:
    """Each young person's ``k`` best pair rows in the policy's own order (most reward, then
    least penalty, then least cost): a master that already holds most of the answer."""
    keys = [np.asarray(pairs[name].to_numpy(dtype=np.float64)) * (-1.0 if sense == "max" else 1.0)
            for name, sense in reversed(levels(policy))]
    referral = _codes(pairs["referral_id"])[1]
    order = np.lexsort([*keys, referral])
    grouped = referral[order]
    first = np.r_[0, np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    return np.sort(order[rank < k])


class _Master:
    """The LP HiGHS solves: the full LP restricted to some of its pair columns and some of its
    rows (everything below :data:`PRICING_PAIRS`). Two things are left out until they matter:

    * columns (column generation): after each solve every left-out pair column is priced with
      the duals over the FULL matrix (its reduced cost); the most improving ones go in, with
      the rows they touch;
    * lazy rows (row generation, the co-residency rows, most of the LP's rows on a dense
      queue): one goes in only when the master's solution breaks it. A left-out row has dual 0.

    The loop ends when the master's solution breaks no row and no column improves it: that
    solution is then feasible for the full LP and the duals (0 on the left-out rows) prove it
    optimal there. The certified bound never rests on that: it is computed from the duals over
    the full LP by weak duality, which holds for any duals, so it is valid after any round.
    Measured on the dense 1,000 x 2,000-row queue (379,491 pairs): the full LP has 710,057
    rows, 680,000 of them co-residency rows, and HiGHS's simplex pays for every row on every
    iteration; a master of the 30 best options each still had 164,000 rows."""

    def __init__(self, lp: _LP, pairs: pd.DataFrame, policy: Policy, iteration_limit: int,
                 keep: np.ndarray) -> None:
        self.lp, self.iteration_limit = lp, int(iteration_limit)
        self.referral = _codes(pairs["referral_id"])[1] if lp.n_pairs else np.zeros(0, np.int64)
        self.restricted = lp.n_pairs > PRICING_PAIRS
        self.held: list[tuple[int, np.ndarray]] = []  # rows added by hold(): (row, pair coefficients)
        chosen = np.ones(lp.n_cols, dtype=bool)
        if self.restricted:
            chosen[: lp.n_pairs] = False
            chosen[_best_options(pairs, policy, FIRST_OPTIONS)] = True
            chosen[keep] = True  # the incumbent: the master is feasible wherever the full LP is
            chosen[: lp.n_pairs] |= lp.col_lower[: lp.n_pairs] > 0  # the panel's locks
        self.inside = chosen
        self.columns = np.flatnonzero(chosen)
        self.master_col = np.full(lp.n_cols, -1, dtype=np.int64)
        self.master_col[self.columns] = np.arange(self.columns.size)
        self.lazy = lp.lazy if self.restricted and lp.lazy is not None else np.zeros(lp.n_rows, dtype=bool)
        self.rounds = 0
        # Column-wise copy of the full matrix, to hand HiGHS the columns it is given.
        order = np.argsort(lp.index, kind="stable")
        self.csc_value = lp.value[order]
        self.csc_row = np.repeat(np.arange(lp.n_rows, dtype=np.int32), np.diff(lp.start))[order]
        self.csc_start = np.zeros(lp.n_cols + 1, dtype=np.int64)
        np.cumsum(np.bincount(lp.index, minlength=lp.n_cols), out=self.csc_start[1:])
        del order
        # Master row of each full row (-1: left out). A row that x = 0 would break is always in.
        self.master_row = np.full(lp.n_rows, -1, dtype=np.int64)
        self.rows = np.zeros(0, dtype=np.int64)  # full row of each master row
        self.h: highspy.Highs | None = None  # made once the first columns' rows are known
        needed = (lp.row_lower > 0) | (lp.row_upper < 0) | (not self.restricted)
        self._take_rows(np.flatnonzero(needed))
        starts, rows, values = self._entries(self.columns)
        self.h = self._highs(starts, rows, values)

    def _take_rows(self, full_rows: np.ndarray) -> np.ndarray:
        """Give the left-out ones of ``full_rows`` master indices; return those rows."""
        new = np.unique(full_rows[self.master_row[full_rows] < 0])
        self.master_row[new] = self.rows.size + np.arange(new.size)
        self.rows = np.concatenate([self.rows, new])
        return new

    def _entries(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column-wise (starts, MASTER rows, values) of ``cols``, held rows included; a row
        not yet in the master goes in now unless it is lazy (then the entry waits with it)."""
        position, local = _spans(self.csc_start, cols)
        rows, values, locals_ = [self.csc_row[position].astype(np.int64)], [self.csc_value[position]], [local]
        for row, coefficient in self.held:
            c = np.zeros(cols.size)
            pair = cols < self.lp.n_pairs
            c[pair] = coefficient[cols[pair]]
            nz = np.flatnonzero(c)
            locals_.append(nz)
            rows.append(np.full(nz.size, row, dtype=np.int64))
            values.append(c[nz])
        local, row, value = np.concatenate(locals_), np.concatenate(rows), np.concatenate(values)
        new = self._take_rows(row[(self.master_row[row] < 0) & ~self.lazy[row]])
        if new.size and self.h is not None:
            self.h.addRows(new.size, self.lp.row_lower[new], self.lp.row_upper[new], 0,
                           np.zeros(new.size, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        inside = self.master_row[row] >= 0
        local, row, value = local[inside], row[inside], value[inside]
        order = np.argsort(local, kind="stable")
        starts = np.zeros(cols.size, dtype=np.int32)
        starts[1:] = np.cumsum(np.bincount(local, minlength=cols.size)[:-1])
        return starts, self.master_row[row[order]].astype(np.int32), value[order]

    def _highs(self, starts: np.ndarray, rows: np.ndarray, values: np.ndarray) -> highspy.Highs:
        lp, cols = self.lp, self.columns
        h = quiet_highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)  # one thread: deterministic, and the machine is shared
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 1)  # dual simplex: its duals stay feasible, so even a
        #                                          solve cut off by the iteration limit bounds well
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("presolve", PRESOLVE)
        h.setOptionValue("time_limit", _INF)  # deterministic: iterations decide, never the clock
        h.passModel(cols.size, self.rows.size, int(rows.size), int(highspy.MatrixFormat.kColwise),
                    int(highspy.ObjSense.kMinimize), 0.0, np.zeros(cols.size), lp.col_lower[cols],
                    lp.col_upper[cols], lp.row_lower[self.rows], lp.row_upper[self.rows], starts, rows, values,
                    np.zeros(cols.size, dtype=np.int32))  # all continuous
        return h

    def hold(self, cost: np.ndarray, sense: str, value: int) -> None:
        """Keep a proven level at its optimum in the later levels (a row in the master and in
        the full LP, whose duals price the left-out columns)."""
        nz = np.flatnonzero(cost[self.columns])
        lower, upper = (float(value), _INF) if sense == "max" else (-_INF, float(value))
        self.h.addRow(lower, upper, int(nz.size), nz.astype(np.int32), cost[self.columns][nz])
        row = self.lp.n_rows
        self.held.append((row, cost[: self.lp.n_pairs]))
        hold_in(self.lp, cost, sense, value)
        self.master_row = np.append(self.master_row, self.rows.size)
        self.rows = np.append(self.rows, row)
        self.lazy = np.append(self.lazy, False)

    def solve(self, c: np.ndarray) -> tuple[str, np.ndarray | None, np.ndarray | None, int, float]:
        """min c.x (``c`` over the full LP's columns): (status, row duals over the full LP, pair
        column values, iterations, objective), adding broken rows and improving columns until
        there are none."""
        h, lp = self.h, self.lp
        h.changeColsCost(self.columns.size, np.arange(self.columns.size, dtype=np.int32), c[self.columns])
        iterations, status = 0, "not_reached"
        while True:
            h.setOptionValue("simplex_iteration_limit", max(1, self.iteration_limit - iterations))
            h.run()
            status = _STATUS.get(h.modelStatusToString(h.getModelStatus()), h.modelStatusToString(h.getModelStatus()))
            iterations += int(h.getInfo().simplex_iteration_count)
            if status == "infeasible" and self.inside[: lp.n_pairs].sum() < lp.n_pairs:
                rescuing = self._rescuing()
                if rescuing.size:
                    self._add(rescuing, c)
                    continue
                break  # the full LP is infeasible too: its certificate covers every option left out
            if status != "optimal" or not self.restricted:
                break
            solution = h.getSolution()
            broken = self._broken(np.asarray(solution.col_value, dtype=np.float64))
            if broken.size:
                self._add_rows(broken)
                continue
            entering = self._entering(_reduced_cost(lp, c, self._duals(solution)))
            if entering.size == 0:
                break
            self._add(entering, c)
        solution = h.getSolution()
        y = self._duals(solution) if solution.dual_valid else None
        values = None
        if status == "optimal" and solution.value_valid:
            values = np.zeros(lp.n_pairs)
            mine = self.columns < lp.n_pairs
            values[self.columns[mine]] = np.asarray(solution.col_value, dtype=np.float64)[mine]
        objective = float(h.getInfo().objective_function_value) if status == "optimal" else math.nan
        return status, y, values, iterations, objective

    def _duals(self, solution) -> np.ndarray:
        y = np.zeros(self.lp.n_rows)
        y[self.rows] = np.asarray(solution.row_dual, dtype=np.float64)
        return y

    def _broken(self, master_values: np.ndarray) -> np.ndarray:
        """Left-out rows the master's solution breaks."""
        lp = self.lp
        used = np.flatnonzero(master_values)
        # Only the columns the solution uses (column-wise): a row no used column touches has
        # activity 0, which every lazy row allows.
        position, owner = _spans(self.csc_start, self.columns[used])
        activity = np.bincount(self.csc_row[position], self.csc_value[position] * master_values[used][owner],
                               minlength=lp.n_rows)
        out = (self.master_row < 0) & ((activity > lp.row_upper + 1e-7) | (activity < lp.row_lower - 1e-7))
        return np.flatnonzero(out)

    def _add_rows(self, rows: np.ndarray) -> None:
        """Add full ``rows`` to the master, with their entries over the master's columns."""
        lp = self.lp
        self.rounds += 1
        self._take_rows(rows)
        position, local = _spans(lp.start, rows)
        cols = self.master_col[lp.index[position]]
        inside = cols >= 0
        local, cols, values = local[inside], cols[inside], lp.value[position][inside]
        starts = np.zeros(rows.size, dtype=np.int32)
        starts[1:] = np.cumsum(np.bincount(local, minlength=rows.size)[:-1])
        self.h.addRows(rows.size, lp.row_lower[rows], lp.row_upper[rows], int(cols.size), starts,
                       cols.astype(np.int32), values)

    def _rescuing(self) -> np.ndarray:
        """Left-out options that could make an infeasible master feasible (Farkas pricing).
        HiGHS's dual ray y proves the master infeasible; an option whose column has
        ``y . a = 0`` leaves that proof intact, so only the others can help, and when there are
        none the proof holds for the full LP: it is infeasible too. Without a ray, every option
        goes in (as the full LP would have it)."""
        lp, n = self.lp, self.lp.n_pairs
        _, has_ray, ray = self.h.getDualRay()
        if not has_ray:
            return np.flatnonzero(~self.inside[:n])
        y = np.zeros(lp.n_rows)
        y[self.rows] = np.asarray(ray, dtype=np.float64)
        moved = np.abs(_transposed(lp, y)[0][:n])
        scale = max(1.0, float(np.abs(y).max()))
        return self._most(np.flatnonzero(~self.inside[:n] & (moved > 1e-9 * scale)), -moved)

    def _most(self, out: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Of the options ``out``, up to :data:`ADDED_OPTIONS` per young person, least ``key``
        first."""
        if out.size == 0:
            return out
        order = np.lexsort([key[out], self.referral[out]])
        grouped = self.referral[out][order]
        first = np.r_[0, np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]
        rank = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
        return np.sort(out[order[rank < ADDED_OPTIONS]])

    def _entering(self, reduced: np.ndarray) -> np.ndarray:
        """Per young person, up to :data:`ADDED_OPTIONS` left-out options that improve the LP,
        most improving first."""
        n = self.lp.n_pairs
        return self._most(np.flatnonzero(~self.inside[:n] & (reduced[:n] < -PRICE_TOLERANCE)), reduced)

    def _add(self, cols: np.ndarray, c: np.ndarray) -> None:
        self.rounds += 1
        starts, rows, values = self._entries(cols)
        self.h.addCols(cols.size, c[cols], self.lp.col_lower[cols], self.lp.col_upper[cols], int(rows.size),
                       starts, rows, values)
        self.master_col[cols] = self.columns.size + np.arange(cols.size)
        self.inside[cols] = True
        self.columns = np.concatenate([self.columns, cols])


def exact_fractional(lp: _LP, pairs: pd.DataFrame, side: Side, cost: np.ndarray, sense: str, bound: float,
                     y: np.ndarray, *, node_limit: int = 0) -> tuple[np.ndarray | None, float, str]:
    """Close a fractional level exactly: is there a proposal meeting the LP's integer bound?

    Reduced-cost fixing first: with ``d = c - A^T y`` (minimisation form) and the LP's dual
    bound ``LB``, every solution x has ``c.x >= LB + sum |d_i| * (distance of x_i from the bound
    d_i favours)``, so a solution with value ``T = ceil(LB)`` leaves every column with
    ``|d_i| > T - LB`` at that bound. On a dense queue this fixes all but a few hundred columns.
    The rest is an exact MIP (HiGHS, one thread, a deterministic node limit) with ``c.x <= T``.
    Returns (chosen rows or None, the bound, "proven" | "bound_raised" | "node_limit"): when the
    MIP proves nothing meets T, the next integer is a valid bound (this one rests on HiGHS's
    MIP verdict, not on a dual certificate). Measured (shared machine): level 1 of the dense
    300 x 1,500 queue closed in 10.5 s; at 1,000 x 5,000 beds it had not finished after two
    minutes, because the whole model goes to the MIP with the fixed columns still in it: hand it
    only the unfixed columns next. Hence off by default in :func:`level_bounds`."""
    c = cost if sense == "min" else -cost
    target = math.ceil(-bound) if sense == "max" else math.ceil(bound)  # minimisation form
    lower = max(dual_bound(lp, c, y), dual_bound(lp, c, -y))
    reduced = _reduced_cost(lp, c, y if dual_bound(lp, c, y) >= dual_bound(lp, c, -y) else -y)
    slack = target - lower + 1e-7  # the allowance, widened by a hair for the LP's own tolerance
    col_lower, col_upper = lp.col_lower.copy(), lp.col_upper.copy()
    col_upper[reduced > slack] = np.minimum(col_upper[reduced > slack], col_lower[reduced > slack])
    col_lower[reduced < -slack] = np.maximum(col_lower[reduced < -slack], col_upper[reduced < -slack])
    h = quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("time_limit", _INF)
    h.setOptionValue("mip_max_nodes", int(node_limit))
    h.setOptionValue("mip_abs_gap", 0.5)  # integer objective: within 0.5 is proven
    h.passModel(lp.n_cols, lp.n_rows, int(lp.index.size), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMinimize), 0.0, c, col_lower, col_upper, lp.row_lower, lp.row_upper,
                lp.start[:-1], lp.index, lp.value, np.ones(lp.n_cols, dtype=np.int32))
    nz = np.flatnonzero(c)
    h.addRow(-_INF, float(target), int(nz.size), nz.astype(np.int32), c[nz])
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    to_level = (lambda v: float(v)) if sense == "min" else (lambda v: float(-v))
    if status == "Infeasible":
        return None, to_level(target + 1), "bound_raised"
    solution = h.getSolution()
    if status == "Optimal" and solution.value_valid:
        values = np.asarray(solution.col_value, dtype=np.float64)[: lp.n_pairs]
        rows, fractional = _integral_solution(values, pairs, side)
        if rows is not None and int(round(float(c[: lp.n_pairs][rows].sum()))) == target:
            return rows, bound, "proven"
    return None, bound, "node_limit"


def _reduced_cost(lp: _LP, c: np.ndarray, y: np.ndarray) -> np.ndarray:
    return c - _transposed(lp, _usable(lp, y))[0]


_STATUS = {
    "Optimal": "optimal", "Iteration limit reached": "iteration_limit", "Infeasible": "infeasible",
}


def _level_values(pairs: pd.DataFrame, rows: np.ndarray, policy: Policy) -> dict[str, int]:
    return {name: int(pairs[name].to_numpy(dtype=np.int64)[rows].sum()) for name, _ in levels(policy)}


def _integral_solution(values: np.ndarray, pairs: pd.DataFrame, side: Side) -> tuple[np.ndarray | None, int]:
    """The chosen rows when the LP's pair columns are all 0/1 and meet every side constraint
    (checked by the model's own test), and how many are fractional."""
    fractional = int(np.count_nonzero(np.abs(values - np.round(values)) > INTEGRAL_TOLERANCE))
    if fractional:
        return None, fractional
    rows = np.flatnonzero(values > 0.5)
    if constraints.breaches(pairs.iloc[rows], side):
        return None, 0
    return rows, 0


def _keeps(mine: Mapping[str, int], out: Mapping[str, LevelBound], open_at: Mapping[str, int]) -> bool:
    """Every earlier level at its proven optimum, and every open one no worse than it is held."""
    for k, lv in out.items():
        if k in open_at:
            if (mine[k] < open_at[k]) if lv.sense == "max" else (mine[k] > open_at[k]):
                return False
        elif mine[k] != lv.proven:
            return False
    return True


def level_bounds(
    pairs: pd.DataFrame,
    side: Side,
    policy: Policy,
    *,
    incumbent: Iterable[int] | None = None,
    incumbent_objective: Mapping[str, int] | None = None,
    iteration_limit: int = ITERATION_LIMIT,
    exact: bool = False,
    node_limit: int = NODE_LIMIT,
    rounder: "Callable[..., Iterable[int] | None] | None" = None,
    proven: Mapping[str, int] | None = None,
) -> Relaxation:
    """Certified bounds per objective level from the LP relaxation of the engine's model.

    ``pairs``: scored, indexed 0..n-1 exactly as :func:`matching.model.solve` receives them (the
    engine's ``kept``); ``side``: :func:`matching.constraints.side_data`. ``incumbent``: row
    positions of a feasible proposal (checked), or ``incumbent_objective`` its value per level:
    a level whose bound it meets is proven, so the next level is bounded too.
    ``iteration_limit``: simplex iterations per level (deterministic). ``exact``: when a level's
    LP is fractional and no incumbent meets its bound, try to close it with
    :func:`exact_fractional` (at most ``node_limit`` branch-and-bound nodes). ``rounder(values,
    reduced, lower, name, earlier, open_levels)``: a proposal from a fractional level (see
    ``LevelBound``); ``earlier`` the values earlier levels are held at, ``open_levels`` those of
    them held at a proposal's value, unproven (a proposal need only be no worse there).
    ``proven``: leading levels the caller has proven at these values (its incumbent meets a
    bound of its own): held at them, not solved again."""
    started = time.perf_counter()
    pairs = pairs.reset_index(drop=True)
    known = dict(incumbent_objective or {})
    keep = np.zeros(0, dtype=np.int64)
    if incumbent is not None:
        keep = np.fromiter((int(i) for i in incumbent), dtype=np.int64)
        found = constraints.breaches(pairs.iloc[keep], side)
        if found:
            raise ValueError(f"the incumbent breaks a side constraint: {found[0].detail}")
        known = _level_values(pairs, keep, policy)
    lp = build_lp(pairs, side)
    out: dict[str, LevelBound] = {}
    name_of = f"highspy {metadata.version('highspy')} dual simplex"
    if lp.infeasible:
        for name, sense in levels(policy):
            out[name] = LevelBound(name, sense, math.nan, math.nan, "infeasible", False, None, None, 0, 0, 0.0)
        return Relaxation(out, name_of, time.perf_counter() - started, lp.n_rows, lp.n_cols, int(lp.index.size),
                          lp.infeasible)
    master = _Master(lp, pairs, policy, iteration_limit, keep)
    build_seconds = time.perf_counter() - started
    shape = (lp.n_rows, lp.n_cols, int(lp.index.size))
    elsewhere = dict(proven or {})
    proven = True
    open_at: dict[str, int] = {}  # earlier levels held at a proposal's value, not at a proven one
    for name, sense in levels(policy):
        if not proven and not open_at:
            out[name] = LevelBound(name, sense, math.nan, math.nan, "not_reached", False, None, None, 0, 0, 0.0)
            continue
        t = time.perf_counter()
        cost = np.zeros(lp.n_cols)
        cost[: lp.n_pairs] = pairs[name].to_numpy(dtype=np.float64)
        if name in elsewhere and known.get(name) == elsewhere[name] and name != levels(policy)[-1][0]:
            # Proven by the caller (a bound its incumbent meets): held, not solved again.
            value = int(elsewhere[name])
            out[name] = LevelBound(name, sense, float(value), math.nan, "proven_elsewhere", False, None, value, 0,
                                   0, 0.0)
            master.hold(cost, sense, value)
            continue
        status, y, values, iterations, objective = master.solve(cost if sense == "min" else -cost)
        bound, lp_objective, rows, fractional = math.nan, math.nan, None, 0
        reduced, lower = None, math.nan
        if status in ("optimal", "iteration_limit") and y is not None:
            bound, lower, read = _certified(lp, cost, sense, y)
            reduced = _reduced_cost(lp, cost if sense == "min" else -cost, read)[: lp.n_pairs].astype(np.float32)
        if status == "optimal" and values is not None:
            lp_objective = objective * (1 if sense == "min" else -1)
            rows, fractional = _integral_solution(values, pairs, side)
        else:
            status = "iteration_limit" if status == "optimal" else status
        exact_status = None
        if rows is None and fractional and exact and not math.isnan(bound) and known.get(name) != bound:
            rows, bound, exact_status = exact_fractional(lp, pairs, side, cost, sense, bound, y,
                                                         node_limit=node_limit)
        rounded = None
        if (rows is None and rounder is not None and status == "optimal" and not math.isnan(bound)
                and known.get(name) != bound):
            # A proposal near the fractional optimum (the caller keeps its integral part and
            # decides the rest exactly): if it meets the bound, this level is proven and the
            # next level's LP can go on from this one, warm.
            earlier = {k: lv.proven for k, lv in out.items()} | open_at
            found = rounder(values, reduced, lower, name, earlier, open_levels=frozenset(open_at))
            if found is not None:
                found = np.fromiter((int(i) for i in found), dtype=np.int64)
                if not constraints.breaches(pairs.iloc[found], side):
                    mine = _level_values(pairs, found, policy)
                    if _keeps(mine, out, open_at):
                        rounded = tuple(sorted(int(i) for i in found))
                        if (mine[name] >= known.get(name, mine[name] - 1) if sense == "max"
                                else mine[name] <= known.get(name, mine[name] + 1)):
                            known = mine
        value = None
        integral = False
        if rows is not None:
            mine = _level_values(pairs, rows, policy)
            # Proven when it meets the bound and keeps every earlier level at its optimum.
            integral = mine[name] == bound and all(mine[k] == lv.proven for k, lv in out.items())
        if integral:
            value = int(bound)
        elif not math.isnan(bound) and known.get(name) == bound:
            value = int(bound)
        if open_at:  # a bound on the optimum, but no proof: an earlier level is open
            value, integral = None, False
        out[name] = LevelBound(name, sense, bound, lp_objective, status, integral,
                               tuple(int(i) for i in rows) if integral else None, value, fractional,
                               iterations, time.perf_counter() - t, exact_status,
                               values.astype(np.float32) if status == "optimal" else None, rounded,
                               reduced, lower)
        proven = value is not None and not open_at
        if proven and name != levels(policy)[-1][0]:
            master.hold(cost, sense, value)
        elif name != levels(policy)[-1][0] and name in known and not math.isnan(bound) \
                and all(known.get(k) == lv.proven for k, lv in out.items() if k != name and lv.proven is not None):
            # Unproven, but a proposal keeping the earlier optima has this level at known[name],
            # so the lexicographic optimum has it at most that (at least, when maximised):
            # holding it there keeps the optimum inside the next level's LP, whose bound is then
            # a valid bound on the optimum's next level too (a later level is never left
            # without one while a proposal exists).
            master.hold(cost, sense, int(known[name]))
            open_at[name] = int(known[name])
    return Relaxation(out, name_of, build_seconds, *shape)


def measure_floors(pairs: pd.DataFrame, side: Side, policy: Policy, names: Iterable[str], *,
                   iteration_limit: int = ITERATION_LIMIT) -> tuple[dict[str, float], int]:
    """The fewest each headline measure (``matching.measures``, all minimised here) can be over
    every proposal keeping ``side``, its limits included (typically placements held at their
    best): a certified lower bound per measure from the LP's duals (weak duality, rounded up:
    every coefficient is an integer), +inf when no proposal keeps ``side`` at all, NaN when
    the LP gave no duals. A floor above practice's figure proves that no proposal placing as
    many holds that measure, so the engine lets it go without trying (each try is an LP with
    dense rows, measured at 60-120 s on the 5,000 x 20,000-bed queue). Returns (floors,
    simplex iterations used)."""
    pairs = pairs.reset_index(drop=True)
    names = list(names)
    lp = build_lp(pairs, side)
    if lp.infeasible:
        return dict.fromkeys(names, _INF), 0
    master = _Master(lp, pairs, policy, iteration_limit, np.zeros(0, dtype=np.int64))
    per_pair = measures.coefficients(pairs)
    floors: dict[str, float] = {}
    used = 0
    for name in names:
        cost = np.zeros(lp.n_cols)
        cost[: lp.n_pairs] = per_pair[name].astype(np.float64)
        master.iteration_limit = max(1, int(iteration_limit) - used)
        status, y, _, iterations, _ = master.solve(cost)
        used += iterations
        if status == "infeasible":
            return dict.fromkeys(names, _INF), used  # the full LP is: nothing keeps ``side``
        floors[name] = math.nan if y is None else _certified(lp, cost, "min", y)[0]
        if used >= iteration_limit:
            break
    return {n: floors.get(n, math.nan) for n in names}, used
