"""The CP-SAT model over the eligible pairs only: one Boolean per pair, the side constraints
from :mod:`matching.constraints`, and the policy's objective.

Lexicographic objective. The levels (urgency-weighted placements, then penalty, then weekly
cost) are folded into one integer objective with the same exact weights as the min-cost flow
(``matching.flow.fold_weights``: no amount of a later level outweighs one unit of an earlier
one), and solved in ONE CP-SAT solve whenever every possible objective value stays below 2^53
(so the LP's doubles hold it exactly). This is much faster than solving the levels in turn: on
a 300-referral queue with binding side constraints, 0.6-1.3 s against 2.7-6 s for three
stages, because presolve, LP and search run once. When the fold would be too large (very big
queues) the engine falls back to stages: level 1 alone, then levels 2+3 folded (or one by one),
each holding the previous levels (>= / <= their values) and hinted with the previous solution.
Per-level bounds are recovered from a folded stage's bound exactly (see :func:`split_bound`).
Weighted mode is one solve minimising pounds.

Parameters: ``linearization_level=2`` (the LP of an assignment is strong; it does the proving),
the policy's time limit shared by the stages (a stage gets the remaining time divided by the
stages left), ``random_seed`` from the policy.

Workers and determinism: ``policy.solver.workers = 0`` (the default) runs ONE worker. Measured
on this model (300 x 1,500 beds, 2 cores), a single LP-driven worker proves the optimum in about
0.6 s while 2 workers take 16 s with ``interleave_search`` (the deterministic parallel mode) and
do not finish a stage in 20 s without it: the portfolio starves the LP worker that closes the
gap. One worker is also deterministic by construction (a sequential search with a fixed seed).
An explicit ``workers: N > 1`` is honoured, with ``interleave_search`` on so that the parallel
search stays a function of the input alone. Either way, a run that ends by proof (OPTIMAL) is
reproducible, and so is one cut off by its time limit, which is counted in CP-SAT's deterministic
time (see ``parameters``); only the wall-clock safety net is not, and a stage it stops says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching import constraints
from matching.constraints import Side, Vars
from matching.flow import fold_weights
from matching.policy import Policy
from matching.scoring import levels

FOLD_LIMIT = 2**53  # every objective value exactly representable as a double
PRESOLVE = False  # measured: presolve costs more than it saves on this model (0.6 s vs 1.3 s)
# Measured on 300 x 1,500: probing at the root takes 0.2-0.3 s and fixes 12 of 12,000 Booleans;
# the LP does the proving here, so it is switched off (solve 0.55-0.7 s against 0.9-1.0 s).
PROBING_LEVEL = 0

_STATUS = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.UNKNOWN: "UNKNOWN",
    cp_model.MODEL_INVALID: "MODEL_INVALID",
}


class ModelInfeasible(Exception):
    """No assignment meets the hard side constraints (with no locks or budget this cannot
    happen: placing nobody is always feasible)."""


class ModelTimeout(Exception):
    """The first stage found no solution within the time limit (``stages``: what was tried)."""

    def __init__(self, message: str, stages: list | None = None) -> None:
        super().__init__(message)
        self.stages = stages or []


@dataclass
class StageReport:
    name: str  # the levels this solve folds, e.g. "reward+penalty+cost"
    sense: str  # "max" | "min"
    status: str  # CP-SAT's status name
    objective: int | None
    best_bound: float | None
    gap: float | None  # |objective - bound| / max(1, |objective|)
    seconds: float
    time_limit: float  # in deterministic time
    deterministic_time: float = 0.0  # what the solve used of it
    stopped_by_clock: bool = False  # the wall-clock safety net ended it: not repeatable


@dataclass
class ModelSolution:
    chosen: pd.DataFrame  # chosen pair rows (row labels of the pairs given)
    status: str  # OPTIMAL when every stage proved optimality, else FEASIBLE
    objective: dict[str, int]
    best_bound: dict[str, float]
    gap: dict[str, float]
    stages: list[StageReport] = field(default_factory=list)
    seconds: float = 0.0
    build_seconds: float = 0.0


@dataclass(frozen=True)
class Stage:
    """One CP-SAT solve: minimise (or maximise) ``coeffs . x``, which folds ``levels`` with
    ``weights`` (signed: -W for a maximised level, +W for a minimised one)."""

    levels: tuple[str, ...]
    weights: tuple[int, ...]
    sense: str  # "max" | "min"
    coeffs: np.ndarray

    @property
    def name(self) -> str:
        return "+".join(self.levels)


def _fits(coeffs: np.ndarray, referral_codes: np.ndarray) -> bool:
    """Can every objective value (at most one pair per referral) be held exactly?"""
    if coeffs.size == 0:
        return True
    worst = np.zeros(int(referral_codes.max()) + 1, dtype=object)
    for code, c in zip(referral_codes, coeffs, strict=True):
        worst[code] = max(worst[code], abs(int(c)))
    return sum(worst) < FOLD_LIMIT


def plan(pairs: pd.DataFrame, side: Side, policy: Policy) -> list[Stage]:
    """The CP-SAT solves for the policy's objective, folded as far as stays exact."""
    if policy.mode == "weighted":
        return [Stage(("pounds",), (1,), "min", pairs["pounds"].to_numpy(dtype=np.int64))]
    reward, penalty, cost = (pairs[c].to_numpy(dtype=np.int64) for c in ("reward", "penalty", "cost"))
    _, codes = np.unique(pairs["referral_id"].to_numpy(dtype=object), return_inverse=True)
    beds = sum(max(0, side.beds.get(str(v), 0)) for v in set(pairs["vacancy_id"]))
    k = min(len(set(pairs["referral_id"])), beds)
    m1, m2, _ = fold_weights(reward, penalty, cost, codes, k)
    folded = [-int(r) * m1 + int(p) * m2 + int(c) for r, p, c in zip(reward, penalty, cost, strict=True)]
    if _fits(np.array(folded, dtype=object), codes):
        return [Stage(("reward", "penalty", "cost"), (-m1, m2, 1), "min", np.array(folded, dtype=np.int64))]
    first = Stage(("reward",), (-1,), "max", reward)
    lower = penalty * np.int64(m2) + cost  # m2 * max penalty < 2**53 is checked next
    if _fits(penalty.astype(object) * m2 + cost.astype(object), codes):
        return [first, Stage(("penalty", "cost"), (m2, 1), "min", lower)]
    return [first, Stage(("penalty",), (1,), "min", penalty), Stage(("cost",), (1,), "min", cost)]


