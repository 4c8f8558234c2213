"""One panel run end to end: eligibility, scoring, the flow, CP-SAT and the LP certificate,
then the comparison with one-at-a-time practice.

1. ``matching.eligibility`` turns the instance into eligible pairs (every hard rule applied).
2. ``matching.scoring`` gives each pair its integer objective terms.
3. Side constraints rule out pairs on their own (a resident they clash with, an intensive cap
   already full, a sibling group with no common property, another young person's lock).
4. The min-cost flow solves the assignment core exactly, with locked placements fixed first
   (their beds taken, their young people removed). If its solution meets every side constraint
   it is optimal, proven by the flow: CP-SAT is not called.
5. Otherwise, up to ``FULL_MODEL_PAIRS`` pairs, CP-SAT (the engine of record) solves the whole
   model warm-started from the flow's solution with what breaks a side constraint dropped; if
   its limit ends the search first, the LP relaxation of the same model certifies the gap.
   Above it, the LP relaxation (:mod:`matching.relaxation`, priced: only the options and rows
   that matter go to the simplex) goes first: an integral level is proven; at a fractional one
   the LP's reduced costs leave few pairs that any near-optimal proposal can use, and CP-SAT
   solves the whole model on those (:func:`_reduced`), a proof for every level from there when
   it lands within the reduced costs' reach; failing that, CP-SAT re-decides the young people
   around the fractional part (:func:`_round`) and neighbourhoods improve what is left.
6. Practice (:mod:`matching.practice`): the one-at-a-time proposal is made too, and where the
   engine's is worse on a headline measure the engine re-solves with the measures held no
   worse (on big queues it holds them from the start: the priced LP keeps that cheap), naming
   what it could not hold.
7. Every bound is valid for the model it speaks of (the flow's and the LP's hold with fewer
   constraints, so for the held model too); a level after an unproven one is bounded with
   that level held at the best proposal's value (the optimum is no worse there).
   Limits are deterministic (CP-SAT's deterministic time, the LP's iterations), so the same
   queue gives the same proposals on a busy machine.

The result is plain data (:class:`MatchResult`); explanations, alternatives, baselines and the
CLI are built on it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching import constraints, measures, model
from matching.constraints import Side, side_data
from matching.flow import FlowSolution, solve_flow
from matching.instance import Instance
from matching.policy import Policy
from matching.practice import HOLD_ORDER, Comparison
from matching.practice import practice as practice_choice
from matching.scoring import levels, score, totals


class MatchError(ValueError):
    """A panel run that cannot be answered as asked: the message names the lock, the rule or
    the constraint, so the panel can change it."""


@dataclass
class MatchResult:
    matches: pd.DataFrame  # the chosen pair rows with their score terms, sorted by referral_id
    unplaced: list[str]  # referral ids with no proposal, sorted
    status: str  # "OPTIMAL" | "FEASIBLE"
    objective: dict[str, int]  # per level of the policy's mode
    best_bound: dict[str, float]
    gap: dict[str, float]  # per level; 0.0 when proven optimal
    proven_by: str | None  # "min_cost_flow" | "cp_sat"; None when not proven (time limit)
    seconds: dict[str, float]  # eligibility, scoring, flow, cp_sat, total
    pair_count: int  # eligible pairs
    eligibility: object  # the Eligibility the run used (pairs, funnel, seconds)
    side_excluded: pd.DataFrame = field(default_factory=pd.DataFrame)  # referral_id, vacancy_id, reason
    flow_exact: bool = True
    flow_objective: dict[str, int] = field(default_factory=dict)  # the relaxation's optimum
    stages: list = field(default_factory=list)  # model.StageReport per CP-SAT stage
    model_pairs: int = 0  # pairs in the CP-SAT model (0: CP-SAT not run)
    # {"seconds", "gap": {level: gap}} each time the best proposal or a bound improved
    timeline: list = field(default_factory=list)
    practice: "Comparison | None" = None  # the proposal against one-at-a-time practice
    deterministic: bool = True  # False: the wall-clock safety net stopped a solve (see model)
    scored: pd.DataFrame | None = None  # the scored pairs the solvers used (side exclusions out)
    breaches: list[str] | None = None  # a baseline's broken side constraints (None: the engine's)


def _eligibility(instance: Instance, policy: Policy):
    from matching.eligibility import (
        eligible_pairs,  # lazily: the engine works on given pairs too
    )

    return eligible_pairs(instance, policy)


def _broken_rules(instance: Instance, policy: Policy, pairs: list[tuple[str, str]]) -> dict:
    # The eligibility rules' own verdict: the independent checker stays for tests and
    # benchmarks only, so the oracle the tests trust is never the product's code.
    from matching.eligibility import broken_rules

    return broken_rules(instance, policy, pairs)


def _check_locks(instance: Instance, policy: Policy, pairs: pd.DataFrame, side: Side) -> None:
    """Refuse locks that cannot all be honoured, naming them and why."""
    locks = list(side.locks)
    if not locks:
        return
    problems = []
    for r, n in sorted(Counter(r for r, _ in locks).items()):
        if n > 1:
            problems.append(f"{r} is locked to {n} vacancies ({', '.join(v for q, v in locks if q == r)})")
    for v, n in sorted(Counter(v for _, v in locks).items()):
        beds = side.beds.get(v)
        if beds is not None and n > beds:
            problems.append(f"{n} locks on {v}, which has {beds} free bed(s)")
    banned = [lock for lock in locks if lock in side.bans]
    problems += [f"lock {r} -> {v} is also banned" for r, v in banned]
    eligible = set(zip(pairs["referral_id"], pairs["vacancy_id"], strict=True))
    ineligible = [lock for lock in locks if lock not in eligible and lock not in side.bans]
    if ineligible:
        rules = _broken_rules(instance, policy, ineligible)
        for lock in ineligible:
            broken = rules.get(lock) or ["not an eligible pair"]
            problems.append(f"lock {lock[0]} -> {lock[1]} breaks {', '.join(broken)}")
    locked_to = dict(locks)
    for group, members in side.sibling_groups.items():
        homes = {side.property_of.get(locked_to[m]) for m in members if m in locked_to}
        if len(homes) > 1:
            problems.append(f"locks split sibling group {group} across {', '.join(sorted(map(str, homes)))}")
    if problems:
        raise MatchError("; ".join(problems))


def _refuse_excluded_locks(side: Side, excluded: pd.DataFrame) -> None:
    locks = set(side.locks)
    hit = [(r, v, why) for r, v, why in excluded[["referral_id", "vacancy_id", "reason"]].itertuples(index=False)
           if (r, v) in locks]
    if hit:
        raise MatchError("; ".join(f"lock {r} -> {v} cannot be honoured: {why}" for r, v, why in hit))


def _flow_with_locks(pairs: pd.DataFrame, instance: Instance, policy: Policy, side: Side) -> FlowSolution:
    """The flow optimum with locked placements fixed (their young people removed, their beds
    taken): exact for the relaxation with locks. ``chosen`` includes the locked pairs;
    ``folded``, ``optimum`` and ``reduced_cost`` (when set) cover the free pairs only."""
    if not side.locks:
        return solve_flow(pairs, instance, policy)
    locks = set(side.locks)
    is_locked = pd.Series([k in locks for k in zip(pairs["referral_id"], pairs["vacancy_id"], strict=True)],
                          index=pairs.index, dtype=bool)
    beds = dict(side.beds)
    for _, v in locks:
        beds[v] = beds.get(v, 0) - 1
    free = pairs[~pairs["referral_id"].isin({r for r, _ in locks})]
    flow = solve_flow(free, instance, policy, beds=beds)
    flow.chosen = pd.concat([pairs[is_locked], flow.chosen]).sort_index()
    flow.objective = {name: int(flow.chosen[name].sum()) if len(flow.chosen) else 0 for name, _ in levels(policy)}
    return flow


def _rows_of(pairs: pd.DataFrame, chosen: pd.DataFrame) -> pd.Index:
    """Labels in ``pairs`` of the chosen (referral, vacancy) pairs."""
    wanted = set(zip(chosen["referral_id"], chosen["vacancy_id"], strict=True))
    keys = zip(pairs["referral_id"], pairs["vacancy_id"], strict=True)
    return pairs.index[[k in wanted for k in keys]]


def _infeasible_reason(side: Side, pairs: pd.DataFrame, policy: Policy) -> str:
    locked = pairs.loc[_rows_of(pairs, pd.DataFrame(list(side.locks), columns=["referral_id", "vacancy_id"]))]
    parts = []
    if side.budget_pence is not None and len(locked):
        total = constraints.pence(locked["weekly_cost"]).sum() / 100
        if total * 100 > side.budget_pence:
            parts.append(f"the locked placements cost £{total:,.2f} a week, above the budget cap "
                         f"£{policy.weekly_budget_cap:,}")
    for b in constraints.breaches(locked, side):
        if b.constraint not in ("locks", "siblings", "budget"):  # support_hours: its detail says it
            parts.append(b.detail)
    if not parts:
        what = "the locks" + (" and the weekly budget cap" if side.budget_pence is not None else "")
        parts.append(f"{what} cannot all be met together with the side constraints")
    return "no proposal can honour the panel's choices: " + "; ".join(parts)


# Above this many pairs CP-SAT works on neighbourhoods of what the flow breaks, with everyone
# else held where the current proposal puts them. Measured: the whole model of 12,000 pairs
# (300 young people) is proven optimal in about a second; 45,000 pairs (1,000 young people) do
# not close the last level in 60 s, and at 250,000 pairs CP-SAT's LP has not finished its first
# pass by then.
FULL_MODEL_PAIRS = 25_000
NEIGHBOURHOOD_PAIRS = 8_000
# At most this many neighbourhoods per search: each costs Python work (holding everyone else)
# that CP-SAT's deterministic time does not count, so the count bounds it, deterministically.
MAX_NEIGHBOURHOODS = 24
# A proposal within this of its bound on every level is certified: nothing more is searched.
CERTIFIED_GAP = 0.001


class _Options:
    """Each young person's options and how many: the same for every neighbourhood of a search,
    so worked out once (at 5,000 young people, doing it per neighbourhood was a quarter of the
    search's time)."""

    def __init__(self, pairs: pd.DataFrame) -> None:
        self.of = pairs.groupby("referral_id")["vacancy_id"].agg(list).to_dict()
        self.size = pairs["referral_id"].value_counts().to_dict()


def _neighbourhood(pairs: pd.DataFrame, current: pd.DataFrame, seeds: set[str], side: Side,
                   known: _Options | None = None) -> set[str]:
    """Young people CP-SAT should reconsider around ``seeds``: whole sibling groups, then
    everyone placed where they could go instead, and so on, while the model stays small."""
    members = {m: g for g, ms in side.sibling_groups.items() for m in ms}
    chosen_at = current.groupby("vacancy_id")["referral_id"].agg(list).to_dict()
    known = known or _Options(pairs)
    options, size = known.of, known.size

    def with_groups(ids: set[str]) -> set[str]:
        return ids | {m for r in ids if r in members for m in side.sibling_groups[members[r]]}

    near = with_groups(set(seeds))
    frontier = set(near)
    while frontier:
        grown = with_groups({str(r) for q in sorted(frontier) for v in options.get(q, ()) for r in chosen_at.get(v, ())})
        frontier = grown - near
        if sum(size.get(r, 0) for r in near | frontier) > NEIGHBOURHOOD_PAIRS:
            break
        near |= frontier
    return near


def _held_side(side: Side, held: pd.DataFrame) -> Side:
    """The side constraints for the others once ``held`` placements are fixed: their beds are
    taken, they live in their homes (risks, intensive tier), their cost is spent."""
    beds = dict(side.beds)
    hours = dict(side.hours)
    residents = {p: list(r) for p, r in side.resident_risks.items()}
    intensive = dict(side.intensive_residents)
    for r, v, p, tier in held[["referral_id", "vacancy_id", "property_id", "tier"]].itertuples(index=False):
        beds[v] = beds.get(v, 0) - 1
        if v in hours:
            hours[v] -= side.hours_needed.get(str(tier), 0)
        if p in side.shared:
            residents.setdefault(p, []).append(side.risks.get(r, frozenset()))
            intensive[p] = intensive.get(p, 0) + (tier == "intensive")
    held_ids = set(held["referral_id"])
    budget = side.budget_pence
    if budget is not None and len(held):
        budget -= int(constraints.pence(held["weekly_cost"]).sum())
    spent = measures.of(held)  # the held placements' share of each measure held no worse
    by_council = constraints.councils.placed_by_council(held, side) if side.council_floors else {}
    return dataclasses.replace(
        side, beds=beds, hours=hours, resident_risks={p: tuple(r) for p, r in residents.items()},
        intensive_residents=intensive, budget_pence=budget,
        locks=tuple(lock for lock in side.locks if lock[0] not in held_ids),
        limits=tuple((name, limit - spent[name]) for name, limit in side.limits),
        council_floors=tuple((code, floor - by_council.get(code, 0)) for code, floor in side.council_floors),
    )


def _regret_seeds(pairs: pd.DataFrame, current: pd.DataFrame) -> list[set[str]]:
    """Young people in the order of what they could still gain on their own: unplaced ones with
    options first (by urgency), then the placed by how much better their best option scores.
    The seeds of an improving search once nothing is broken (see ``_solve_neighbourhoods``)."""
    best = pairs.groupby("referral_id", observed=True).agg(reward=("reward", "max"), penalty=("penalty", "min"))
    now = current.set_index("referral_id")[["reward", "penalty"]]
    now = now[~now.index.duplicated()]
    gain_reward = best["reward"] - now["reward"].reindex(best.index).fillna(0)
    gain_penalty = now["penalty"].reindex(best.index).fillna(0) - best["penalty"]
    gains = pd.DataFrame({"reward": gain_reward, "penalty": gain_penalty})
    gains = gains[(gains["reward"] > 0) | (gains["penalty"] > 0)]
    gains = gains.sort_values(["reward", "penalty"], ascending=False, kind="stable")
    return [{str(r)} for r in gains.index]


def _solve_neighbourhoods(pairs: pd.DataFrame, start: pd.DataFrame, seeds: list[set[str]], side: Side,
                          policy: Policy, time_limit: float,
                          report: Callable[[str, pd.DataFrame], None]) -> tuple[pd.DataFrame, list, int]:
    """Improve a feasible proposal one neighbourhood at a time: around each seed (the young
    people of a broken side constraint of the flow, or one with most to gain), CP-SAT re-decides
    a few hundred young people with everyone else held. Every step starts from a feasible
    proposal, so each only improves it."""
    # The budget is CP-SAT's deterministic time, not the clock: the same queue then gets the
    # same neighbourhoods and the same proposal however busy the machine is.
    budget = time_limit
    current, stages, largest = start, [], 0
    pending = list(seeds)
    rounds = 0
    known = _Options(pairs) if pending else None
    while pending and budget > 0.05 and rounds < MAX_NEIGHBOURHOODS:
        rounds += 1
        near = _neighbourhood(pairs, current, pending[0], side, known)
        pending = [p for p in pending if not p <= near]
        held = current[~current["referral_id"].isin(near)]
        local = _held_side(side, held)
        mine = pairs[pairs["referral_id"].isin(near)]
        mine = mine[constraints.exclusions(mine, local) == ""]
        hint = current[current["referral_id"].isin(near) & current.index.isin(mine.index)]
        largest = max(largest, len(mine))
        share = max(0.05, budget) / (len(pending) + 1)
        try:
            solution = model.solve(mine, local, _one_worker(policy), hint=hint.index, time_limit=share)
        except model.ModelTimeout as exc:
            budget -= _spent(exc.stages)
            continue  # keep the current proposal for these young people
        except model.ModelInfeasible:
            budget -= share
            continue
        budget -= _spent(solution.stages)
        stages.extend(solution.stages)
        current = pd.concat([held, solution.chosen]).sort_index()
        report("neighbourhood", current)
    return current, stages, largest


def _relaxation_bounds(flow: FlowSolution, objective: dict[str, int], policy: Policy) -> dict[str, float]:
    """What the exact flow (no side constraints) bounds, level by level: a later level only
    while the earlier ones match the relaxation's."""
    out = dict.fromkeys(objective, float("nan"))
    if not flow.exact:
        return out
    for name, _ in levels(policy):
        out[name] = float(flow.objective[name])
        if objective[name] != flow.objective[name]:
            break
    return out


def _tighter(a: float, b: float, sense: str) -> float:
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return min(a, b) if sense == "max" else max(a, b)


def _order_keys(column: pd.Series) -> np.ndarray:
    # Sorted categories (as eligibility writes them) order as their codes: no string per pair.
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.is_monotonic_increasing:
        return column.cat.codes.to_numpy()
    return column.astype(str).to_numpy(dtype=object)


def _sorted_by_referral_and_vacancy(pairs: pd.DataFrame) -> bool:
    r, v = _order_keys(pairs["referral_id"]), _order_keys(pairs["vacancy_id"])
    if len(r) < 2:
        return True
    before = (r[:-1] < r[1:]) | ((r[:-1] == r[1:]) & (v[:-1] < v[1:]))
    return bool(before.all())


def _one_worker(policy: Policy) -> Policy:
    """The policy with one CP-SAT worker, for the solves that may well be infeasible (held
    measures, the part of an LP left to decide): CP-SAT 9.15's interleaved parallel search
    aborts the process (a failed check in its search heuristics) on some infeasible models of
    this kind, and one worker is sequential and repeatable anyway."""
    return policy.model_copy(update={"solver": policy.solver.model_copy(update={"workers": 0})})


def _lexi(objective: dict[str, int], policy: Policy) -> tuple:
    """An objective as a tuple that compares the policy's way (bigger is better)."""
    return tuple(objective[n] if sense == "max" else -objective[n] for n, sense in levels(policy))


def _gaps(objective: dict[str, int], bound: dict[str, float], proven: bool) -> dict[str, float]:
    return {n: 0.0 if proven else float("nan") if math.isnan(bound[n]) else
            abs(objective[n] - bound[n]) / max(1, abs(objective[n])) for n in objective}


def _meets(objective: dict[str, int], bound: dict[str, float]) -> bool:
    return all(not math.isnan(bound[n]) and bound[n] == objective[n] for n in objective)


@dataclass
class _Search:
    """The best proposal so far with its bounds, and the run's timeline."""

    pairs: pd.DataFrame  # the kept pairs (index 0..n-1)
    side: Side
    policy: Policy
    started: float
    report: Callable[[str, pd.DataFrame], None]
    chosen: pd.DataFrame | None = None
    bound: dict[str, float] = field(default_factory=dict)
    proven_by: str | None = None
    timeline: list[dict] = field(default_factory=list)
    # Simplex iterations the whole run may still spend (shared with the held searches made from
    # this one): the LP's deterministic share of the time limit, however many LPs it takes.
    lp_iterations: list[int] = field(default_factory=lambda: [10**9])
    # Measure floors (relaxation.measure_floors) by the placements they were computed at: the
    # held-from-the-start check and the never-worse search ask the same question.
    floors: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def objective(self) -> dict[str, int]:
        return totals(self.chosen, self.policy)

    def offer(self, chosen: pd.DataFrame, stage: str) -> bool:
        """Keep ``chosen`` if it is feasible and better than the best so far."""
        if constraints.breaches(chosen, self.side):
            return False
        if self.chosen is not None and _lexi(totals(chosen, self.policy), self.policy) <= _lexi(self.objective, self.policy):
            return False
        self.chosen = chosen
        self.report(stage, chosen)
        self.mark()
        return True

    def tighten(self, bound: dict[str, float], by: str) -> None:
        """Take the tighter of each level's bounds; a proposal meeting them all is proven."""
        for name, sense in levels(self.policy):
            self.bound[name] = _tighter(self.bound.get(name, float("nan")), bound.get(name, float("nan")), sense)
        if self.proven_by is None and self.chosen is not None and _meets(self.objective, self.bound):
            self.proven_by = by
        self.mark()

    def certified(self, within: float = CERTIFIED_GAP) -> bool:
        """Every level within ``within`` of its bound (a certified gap, not a hope)."""
        if self.chosen is None:
            return False
        if self.proven_by is not None:
            return True
        gaps = _gaps(self.objective, {n: self.bound.get(n, float("nan")) for n in self.objective}, False)
        return all(g <= within for g in gaps.values())

    def certified_so_far(self, within: float = CERTIFIED_GAP) -> bool:
        """Every level with a bound within ``within`` of it (a level without one, NaN, is not
        counted: the LP that would bound it was not solved)."""
        if self.chosen is None:
            return False
        gaps = _gaps(self.objective, {n: self.bound.get(n, float("nan")) for n in self.objective},
                     self.proven_by is not None)
        return all(g <= within for g in gaps.values() if not math.isnan(g))

    def mark(self) -> None:
        if self.chosen is None:
            return
        names = [n for n, _ in levels(self.policy)]
        bound = {n: self.bound.get(n, float("nan")) for n in names}
        self.timeline.append({"seconds": time.perf_counter() - self.started,
                              "gap": _gaps(self.objective, bound, self.proven_by is not None)})


# The LP's work limit: simplex iterations per second of the run's time limit, for the whole run
# (every LP it solves draws on the same allowance) and for each call (its own share). Measured
# 3,000 to 13,000 a second on the dense queues here, so this keeps the LP near its share of the
# limit on a quiet machine, and exactly the same work on a busy one.
LP_ITERATIONS_PER_SECOND = 5_000
LP_MIN_ITERATIONS = 20_000  # however short the limit: a small queue's LP needs a few thousand


def _lp(search: _Search, stage: str, side: Side | None = None, *, budget: float = 0.0,
        stages: list | None = None, seconds: float = 10.0) -> bool:
    """Certify with the LP relaxation of the exact model (side constraints included): its bound
    per level, and its own solution when that is integral. When the deepest level solved is
    fractional and ``budget`` allows, CP-SAT solves the model on the pairs the LP's reduced
    costs leave (:func:`_reduced`, a proof when it closes) or, failing that, re-decides the
    young people around the fractional part (:func:`_round`). True when the best is proven."""
    from matching.relaxation import level_bounds

    side = side or search.side
    incumbent = None if search.chosen is None else [int(i) for i in search.chosen.index]
    n_levels = len(levels(search.policy))
    proofs: list[pd.DataFrame] = []

    latest = [incumbent]  # the best feasible proposal so far: CP-SAT's start when the LP's is not

    def rounder(values: np.ndarray, reduced, lower: float, name: str, earlier: dict, open_levels=frozenset()):
        tried = []
        if reduced is not None:
            found = _reduced(search.pairs, values, reduced, lower, name, earlier, side, search.policy,
                             budget / n_levels, stages, latest[-1], open_levels)
            if found is not None:
                chosen, proven = found
                if proven and not open_levels:  # with an earlier level open, the best there, not a proof
                    proofs.append(chosen)
                    latest.append([int(i) for i in chosen.index])
                    return chosen.index
                tried.append(chosen)
        # Unproven: CP-SAT on the reduced pairs may still be far from the LP (it starts from the
        # best so far, which need not be near this level's optimum: measured at 5,000 young
        # people, four times the LP's penalty). The LP's own rounding is near it by design. On a
        # large queue the reduced pairs went to the MIP, whose answer is near the LP already.
        found = None if tried and len(search.pairs) > FULL_MODEL_PAIRS else \
            _round(search.pairs, values, side, search.policy, budget / n_levels, stages, reduced)
        if found is not None:
            tried.append(found)
        feasible = [c for c in tried if not constraints.breaches(c, side)]
        if not feasible:
            return None if found is None else found.index
        best = max(feasible, key=lambda c: _lexi(totals(c, search.policy), search.policy))
        latest.append([int(i) for i in best.index])
        return best.index

    left = search.lp_iterations
    if left[0] <= 0:
        return search.proven_by is not None  # the run's LP work is spent
    relaxed = level_bounds(search.pairs, side, search.policy, incumbent=incumbent,
                           proven=_proven_levels(search), rounder=rounder if budget > 0.05 else None,
                           iteration_limit=min(left[0], max(LP_MIN_ITERATIONS,
                                                            int(seconds * LP_ITERATIONS_PER_SECOND))))
    left[0] -= sum(level.iterations for level in relaxed.levels.values())
    for level in relaxed.levels.values():  # an integral or rounded level optimum is a proposal too
        for rows in (level.solution, level.rounded):
            if rows is not None:
                search.offer(search.pairs.iloc[list(rows)], stage)
    search.tighten(relaxed.bound, "linear_relaxation")
    for chosen in proofs:
        search.offer(chosen, stage)
        if search.proven_by is None and _lexi(totals(chosen, search.policy), search.policy) \
                == _lexi(search.objective, search.policy):
            search.proven_by = "cp_sat_reduced"
            search.tighten({k: float(v) for k, v in search.objective.items()}, "cp_sat_reduced")
    return search.proven_by is not None


def _proven_levels(search: _Search) -> dict[str, int]:
    """The leading levels the best proposal already meets a bound on (the flow's, typically:
    every young person placed who can be): the LP need not solve them again."""
    out: dict[str, int] = {}
    if search.chosen is None:
        return out
    objective = search.objective
    for name, _ in levels(search.policy):
        if search.bound.get(name, float("nan")) != objective[name]:
            break
        out[name] = objective[name]
    return out


# CP-SAT on the pairs the LP's reduced costs leave: first those within REDUCED_SLACK of the
# LP's bound (penalty points: 10 a mile), at most REDUCED_FIRST of them (or REDUCED_FIRST_EACH
# per young person, when more: every young person placed has an option at reduced cost 0, so
# a fixed number shuts out a large queue however tight its LP is: measured at 5,000 young
# people, more than 5,000 pairs tied at 0); when its answer is further from the bound than
# that, once more on every pair within that distance, at most REDUCED_PAIRS (or
# REDUCED_PAIRS_EACH per young person) (measured: the whole model of 12,000 pairs is proven in
# about a second).
REDUCED_FIRST = 5_000
REDUCED_PAIRS = 25_000
REDUCED_FIRST_EACH = 4
REDUCED_PAIRS_EACH = 8
REDUCED_SLACK = 50.0


def _within(reduced: np.ndarray, slack: float, most: int) -> float:
    """The largest slack up to ``slack`` that keeps at most ``most`` pairs."""
    if int(np.count_nonzero(reduced <= slack)) <= most:
        return slack
    return float(np.partition(reduced, most)[most]) - 1e-6


def _reduced(pairs: pd.DataFrame, values: np.ndarray, reduced: np.ndarray, lower: float, name: str,
             earlier: dict[str, int | None], side: Side, policy: Policy, budget: float,
             stages: list | None, incumbent: list[int] | None,
             open_levels: frozenset = frozenset()) -> tuple[pd.DataFrame, bool] | None:
    """The exact model on the pairs whose reduced cost is at most s, with the proof it carries.

    With the LP's duals at this level (earlier levels held at their optima), every proposal
    keeping the earlier optima has this level's value (minimisation form) at least ``lower``
    plus the reduced costs of its pairs. So a proposal within s of ``lower`` uses only pairs
    with reduced cost at most s, and every lexicographic optimum is such a proposal when the
    optimum is within s. CP-SAT then solves the whole model (every level) on those pairs: if it
    proves an optimum that keeps the earlier optima and is within s of ``lower`` at this level,
    it is the optimum of the whole queue, at every level from here on. When its optimum is
    further than s, that distance is the s of a second, final solve (nothing better can use a
    pair beyond it). CP-SAT starts from the LP's optimum rounded (its pairs at 1/2 or more)
    when that keeps every rule, else from ``incumbent``: measured on the dense 1,000 x 2,000-row
    queue, from the LP's it needs a third of the work it needs from one-at-a-time practice's,
    but a start that breaks a rule costs CP-SAT seconds of repair first. Extra pairs (the LP's
    own, the start's) never weaken the proof. Returns (proposal, proven), or None when CP-SAT
    found nothing or the reduced costs single out too little (a level where most options tie,
    such as placements, whose reward is the young person's own). ``open_levels``: earlier
    levels held at a proposal's value, not proven (``relaxation.level_bounds``): a proposal
    need only be no worse there, and "proven" is then the best under that hold, not a proof."""
    sense = dict(levels(policy))[name]
    people = int(pairs["referral_id"].nunique())
    slack = _within(reduced, REDUCED_SLACK, max(REDUCED_FIRST, REDUCED_FIRST_EACH * people))
    if slack < 0:
        return None
    hint = [int(i) for i in np.flatnonzero(values > 0.5)]
    if constraints.breaches(pairs.iloc[hint], side) and incumbent:
        hint = list(incumbent)
    best = None
    for attempt in range(2):
        # The reduced costs are kept as float32: a pair's own rounding is far below this margin
        # (2^-24 of a cost near s), so no pair within s is ever left out.
        keep = (reduced <= slack + 1e-3) | (values > 1e-6)
        keep[np.asarray(hint, dtype=np.int64)] = True
        mine = pairs[keep]
        solution = _exact_part(mine, side, policy, hint, max(0.05, budget / (2 - attempt)), stages, earlier,
                               large=len(pairs) > FULL_MODEL_PAIRS)
        if solution is None:
            return best
        budget -= _spent(solution.stages)
        chosen = solution.chosen
        value = totals(chosen, policy)
        distance = (value[name] if sense == "min" else -value[name]) - lower
        senses = dict(levels(policy))
        keeps_earlier = all(value[k] == v if k not in open_levels else
                            (value[k] >= v if senses[k] == "max" else value[k] <= v) for k, v in earlier.items())
        best = (chosen, solution.status == "OPTIMAL" and keeps_earlier and distance <= slack - 1e-6)
        if best[1] or not keeps_earlier or solution.status != "OPTIMAL" or budget <= 0.05:
            return best
        wider = _within(reduced, distance + 1e-6, max(REDUCED_PAIRS, REDUCED_PAIRS_EACH * people))
        if wider < distance:  # the pairs that could still do better are too many to prove it
            return best
        slack, hint = wider, [int(i) for i in chosen.index]
    return best


# Rounding on a dense queue: the young people around the fractional part keep only their
# options the LP's reduced costs rank best (and whatever the LP uses), when all of theirs would
# exceed NEIGHBOURHOOD_PAIRS. Measured at 3,000 x 6,000 rows: 184 young people with about
# 1,200 options each made a 205,000-pair model that CP-SAT did not round in 49 s (the wall
# clock stopped it: the run was no longer deterministic).
ROUND_OPTIONS = 20


def _best_by_reduced_cost(mine: pd.DataFrame, values: np.ndarray, reduced: np.ndarray, keep: pd.Index) -> pd.DataFrame:
    """Of ``mine`` (pair rows), per young person the ROUND_OPTIONS of least reduced cost, with
    every pair the LP uses and every pair of ``keep``."""
    rows = mine.index.to_numpy()
    person = mine["referral_id"].cat.codes.to_numpy() if isinstance(mine["referral_id"].dtype, pd.CategoricalDtype) \
        else pd.factorize(mine["referral_id"])[0]
    order = np.lexsort([reduced[rows], person])
    grouped = person[order]
    first = np.r_[0, np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    chosen = (rank < ROUND_OPTIONS) | (values[rows] > 1e-6) | mine.index.isin(keep)
    return mine[chosen]


def _round(pairs: pd.DataFrame, values: np.ndarray, side: Side, policy: Policy, budget: float,
           stages: list | None, reduced: np.ndarray | None = None) -> pd.DataFrame | None:
    """A proposal from a fractional LP optimum: the pairs the LP takes whole are held, and the
    young people around the fractional ones (with whoever competes for their homes) are
    re-decided by CP-SAT on their own pairs. On these models only a handful of columns are
    fractional, so the exact part is small; the LP's bound still says how close it is."""
    whole = values > 1 - 1e-6
    split = (values > 1e-6) & ~whole
    held_all = pairs[whole]
    seeds = set(map(str, pairs.loc[split, "referral_id"]))
    if not seeds:
        return None
    near = _neighbourhood(pairs, held_all, seeds, side)
    held = held_all[~held_all["referral_id"].isin(near)]
    if constraints.breaches(held, dataclasses.replace(side, limits=())):
        return None
    local = _held_side(side, held)
    mine = pairs[pairs["referral_id"].isin(near)]
    mine = mine[constraints.exclusions(mine, local) == ""]
    hint = held_all[held_all["referral_id"].isin(near) & held_all.index.isin(mine.index)]
    if reduced is not None and len(mine) > NEIGHBOURHOOD_PAIRS:
        mine = _best_by_reduced_cost(mine, values, reduced, hint.index)
    solution = _solve_recorded(mine, local, policy, hint.index, budget, stages)
    return None if solution is None else pd.concat([held, solution.chosen]).sort_index()


# The reduced part of a large queue goes to CP-SAT first up to this many pairs, and to the MIP
# alone above it. Measured: on the 300 x 600-row framework queue's parts (903, 2,861 and 4,923
# pairs) CP-SAT proved each in 0.2, 0.6 and 4.0 s where the MIP took 2.0, 3.1 and 9.0 s (the
# run: 7.3 s against 16.5 s); on the 25,178-pair part at 5,000 young people CP-SAT's model
# took longer to load and presolve than the wall-clock safety net allows (26 s for 3.7 units
# of deterministic time), so the clock stopped it and the run was no longer repeatable, where
# the MIP came within 0.02% of the LP's bound.
CP_SAT_PART_PAIRS = 10_000


def _exact_part(pairs: pd.DataFrame, side: Side, policy: Policy, hint, time_limit: float, stages: list | None,
                earlier: dict[str, int | None], *, large: bool) -> model.ModelSolution | None:
    """The exact model on the pairs the LP's reduced costs leave: CP-SAT (the engine of record)
    on a panel-size queue and on a large queue's small part (CP_SAT_PART_PAIRS); otherwise, or
    when CP-SAT leaves a large queue's part unproven, the same model as a MIP
    (:mod:`matching.mip`, HiGHS from the LP), the better of the two kept. Measured at 5,000
    young people with the measures held no worse than practice (dense rows over every pair):
    CP-SAT's penalty stayed near practice's, four times the LP's, where HiGHS's was within 0.02%
    of the LP's bound in 13 s on 18,800 pairs. The MIP holds the levels already proven
    (``earlier``) and decides the rest in order."""
    solution = None
    if not large or len(pairs) <= CP_SAT_PART_PAIRS:
        solution = _solve_recorded(pairs, side, policy, hint, time_limit, stages)
        if not large or (solution is not None and solution.status == "OPTIMAL"):
            return solution
    from matching import mip

    answer = mip.solve(pairs, side, policy, hold={k: v for k, v in earlier.items() if v is not None})
    if answer is None:
        return solution
    chosen = pairs.loc[answer.rows]
    objective = totals(chosen, policy)
    if solution is not None and _lexi(objective, policy) <= _lexi(solution.objective, policy):
        return solution
    return model.ModelSolution(chosen, "OPTIMAL" if answer.optimal else "FEASIBLE", objective, {}, {})


def _solve_recorded(pairs: pd.DataFrame, side: Side, policy: Policy, hint, time_limit: float,
                    stages: list | None) -> model.ModelSolution | None:
    """CP-SAT on one worker (see :func:`_one_worker`), its stages recorded in ``stages``;
    None when it found nothing (infeasible, or out of time first)."""
    try:
        solution = model.solve(pairs, side, _one_worker(policy), hint=hint, time_limit=time_limit)
    except (model.ModelTimeout, model.ModelInfeasible) as exc:
        if stages is not None:
            stages.extend(getattr(exc, "stages", []))
        return None
    if stages is not None:
        stages.extend(solution.stages)
    return solution


def _cp_sat(search: _Search, time_limit: float, stages: list, side: Side | None = None) -> None:
    """The whole model in CP-SAT (the engine of record), hinted with the best so far."""
    side = side or search.side
    hint = () if search.chosen is None else search.chosen.index
    solution = model.solve(search.pairs, side, search.policy, hint=hint, time_limit=time_limit)
    stages.extend(solution.stages)
    search.offer(solution.chosen, "cp_sat")
    if solution.status == "OPTIMAL":  # the engine of record's own proof comes first
        search.proven_by = "cp_sat"
        search.tighten({k: float(v) for k, v in solution.objective.items()}, "cp_sat")
    else:
        search.tighten(solution.best_bound, "cp_sat")


def _spent(stages: list) -> float:
    return sum(getattr(s, "deterministic_time", 0.0) for s in stages)


def _never_worse_than_practice(search: _Search, practice_rows: pd.DataFrame, limit: float,
                               stages: list) -> Comparison:
    """Compare the best proposal with one-at-a-time practice; where it is worse, re-solve with
    the measures held (letting go of the least important only when nothing else works)."""
    policy, pairs = search.policy, search.pairs
    comparison = Comparison(measures.of(search.chosen), measures.of(practice_rows))
    if not comparison.worse:
        return comparison
    first_worse = comparison.worse
    # Placing young people is never traded away: held at the best of the two, when practice's
    # own proposal keeps every rule (and so is one the engine could have made).
    fair = not constraints.breaches(practice_rows, search.side)
    floor = max(comparison.proposal["placed"], comparison.practice["placed"] if fair else 0)
    policy = _one_worker(policy)
    hold = list(HOLD_ORDER)
    if len(pairs) > FULL_MODEL_PAIRS:  # each try is a slow LP there: rule out the hopeless first
        hold = _holdable(search, comparison.practice, floor, hold)
    attempts = 0
    while hold:
        limits = (("placed", floor), *((n, comparison.practice[n]) for n in hold))
        side = dataclasses.replace(search.side, limits=limits)
        held = _Search(pairs, side, policy, search.started, search.report, lp_iterations=search.lp_iterations)
        if not constraints.breaches(practice_rows, side):
            held.chosen = practice_rows  # practice itself meets every limit: a feasible start
        # The free model's bounds on the first two levels hold here too: holding measures can
        # only lose, and placements are held at the free proposal's figure. (Its cost bound is
        # for the free model's best penalty, which a held proposal need not have.)
        first_two = [n for n, _ in levels(policy)][:2]
        held.tighten({n: search.bound.get(n, float("nan")) for n in first_two}, "min_cost_flow")
        try:
            share = max(0.05, limit / (len(hold) + 1))
            if len(pairs) <= FULL_MODEL_PAIRS:
                _cp_sat(held, share, stages, side)
            if held.proven_by is None:  # the LP, rounded by CP-SAT
                _lp(held, "never_worse", side, budget=share / 2, stages=stages, seconds=share)
            if held.chosen is practice_rows and len(pairs) > FULL_MODEL_PAIRS:
                # a big queue the LP could not round: improve practice's own proposal piece by
                # piece, most to gain first
                chosen, found, _ = _solve_neighbourhoods(pairs, held.chosen, _regret_seeds(pairs, held.chosen),
                                                         side, policy, share / 2, search.report)
                stages.extend(found)
                held.offer(chosen, "never_worse")
        except (model.ModelInfeasible, model.ModelTimeout):
            pass
        attempts += 1
        if held.chosen is not None and not constraints.breaches(held.chosen, side):
            search.chosen, search.bound = held.chosen, held.bound
            search.proven_by = held.proven_by
            search.report("never_worse", held.chosen)
            search.mark()
            comparison = Comparison(measures.of(held.chosen), comparison.practice, held=hold,
                                    let_go=[n for n in HOLD_ORDER if n not in hold], limits=limits)
            comparison.note = ("The first proposal was worse than placing one at a time on "
                               + ", ".join(measures.BY_NAME[n].words for n in first_worse)
                               + "; this one is the best of those no worse on the measures held.")
            if comparison.let_go:
                comparison.note += (" ""No proposal placing as many young people could hold "
                                   + " or ".join(measures.BY_NAME[n].words for n in comparison.let_go)
                                   + " at the one-at-a-time figure as well.")
            return comparison
        hold.pop()
    comparison.let_go = list(HOLD_ORDER)
    comparison.note = "No proposal placing as many young people is as good as one at a time on these measures."
    return comparison


def _holdable(search: _Search, practice: dict[str, int], floor: int, hold: list[str]) -> list[str]:
    """The measures of ``hold`` that some proposal placing ``floor`` (urgency-weighted) might
    keep at practice's figure: one whose LP floor (the fewest it can be at that many
    placements, a certified bound) is above practice's figure is let go untried."""
    from matching.relaxation import measure_floors

    left = search.lp_iterations
    if floor not in search.floors:
        # A measure the best proposal so far already keeps, placing as many, needs no LP.
        mine = measures.of(search.chosen) if search.chosen is not None else None
        kept = set() if mine is None or mine["placed"] < floor else \
            {n for n in HOLD_ORDER if mine[n] <= practice[n]}  # every held measure is "less is better"
        asked = [n for n in HOLD_ORDER if n not in kept]
        if left[0] <= 0 or not asked:
            return hold
        side = dataclasses.replace(search.side, limits=(("placed", floor),))
        search.floors[floor], used = measure_floors(search.pairs, side, search.policy, asked,
                                                    iteration_limit=left[0])
        left[0] -= used
    floors = search.floors[floor]
    return [n for n in hold if not floors.get(n, float("nan")) > practice[n]]  # NaN (no bound): tried


def _held_from_the_start(search: _Search, practice_rows: pd.DataFrame, flow: FlowSolution, limit: float,
                         stages: list) -> tuple[_Search, Comparison] | None:
    """The big-queue route: solve with every measure held no worse than practice. Kept only
    when it places as many (by urgency) as the flow's relaxation, which no proposal can beat;
    otherwise None, and the engine solves freely and compares afterwards."""
    side = search.side
    if constraints.breaches(practice_rows, side) or not flow.exact:
        return None
    figures = measures.of(practice_rows)
    most = int(flow.objective["reward"])
    # Practice placing fewer than the most possible: placing the rest may cost miles or money
    # practice never spent. When an LP floor says it must, the held model cannot place as many.
    if figures["placed"] < most and len(_holdable(search, figures, most, list(HOLD_ORDER))) < len(HOLD_ORDER):
        return None
    limits = (("placed", figures["placed"]), *((n, figures[n]) for n in HOLD_ORDER))
    held = _Search(search.pairs, dataclasses.replace(side, limits=limits), search.policy, search.started,
                   search.report, timeline=search.timeline, lp_iterations=search.lp_iterations)
    held.chosen = practice_rows
    held.tighten(_relaxation_bounds(flow, held.objective, search.policy), "min_cost_flow")
    _lp(held, "never_worse", budget=limit / 4, stages=stages, seconds=limit / 2)
    if held.objective["reward"] < flow.objective["reward"]:
        return None
    comparison = Comparison(measures.of(held.chosen), figures, held=list(HOLD_ORDER), limits=limits,
                            note="Every measure was held no worse than placing one at a time from the start, "
                                 "and it still places as many young people as any proposal could.")
    return held, comparison


def match(
    instance: Instance,
    policy: Policy,
    *,
    eligibility=None,
    force_cp_sat: bool = False,
    time_limit: float | None = None,
    on_progress: Callable[[str, pd.DataFrame], None] | None = None,
    relaxation: bool = True,
    practice: bool = True,
    council_of: dict[str, str] | None = None,
    council_floors: dict[str, int] | None = None,
    reward_boost: dict[str, int] | None = None,
) -> MatchResult:
    """Match the whole queue. ``eligibility``: a precomputed Eligibility (pairs, funnel,
    seconds); ``force_cp_sat``: solve with CP-SAT even when the flow already proves optimality
    (tests compare the two); ``time_limit`` overrides the policy's (deterministic time, see
    :mod:`matching.model`); ``on_progress(stage, proposal)`` hears of each feasible proposal as
    it is found (the service shows the best so far while CP-SAT works): "min_cost_flow"
    (proven), "warm_start" (the flow, repaired), "cp_sat", "linear_relaxation",
    "neighbourhood" (each improvement on a very large queue), "never_worse" (held no worse than
    practice). ``relaxation=False`` leaves out the LP certificate and ``practice=False`` the
    comparison with one-at-a-time practice (tests of CP-SAT alone). ``council_of`` and
    ``council_floors``: a region's run (:mod:`matching.region`), each young person's council and
    the least each council must place (:mod:`matching.constraints.councils`). ``reward_boost``:
    extra reward for placing these young people (a region's multipliers, :mod:`matching.region`);
    the result's objective then counts it, so its caller re-weighs the proposal itself."""
    report = on_progress or (lambda stage, proposal: None)
    started = time.perf_counter()
    limit = policy.solver.time_limit_seconds if time_limit is None else time_limit
    seconds = {"eligibility": 0.0, "scoring": 0.0, "flow": 0.0, "cp_sat": 0.0, "relaxation": 0.0, "practice": 0.0}
    if eligibility is None:
        eligibility = _eligibility(instance, policy)
        seconds["eligibility"] = time.perf_counter() - started
    else:  # computed before this call: its own timing, not part of "total"
        seconds["eligibility"] = float(getattr(eligibility, "seconds", 0.0) or 0.0)
    eligible = eligibility.pairs

    t = time.perf_counter()
    pairs = score(eligible, policy)
    if reward_boost:
        pairs["reward"] = pairs["reward"] + pairs["referral_id"].astype(str).map(reward_boost).fillna(0).astype(
            pairs["reward"].dtype)
    if not _sorted_by_referral_and_vacancy(pairs):  # eligibility's pairs are: no copy then
        pairs = pairs.sort_values(["referral_id", "vacancy_id"], kind="stable")
    pairs = pairs.reset_index(drop=True)
    side = side_data(instance, policy)
    if council_floors:
        side = dataclasses.replace(side, council_of=dict(council_of or {}),
                                   council_floors=tuple(sorted(council_floors.items())))
    seconds["scoring"] = time.perf_counter() - t

    _check_locks(instance, policy, pairs, side)
    reason = constraints.exclusions(pairs, side)
    dropped = reason != ""
    side_excluded = pd.DataFrame({
        "referral_id": pairs.loc[dropped, "referral_id"],
        "vacancy_id": pairs.loc[dropped, "vacancy_id"],
        "reason": reason[dropped],
    }).reset_index(drop=True)
    _refuse_excluded_locks(side, side_excluded)
    kept = pairs.loc[~dropped].reset_index(drop=True) if dropped.any() else pairs
    del pairs  # the kept pairs are all the solvers need

    t = time.perf_counter()
    flow = _flow_with_locks(kept, instance, policy, side)
    flow_breaches = constraints.breaches(flow.chosen, side)
    search = _Search(kept, side, policy, started, report,
                     lp_iterations=[max(LP_MIN_ITERATIONS, int(limit * LP_ITERATIONS_PER_SECOND))])
    stages: list = []
    model_size = 0
    if flow.exact and not flow_breaches and not force_cp_sat:
        search.chosen = flow.chosen
        report("min_cost_flow", flow.chosen)
        search.proven_by = "min_cost_flow"
        search.tighten({k: float(v) for k, v in flow.objective.items()}, "min_cost_flow")
    else:
        # The warm start: the flow's solution with what breaks a side constraint dropped.
        start = constraints.repair(flow.chosen, side) if flow_breaches else flow.chosen
        if not constraints.breaches(start, side):
            search.offer(start, "warm_start")
        search.tighten(_relaxation_bounds(flow, search.objective if search.chosen is not None else
                                          totals(flow.chosen, policy), policy), "min_cost_flow")
    seconds["flow"] = time.perf_counter() - t

    comparison = None
    lexicographic = policy.mode == "lexicographic"
    large = len(kept) > FULL_MODEL_PAIRS and not force_cp_sat
    if practice and lexicographic and large and relaxation and search.proven_by is None:
        # A big queue: hold every measure at practice's figure from the start, which saves a
        # second solve whenever that still places as many as the flow's relaxation allows.
        t = time.perf_counter()
        practice_rows = practice_choice(kept, instance, policy)
        held = _held_from_the_start(search, practice_rows, flow, limit, stages)
        seconds["practice"] = time.perf_counter() - t
        if held is not None:
            search, comparison = held

    settled = comparison is not None and search.certified_so_far()  # held from the start, and close
    if (search.proven_by is None or force_cp_sat) and not settled:
        if large and relaxation and comparison is None:  # measured: on big queues the LP proves what CP-SAT cannot
            t = time.perf_counter()
            _lp(search, "linear_relaxation", budget=limit / 4, stages=stages, seconds=limit / 2)
            seconds["relaxation"] += time.perf_counter() - t
        t = time.perf_counter()
        if search.proven_by is None or force_cp_sat:
            model_size = len(kept)
            if large and flow_breaches and search.chosen is not None:
                seeds = [set(map(str, b.referral_ids)) for b in flow_breaches]
                chosen, found, model_size = _solve_neighbourhoods(kept, search.chosen, seeds, search.side, policy,
                                                                  limit / 2, report)
                stages.extend(found)
                search.offer(chosen, "neighbourhood")
                if relaxation and search.proven_by is None:  # the LP again, now the proposal is better
                    t2 = time.perf_counter()
                    _lp(search, "linear_relaxation", budget=limit / 4, stages=stages, seconds=limit / 2)
                    seconds["relaxation"] += time.perf_counter() - t2
            else:
                try:
                    _cp_sat(search, limit, stages)
                except model.ModelInfeasible:
                    raise MatchError(_infeasible_reason(side, kept, policy)) from None
                except model.ModelTimeout as exc:
                    stages.extend(exc.stages)
                    if search.chosen is None:
                        raise MatchError(f"no proposal found within the time limit ({exc})") from None
        seconds["cp_sat"] = time.perf_counter() - t
        if search.proven_by is None and relaxation and not large:
            t = time.perf_counter()
            _lp(search, "linear_relaxation", budget=limit / 4, stages=stages, seconds=limit / 2)
            seconds["relaxation"] += time.perf_counter() - t
    if search.chosen is None:
        raise MatchError("no proposal found within the time limit")

    if practice and lexicographic and comparison is None:
        t = time.perf_counter()
        practice_rows = practice_choice(kept, instance, policy)
        comparison = _never_worse_than_practice(search, practice_rows, max(0.05, limit - _spent(stages)), stages)
        seconds["practice"] += time.perf_counter() - t

    chosen = search.chosen
    if constraints.breaches(chosen, search.side):  # cannot happen; never return a broken proposal
        raise MatchError("internal error: the proposal breaks a side constraint")
    objective = totals(chosen, policy)
    names = [name for name, _ in levels(policy)]
    best_bound = {n: search.bound.get(n, float("nan")) for n in names}
    proven = search.proven_by is not None
    if proven:
        best_bound = {n: float(v) for n, v in objective.items()}
    matches = chosen.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    placed = set(matches["referral_id"])
    unplaced = sorted(str(r) for r in instance.referrals["referral_id"] if r not in placed)
    seconds["total"] = time.perf_counter() - started  # this call's wall time
    return MatchResult(
        matches=matches,
        unplaced=unplaced,
        status="OPTIMAL" if proven else "FEASIBLE",
        objective=objective,
        best_bound=best_bound,
        gap=_gaps(objective, best_bound, proven),
        proven_by=search.proven_by,
        seconds=seconds,
        pair_count=len(eligible),
        eligibility=eligibility,
        side_excluded=side_excluded,
        flow_exact=flow.exact,
        flow_objective=dict(flow.objective),
        stages=stages,
        model_pairs=model_size,
        timeline=search.timeline,
        practice=comparison,
        deterministic=not any(getattr(s, "stopped_by_clock", False) for s in stages),
        scored=kept,
    )


def improve(instance: Instance, policy: Policy, eligibility, start: pd.DataFrame, *, time_limit: float,
            council_of: dict[str, str] | None = None, council_floors: dict[str, int] | None = None) -> pd.DataFrame:
    """A feasible proposal made better, one neighbourhood at a time (as on the largest queues):
    ``start`` holds (referral_id, vacancy_id) pairs that keep every side constraint (a region's
    councils' own proposals together, which keep every floor); each step re-decides a few hundred
    young people with everyone else held and every constraint kept, so the answer is never worse
    than ``start`` and never breaks a constraint. Returns the chosen, scored pair rows."""
    pairs = score(eligibility.pairs, policy)
    pairs = pairs.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    side = side_data(instance, policy)
    if council_floors:
        side = dataclasses.replace(side, council_of=dict(council_of or {}),
                                   council_floors=tuple(sorted(council_floors.items())))
    kept = pairs[constraints.exclusions(pairs, side) == ""]
    current = kept.loc[_rows_of(kept, start)]
    broken = constraints.breaches(current, side)
    if broken:
        raise MatchError("the proposal to improve breaks: " + "; ".join(b.detail for b in broken))
    chosen, _, _ = _solve_neighbourhoods(kept, current, _regret_seeds(kept, current), side, policy, time_limit,
                                         lambda stage, proposal: None)
    return chosen if not constraints.breaches(chosen, side) else current
