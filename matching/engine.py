"""One panel run end to end: eligibility, scoring, min-cost flow, and CP-SAT when it is needed.

1. ``matching.eligibility`` turns the instance into eligible pairs (every hard rule applied).
2. ``matching.scoring`` gives each pair its integer objective terms.
3. Side constraints rule out pairs on their own (a resident they clash with, an intensive cap
   already full, a sibling group with no common property, another young person's lock).
4. The min-cost flow solves the assignment core exactly, with locked placements fixed first
   (their beds taken, their young people removed). If its weights were exact and its solution
   meets every side constraint (the model's own quick test), it is optimal, proven by the
   flow: CP-SAT is not called.
5. Otherwise CP-SAT solves the full model (see :mod:`matching.model`: one solve with the
   flow's exact folded objective when it fits, stages otherwise), warm-started with a complete
   hint: the flow solution with what breaks a side constraint dropped. Above
   ``FULL_MODEL_PAIRS`` pairs, CP-SAT instead re-decides one neighbourhood at a time around what
   the flow broke (everyone else held), which improves a feasible proposal quickly but proves
   nothing by itself.
6. Whatever CP-SAT returns, the flow's optimum (which relaxes the side constraints) bounds each
   level too: a proposal that meets it is optimal (proven by the flow), and otherwise the
   reported bound is the tighter of the two, with the gap per level.

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

import pandas as pd

from matching import constraints, model
from matching.constraints import Side, side_data
from matching.flow import FlowSolution, solve_flow
from matching.instance import Instance
from matching.policy import Policy
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


def _eligibility(instance: Instance, policy: Policy):
    from matching.eligibility import eligible_pairs  # lazily: the engine works on given pairs too

    return eligible_pairs(instance, policy)


def _broken_rules(instance: Instance, policy: Policy, pairs: list[tuple[str, str]]) -> dict:
    try:
        from matching.eligibility import broken_rules
    except ImportError:  # until eligibility lands, the checker's reading of the same rules
        from matching.checker import broken_rules
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
        if b.constraint not in ("locks", "siblings", "budget"):
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


def _neighbourhood(pairs: pd.DataFrame, current: pd.DataFrame, seeds: set[str], side: Side) -> set[str]:
    """Young people CP-SAT should reconsider around ``seeds``: whole sibling groups, then
    everyone placed where they could go instead, and so on, while the model stays small."""
    members = {m: g for g, ms in side.sibling_groups.items() for m in ms}
    chosen_at = current.groupby("vacancy_id")["referral_id"].agg(list).to_dict()
    options = pairs.groupby("referral_id")["vacancy_id"].agg(list).to_dict()
    size = pairs["referral_id"].value_counts().to_dict()

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
    residents = {p: list(r) for p, r in side.resident_risks.items()}
    intensive = dict(side.intensive_residents)
    for r, v, p, tier in held[["referral_id", "vacancy_id", "property_id", "tier"]].itertuples(index=False):
        beds[v] = beds.get(v, 0) - 1
        if p in side.shared:
            residents.setdefault(p, []).append(side.risks.get(r, frozenset()))
            intensive[p] = intensive.get(p, 0) + (tier == "intensive")
    held_ids = set(held["referral_id"])
    budget = side.budget_pence
    if budget is not None and len(held):
        budget -= int(constraints.pence(held["weekly_cost"]).sum())
    return dataclasses.replace(
        side, beds=beds, resident_risks={p: tuple(r) for p, r in residents.items()},
        intensive_residents=intensive, budget_pence=budget,
        locks=tuple(lock for lock in side.locks if lock[0] not in held_ids),
    )


def _solve_neighbourhoods(pairs: pd.DataFrame, start: pd.DataFrame, found: list, side: Side,
                          policy: Policy, time_limit: float,
                          report: Callable[[str, pd.DataFrame], None]) -> tuple[pd.DataFrame, list, int]:
    """Improve a feasible proposal one neighbourhood at a time: around each broken side
    constraint of the flow, CP-SAT re-decides a few hundred young people with everyone else
    held. Every step starts from a feasible proposal, so each only improves it."""
    deadline = time.perf_counter() + time_limit
    current, stages, largest = start, [], 0
    pending = [set(map(str, b.referral_ids)) for b in found]
    while pending and time.perf_counter() < deadline:
        near = _neighbourhood(pairs, current, pending[0], side)
        pending = [p for p in pending if not p <= near]
        held = current[~current["referral_id"].isin(near)]
        local = _held_side(side, held)
        mine = pairs[pairs["referral_id"].isin(near)]
        mine = mine[constraints.exclusions(mine, local) == ""]
        hint = current[current["referral_id"].isin(near) & current.index.isin(mine.index)]
        largest = max(largest, len(mine))
        share = max(0.05, deadline - time.perf_counter()) / (len(pending) + 1)
        try:
            solution = model.solve(mine, local, policy, hint=hint.index, time_limit=share)
        except (model.ModelTimeout, model.ModelInfeasible):
            continue  # keep the current proposal for these young people
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


def match(
    instance: Instance,
    policy: Policy,
    *,
    eligibility=None,
    force_cp_sat: bool = False,
    time_limit: float | None = None,
    on_progress: Callable[[str, pd.DataFrame], None] | None = None,
) -> MatchResult:
    """Match the whole queue. ``eligibility``: a precomputed Eligibility (pairs, funnel,
    seconds); ``force_cp_sat``: solve with CP-SAT even when the flow already proves optimality
    (tests compare the two); ``time_limit`` overrides the policy's; ``on_progress(stage,
    proposal)`` hears of each feasible proposal as it is found (the service shows the best so
    far while CP-SAT works): "min_cost_flow" (proven), "warm_start" (the flow, repaired),
    "neighbourhood" (each improvement on a very large queue)."""
    report = on_progress or (lambda stage, proposal: None)
    started = time.perf_counter()
    seconds = {"eligibility": 0.0, "scoring": 0.0, "flow": 0.0, "cp_sat": 0.0}
    if eligibility is None:
        eligibility = _eligibility(instance, policy)
        seconds["eligibility"] = time.perf_counter() - started
    else:  # computed before this call: its own timing, not part of "total"
        seconds["eligibility"] = float(getattr(eligibility, "seconds", 0.0) or 0.0)
    eligible = eligibility.pairs

    t = time.perf_counter()
    pairs = score(eligible, policy)
    pairs = pairs.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    side = side_data(instance, policy)
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
    kept = pairs.loc[~dropped].reset_index(drop=True)

    t = time.perf_counter()
    flow = _flow_with_locks(kept, instance, policy, side)
    flow_chosen = flow.chosen
    flow_breaches = constraints.breaches(flow_chosen, side)
    seconds["flow"] = time.perf_counter() - t

    stages: list = []
    best = None
    model_size = 0
    if flow.exact and not flow_breaches and not force_cp_sat:
        chosen, status, proven_by = flow_chosen, "OPTIMAL", "min_cost_flow"
        report("min_cost_flow", chosen)
    else:
        t = time.perf_counter()
        # The warm start: the flow's solution with what breaks a side constraint dropped.
        best = constraints.repair(flow_chosen, side) if flow_breaches else flow_chosen
        chosen = None
        seconds["flow"] += time.perf_counter() - t
    if chosen is not None:
        objective = totals(chosen, policy)
        best_bound = {k: float(v) for k, v in objective.items()}
        gap = dict.fromkeys(objective, 0.0)
    else:
        t = time.perf_counter()
        feasible_start = not constraints.breaches(best, side)
        if feasible_start:
            report("warm_start", best)
        names = [name for name, _ in levels(policy)]
        if len(kept) > FULL_MODEL_PAIRS and flow_breaches and feasible_start:
            chosen, stages, model_size = _solve_neighbourhoods(
                kept, best, flow_breaches, side, policy,
                policy.solver.time_limit_seconds if time_limit is None else time_limit, report)
            status, proven_by = "FEASIBLE", None  # a neighbourhood proves nothing on its own
            best_bound = dict.fromkeys(names, float("nan"))
        else:
            try:
                solution = model.solve(kept, side, policy, hint=best.index, time_limit=time_limit)
            except model.ModelInfeasible:
                raise MatchError(_infeasible_reason(side, kept, policy)) from None
            except model.ModelTimeout as exc:
                if not feasible_start:
                    raise MatchError(f"no proposal found within the time limit ({exc})") from None
                solution, stages = None, exc.stages
            model_size = len(kept)
            if solution is None:  # CP-SAT found nothing in time: the repaired flow is our best
                chosen, status, proven_by = best, "FEASIBLE", None
                best_bound = dict.fromkeys(names, float("nan"))
            else:
                stages = solution.stages
                chosen, status = solution.chosen, solution.status
                proven_by = "cp_sat" if status == "OPTIMAL" else None
                best_bound = dict(solution.best_bound)
        seconds["cp_sat"] = time.perf_counter() - t
        if constraints.breaches(chosen, side):  # cannot happen; never return a broken proposal
            chosen, status, proven_by = best, "FEASIBLE", None
        objective = totals(chosen, policy)
        # The flow's optimum bounds every level too (it relaxes the side constraints).
        relaxed = _relaxation_bounds(flow, objective, policy)
        best_bound = {name: _tighter(best_bound[name], relaxed[name], sense) for name, sense in levels(policy)}
        if status != "OPTIMAL" and all(best_bound[n] == objective[n] for n in names):
            status, proven_by = "OPTIMAL", "min_cost_flow"  # it meets the relaxation's bound
        gap = {n: 0.0 if status == "OPTIMAL" else
               float("nan") if math.isnan(best_bound[n]) else abs(objective[n] - best_bound[n]) / max(1, abs(objective[n]))
               for n in names}

    matches = chosen.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    placed = set(matches["referral_id"])
    unplaced = sorted(str(r) for r in instance.referrals["referral_id"] if r not in placed)
    seconds["total"] = time.perf_counter() - started  # this call's wall time
    return MatchResult(
        matches=matches,
        unplaced=unplaced,
        status=status,
        objective=objective,
        best_bound=best_bound,
        gap=gap,
        proven_by=proven_by,
        seconds=seconds,
        pair_count=len(eligible),
        eligibility=eligibility,
        side_excluded=side_excluded,
        flow_exact=flow.exact,
        flow_objective=dict(flow.objective),
        stages=stages,
        model_pairs=model_size,
    )