def split_bound(stage: Stage, bound: float | None, found: dict[str, int]) -> dict[str, float]:
    """Per-level bounds from a folded stage's bound, exactly.

    With exact weights the part of the folded value below level i lies in [0, W_i), so a lower
    bound B on the folded minimum gives, for the first level, max-level <= ceil(-B / W) or
    min-level >= floor(B / W). A later level's bound means something only when the levels
    above it are proven (their bound equals the value found); otherwise it is NaN."""
    out = dict.fromkeys(stage.levels, float("nan"))
    if bound is None or math.isnan(bound):
        return out
    if len(stage.levels) == 1:
        out[stage.levels[0]] = float(bound)
        return out
    rest = int(round(bound))
    for level, w in zip(stage.levels, stage.weights, strict=True):
        b = _ceil_div(-rest, -w) if w < 0 else rest // w  # max level: upper bound; min: lower
        out[level] = float(b)
        if b != found.get(level):
            break
        rest -= w * found[level]
    return out


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def workers(policy: Policy) -> int:
    """CP-SAT workers: the policy's number, and one when it says 0 (see the module notes)."""
    return policy.solver.workers or 1


# The time limit is spent in CP-SAT's deterministic time (a count of work done, about a second
# of this machine's time per unit when idle), not on the wall clock: a wall-clock deadline
# stops the search wherever a busy machine has got to, so the same queue gave different
# proposals idle and loaded. The wall clock is only a safety net, several times wider, for a
# machine so loaded that determinism must give way to an answer; a run it stops says so.
WALL_CLOCK_SAFETY = 4.0
WALL_CLOCK_FLOOR = 10.0  # seconds: a short limit on a loaded machine still ends by its work


def parameters(solver: cp_model.CpSolver, policy: Policy, time_limit: float) -> None:
    p = solver.parameters
    p.linearization_level = 2  # the LP of an assignment is strong: use it fully
    p.max_deterministic_time = max(0.01, time_limit)
    p.max_time_in_seconds = max(WALL_CLOCK_FLOOR, time_limit * WALL_CLOCK_SAFETY)
    p.num_workers = workers(policy)
    p.random_seed = policy.solver.seed
    p.interleave_search = p.num_workers > 1  # deterministic parallel search when parallel
    p.cp_model_presolve = PRESOLVE
    p.cp_model_probing_level = PROBING_LEVEL
    p.log_search_progress = False


def build(pairs: pd.DataFrame, side: Side) -> Vars:
    """The CP-SAT model with every side constraint (no objective yet). ``pairs`` is scored and
    indexed 0..n-1 (row i is ``x[i]``)."""
    model = cp_model.CpModel()
    x = model.new_bool_var_series("x", pd.RangeIndex(len(pairs))).tolist() if len(pairs) else []
    vars = Vars(model=model, pairs=pairs, x=x)
    for module in constraints.MODULES:
        module.build(vars, side)
    return vars


def _hint(vars: Vars, chosen_rows: Iterable[int]) -> None:
    """A complete hint, written to the model's proto in two bulk copies (add_hint per variable
    costs 0.04 s at 12,000 pairs)."""
    chosen = {int(i) for i in chosen_rows}
    vars.model.clear_hints()
    values = np.zeros(len(vars.x), dtype=np.int64)
    if chosen:
        values[np.fromiter(chosen, np.int64, len(chosen))] = 1
    indices = [var.index for var in vars.x] + [var.index for var, _ in vars.aux]
    hint = vars.model.proto.solution_hint
    hint.vars.extend(indices)
    hint.values.extend(values.tolist() + [int(value_of(chosen)) for _, value_of in vars.aux])


def _expr(vars: Vars, coeffs: np.ndarray):
    nonzero = np.flatnonzero(coeffs)
    if nonzero.size == 0:
        return 0
    return cp_model.LinearExpr.weighted_sum([vars.x[i] for i in nonzero], [int(coeffs[i]) for i in nonzero])


def _objective(vars: Vars, stage: Stage) -> None:
    """Set the stage's objective. A minimisation is written straight into the proto (one bulk
    copy instead of building a Python expression of every term)."""
    if stage.sense == "max":
        vars.model.maximize(_expr(vars, stage.coeffs))
        return
    vars.model.clear_objective()
    nonzero = np.flatnonzero(stage.coeffs)
    objective = vars.model.proto.objective
    objective.vars.extend([vars.x[i].index for i in nonzero])
    objective.coeffs.extend(stage.coeffs[nonzero].tolist())


def solve(
    pairs: pd.DataFrame,
    side: Side,
    policy: Policy,
    *,
    hint: Iterable = (),
    fixed: Iterable = (),
    time_limit: float | None = None,
) -> ModelSolution:
    """Solve the policy's objective over scored ``pairs``. ``hint``: labels of the pairs of a
    starting solution; ``fixed``: labels of pairs known to be in every optimal solution. The
    chosen rows keep the labels of ``pairs``."""
    started = time.perf_counter()
    labels = pairs.index
    position = {label: i for i, label in enumerate(labels)}
    pairs = pairs.reset_index(drop=True)
    vars = build(pairs, side)
    for label in fixed:
        vars.model.add(vars.x[position[label]] == 1)
    stages = plan(pairs, side, policy)
    build_seconds = time.perf_counter() - started
    total_limit = policy.solver.time_limit_seconds if time_limit is None else time_limit
    used = 0.0  # deterministic time spent by earlier stages

    best_rows: list[int] | None = None
    current = [position[label] for label in hint]
    reports: list[StageReport] = []
    bounds: dict[str, float] = {}
    for k, stage in enumerate(stages):
        _objective(vars, stage)
        _hint(vars, current)
        solver = cp_model.CpSolver()
        limit = max(0.05, total_limit - used) / (len(stages) - k)  # unused time moves on
        parameters(solver, policy, limit)
        stage_start = time.perf_counter()
        status = solver.solve(vars.model)
        spent = float(solver.response_proto.deterministic_time)
        used += spent
        # Stopped by the clock, not by its work limit: it ran out the safety net's seconds.
        by_clock = (status in (cp_model.FEASIBLE, cp_model.UNKNOWN)
                    and time.perf_counter() - stage_start >= solver.parameters.max_time_in_seconds * 0.99)
        name = _STATUS.get(status, str(status))
        has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        objective = int(round(solver.objective_value)) if has_solution else None
        bound = float(solver.best_objective_bound) if has_solution or status == cp_model.UNKNOWN else None
        gap = None
        if has_solution and bound is not None:
            gap = 0.0 if status == cp_model.OPTIMAL else abs(objective - bound) / max(1, abs(objective))
        reports.append(StageReport(stage.name, stage.sense, name, objective, bound, gap,
                                   time.perf_counter() - stage_start, limit, spent, by_clock))
        if status == cp_model.INFEASIBLE:
            raise ModelInfeasible("no assignment meets the side constraints, locks and budget together")
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT says the model is invalid: {vars.model.validate()}")
        if not has_solution:
            if best_rows is None:
                raise ModelTimeout(f"no solution within {limit:.2f} s ({stage.name})", reports)
            break  # keep the previous stage's solution; later levels are unproven
        values = solver.boolean_values(pd.Series(vars.x)).to_numpy() if vars.x else np.zeros(0, dtype=bool)
        rows = [i for i, v in enumerate(values) if v]
        if constraints.breaches(pairs.iloc[rows], side):
            # Never trust a solution blindly (CP-SAT 9.15 returns garbage values when
            # interleave_search meets stop_after_first_solution, for one): keep what we had.
            reports[-1].status = "INVALID_SOLUTION"
            if best_rows is None:
                raise ModelTimeout(f"CP-SAT returned a solution that breaks a side constraint ({stage.name})",
                                   reports)
            break
        best_rows = rows
        current = best_rows
        found = {level: int(pairs.loc[best_rows, level].sum()) for level in stage.levels}
        bounds.update(split_bound(stage, bound, found))
        if k + 1 < len(stages):  # hold this stage for the next ones
            expr = _expr(vars, stage.coeffs)
            vars.model.add(expr >= objective if stage.sense == "max" else expr <= objective)

    chosen = pairs.iloc[best_rows].set_axis(labels[best_rows]) if best_rows else pairs.iloc[0:0]
    names = [level for level, _ in levels(policy)]
    objective = {level: int(chosen[level].sum()) if len(chosen) else 0 for level in names}
    all_optimal = len(reports) == len(stages) and all(r.status == "OPTIMAL" for r in reports)
    best_bound = {level: bounds.get(level, float("nan")) for level in names}
    if all_optimal:
        best_bound = {level: float(v) for level, v in objective.items()}
    gap = {
        level: (0.0 if all_optimal else
                float("nan") if math.isnan(best_bound[level]) else
                abs(objective[level] - best_bound[level]) / max(1, abs(objective[level])))
        for level in names
    }
    return ModelSolution(
        chosen=chosen,
        status="OPTIMAL" if all_optimal else "FEASIBLE",
        objective=objective,
        best_bound=best_bound,
        gap=gap,
        stages=reports,
        seconds=time.perf_counter() - started,
        build_seconds=build_seconds,
    )
