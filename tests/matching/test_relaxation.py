"""The LP relaxation's bounds: valid against the exact CP-SAT optimum (the engine of record),
equal to it where the relaxation says it is integral, and tighter than the min-cost flow's
where a side constraint binds."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as hyp_given
from hypothesis import strategies as st
from test_checker import make_instance, referral, vacancy
from test_engine import random_instance

from matching import constraints, model
from matching.constraints import side_data
from matching.eligibility import eligible_pairs
from matching.flow import solve_flow
from matching.policy import Policy, SolverSettings
from matching.relaxation import level_bounds
from matching.scoring import levels, score

# One CP-SAT worker with a fixed seed, and a limit far above what these sizes need: the
# reference optimum must be proven, never cut off.
EXACT = SolverSettings(time_limit_seconds=30.0, workers=1, seed=0)
POLICY = Policy(solver=EXACT)
WEIGHTED = Policy(solver=EXACT, mode="weighted")


def engine_pairs(instance, policy: Policy) -> tuple[pd.DataFrame, constraints.Side]:
    """Scored pairs exactly as the engine hands them to ``model.solve`` (side exclusions
    removed, indexed 0..n-1)."""
    pairs = score(eligible_pairs(instance, policy).pairs, policy)
    pairs = pairs.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    side = side_data(instance, policy)
    return pairs.loc[constraints.exclusions(pairs, side) == ""].reset_index(drop=True), side


def exact_optimum(pairs, side, policy):
    solution = model.solve(pairs, side, policy)
    assert solution.status == "OPTIMAL"
    return solution


def assert_valid(relaxation, optimum: dict[str, int], pairs, side, policy) -> None:
    """No bound is beaten by the exact optimum, at any level (one after an unproven level is
    bounded with that level held at a proposal's value: still a bound on the optimum);
    "integral" and "proven" mean equal to it."""
    for name, sense in levels(policy):
        level = relaxation.levels[name]
        if not math.isnan(level.bound):
            assert (optimum[name] <= level.bound) if sense == "max" else (optimum[name] >= level.bound), level
    for name, sense in levels(policy):
        level = relaxation.levels[name]
        if level.integral:
            assert level.bound == optimum[name]
            chosen = pairs.iloc[list(level.solution)]
            assert constraints.breaches(chosen, side) == []
            assert int(chosen[name].sum()) == optimum[name]
        if level.proven is None:
            break  # later levels are not bounded until this one is proven
        assert level.proven == optimum[name]
    later = list(relaxation.levels.values())
    for before, after in zip(later, later[1:]):
        if before.proven is None:  # nothing after an open level is called proven
            assert after.proven is None and not after.integral


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000), mode=st.sampled_from(["lexicographic", "weighted"]))
def test_lp_bound_is_never_beaten_by_the_exact_optimum(seed, mode):
    policy = POLICY if mode == "lexicographic" else WEIGHTED
    instance = random_instance(seed, n_ref=10, n_vac=7)
    pairs, side = engine_pairs(instance, policy)
    solution = exact_optimum(pairs, side, policy)
    assert_valid(level_bounds(pairs, side, policy), solution.objective, pairs, side, policy)
    # With the optimum as incumbent every level the LP bounds tightly is proven in turn.
    with_incumbent = level_bounds(pairs, side, policy, incumbent=solution.chosen.index)
    assert_valid(with_incumbent, solution.objective, pairs, side, policy)
    first = with_incumbent.levels[levels(policy)[0][0]]
    assert first.proven is not None or first.bound != solution.objective[first.name]


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000))
def test_exact_step_closes_fractional_levels_without_an_incumbent(seed):
    instance = random_instance(seed, n_ref=10, n_vac=7)
    pairs, side = engine_pairs(instance, POLICY)
    solution = exact_optimum(pairs, side, POLICY)
    relaxation = level_bounds(pairs, side, POLICY, exact=True)
    assert_valid(relaxation, solution.objective, pairs, side, POLICY)
    # On these sizes the node limit is never reached: every level ends proven or raised.
    assert all(lv.exact in (None, "proven", "bound_raised") for lv in relaxation.levels.values())
    assert relaxation.levels["reward"].proven == solution.objective["reward"]


def test_exact_step_proves_a_level_the_lp_leaves_fractional():
    # Seed 10: the LP's first level is fractional at the optimum (2 columns); the exact step
    # finds a proposal meeting the bound, so every later level is bounded too.
    instance = random_instance(10, n_ref=12, n_vac=8)
    pairs, side = engine_pairs(instance, POLICY)
    optimum = exact_optimum(pairs, side, POLICY).objective
    plain = level_bounds(pairs, side, POLICY)
    closed = level_bounds(pairs, side, POLICY, exact=True)
    assert plain.levels["reward"].fractional > 0 and plain.levels["reward"].proven is None
    assert closed.levels["reward"].exact == "proven" and closed.levels["reward"].integral
    assert {n: lv.proven for n, lv in closed.levels.items()} == optimum


def test_lp_proves_every_level_on_a_queue_with_co_residency_and_residents():
    instance = random_instance(3, n_ref=12, n_vac=8)
    pairs, side = engine_pairs(instance, POLICY)
    solution = exact_optimum(pairs, side, POLICY)
    relaxation = level_bounds(pairs, side, POLICY, incumbent=solution.chosen.index)
    assert {n: lv.proven for n, lv in relaxation.levels.items()} == solution.objective
    assert all(lv.status == "optimal" for lv in relaxation.levels.values())


def _three_intensive_for_one_shared_home(cap: int | None):
    """Three young people at the intensive tier and one shared home with three beds: the cap
    (two intensive per shared home) leaves one of them unplaced; the flow ignores it."""
    policy = Policy(solver=EXACT, max_intensive_per_shared_home=cap)
    refs = [referral(f"R{i}", tier="intensive") for i in (1, 2, 3)]
    instance = make_instance(refs, [vacancy("V1", property_id="P1", beds=3)])
    pairs, side = engine_pairs(instance, policy)
    return instance, policy, pairs, side


def test_lp_bound_is_tighter_than_the_flow_when_the_intensive_cap_binds():
    instance, policy, pairs, side = _three_intensive_for_one_shared_home(cap=2)
    flow = solve_flow(pairs, instance, policy)
    optimum = exact_optimum(pairs, side, policy).objective
    relaxation = level_bounds(pairs, side, policy)
    reward = relaxation.levels["reward"]
    assert len(flow.chosen) == 3 and optimum["reward"] == 2 * int(pairs["reward"].iloc[0])
    assert reward.bound == optimum["reward"] < flow.objective["reward"]
    assert reward.integral and len(reward.solution) == 2
    assert_valid(relaxation, optimum, pairs, side, policy)


def test_lp_bound_equals_the_flow_when_no_cap_applies():
    instance, policy, pairs, side = _three_intensive_for_one_shared_home(cap=None)
    flow = solve_flow(pairs, instance, policy)
    relaxation = level_bounds(pairs, side, policy)
    assert relaxation.bound == {name: float(v) for name, v in flow.objective.items()}
    assert relaxation.solution is not None and len(relaxation.solution) == 3


def test_a_lock_without_an_eligible_pair_is_reported_not_bounded():
    instance = make_instance([referral("R1")], [vacancy("V1")], locks=[("R1", "V9")])
    pairs, side = engine_pairs(instance, POLICY)
    relaxation = level_bounds(pairs, side, POLICY)
    assert relaxation.infeasible and "R1 -> V9" in relaxation.infeasible
    assert all(math.isnan(b) for b in relaxation.bound.values())


def test_same_input_same_answer():
    # Iteration limits, one thread, a fixed seed: the same bounds, solutions and iterations.
    instance = random_instance(5, n_ref=12, n_vac=8)
    pairs, side = engine_pairs(instance, POLICY)
    runs = [level_bounds(pairs, side, POLICY) for _ in range(2)]
    seen = [[(str(lv.bound), lv.solution, lv.iterations, lv.status) for lv in r.levels.values()] for r in runs]
    assert seen[0] == seen[1]


# --- the priced master (column and row generation) and the reduced-cost proof -----------------


def practice_limits(pairs, instance, policy, side):
    """The headline measures held at one-at-a-time practice's figures, as the engine holds them."""
    import dataclasses

    from matching import measures
    from matching.practice import HOLD_ORDER, practice

    figures = measures.of(practice(pairs, instance, policy))
    return dataclasses.replace(side, limits=(("placed", figures["placed"]), *((n, figures[n]) for n in HOLD_ORDER)))


def smallest_master_bounds(pairs, side):
    """The LP's bounds from a master of one option each, one more per young person per round
    (every queue priced, whatever its size)."""
    import pytest

    from matching import relaxation

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(relaxation, "PRICING_PAIRS", 0)
        patch.setattr(relaxation, "FIRST_OPTIONS", 1)
        patch.setattr(relaxation, "ADDED_OPTIONS", 1)
        return level_bounds(pairs, side, POLICY)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000), held=st.booleans())
def test_a_master_of_one_option_each_reaches_the_full_lp_optimum(seed, held):
    # The master starts from each young person's single best option and every co-residency row
    # left out; pricing and broken rows must bring in whatever the full LP's optimum needs.
    instance = random_instance(seed, n_ref=14, n_vac=9)
    pairs, side = engine_pairs(instance, POLICY)
    if held:
        side = practice_limits(pairs, instance, POLICY, side)
    full = level_bounds(pairs, side, POLICY)
    priced = smallest_master_bounds(pairs, side)
    first = levels(POLICY)[0][0]
    assert priced.levels[first].status == full.levels[first].status
    for name, level in full.levels.items():
        mine = priced.levels[name]
        # A later level is reached only when the one before is proven, and whether the LP's
        # vertex there is integral depends on which optimal vertex each LP lands on; where
        # both solved a level, they must agree on it.
        if level.status == "optimal" and mine.status == "optimal":
            assert math.isclose(mine.lp_objective, level.lp_objective, rel_tol=1e-9, abs_tol=1e-6), name
            assert mine.bound == level.bound
    try:
        optimum = exact_optimum(pairs, side, POLICY).objective
    except model.ModelInfeasible:
        return
    assert_valid(priced, optimum, pairs, side, POLICY)


def test_the_reduced_cost_proof_is_the_exact_optimum():
    # CP-SAT on the pairs the LP's reduced costs leave, from a tiny first slack (so the second,
    # wider solve runs too): whenever it claims a proof, the whole model's CP-SAT optimum agrees.
    import time

    import pytest

    from matching import engine

    claims = 0
    for seed in range(24):
        instance = random_instance(seed, n_ref=30, n_vac=14)
        pairs, side = engine_pairs(instance, POLICY)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine, "REDUCED_SLACK", 0.0)
            search = engine._Search(pairs, side, POLICY, time.perf_counter(), lambda stage, proposal: None)
            engine._lp(search, "test", budget=5.0, stages=[], seconds=5.0)
        if search.proven_by != "cp_sat_reduced":
            continue
        claims += 1
        assert search.objective == exact_optimum(pairs, side, POLICY).objective, seed
        assert constraints.breaches(search.chosen, side) == []
    assert claims >= 3  # the route is exercised, not skipped


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000), short=st.integers(0, 2))
def test_a_master_says_infeasible_only_when_the_full_lp_is(seed, short):
    # Urgency-weighted placements held at the most possible (short=0), or beyond it (no
    # proposal, and here no LP point either, can reach it): from one option each, the
    # master must find the options that make it feasible (Farkas pricing), and call it
    # infeasible only when no option could.
    import dataclasses

    instance = random_instance(seed, n_ref=14, n_vac=9)
    pairs, side = engine_pairs(instance, POLICY)
    most = exact_optimum(pairs, side, POLICY).chosen
    side = dataclasses.replace(side, limits=(("placed", int(most["reward"].sum()) + short),))
    full = level_bounds(pairs, side, POLICY)
    priced = smallest_master_bounds(pairs, side)
    first = levels(POLICY)[0][0]
    assert priced.levels[first].status == full.levels[first].status
    if short == 0:
        assert priced.levels[first].status == "optimal"
        assert priced.levels[first].bound == full.levels[first].bound


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000), priced=st.booleans())
def test_no_proposal_placing_as_many_beats_a_measure_floor(seed, priced):
    """The engine lets a measure go untried when its LP floor is above practice's figure, so the
    floor must be a true lower bound: with placements held at their best, the exact model
    holding that measure one below its floor has no proposal at all."""
    import dataclasses

    import pytest

    from matching import relaxation
    from matching.practice import HOLD_ORDER

    instance = random_instance(seed, n_ref=12, n_vac=8)
    pairs, side = engine_pairs(instance, POLICY)
    most = exact_optimum(pairs, side, POLICY).objective["reward"]
    held = dataclasses.replace(side, limits=(("placed", most),))
    with pytest.MonkeyPatch.context() as patch:
        if priced:  # the master from a few options each, as on a large queue
            patch.setattr(relaxation, "PRICING_PAIRS", 0)
            patch.setattr(relaxation, "FIRST_OPTIONS", 1)
        floors, _ = relaxation.measure_floors(pairs, held, POLICY, HOLD_ORDER)
    met = 0
    for name in HOLD_ORDER:
        assert not math.isnan(floors[name]), name
        below = dataclasses.replace(side, limits=(("placed", most), (name, int(floors[name]) - 1)))
        with pytest.raises(model.ModelInfeasible):
            model.solve(pairs, below, POLICY)
        at = dataclasses.replace(side, limits=(("placed", most), (name, int(floors[name]))))
        try:
            model.solve(pairs, at, POLICY)
            met += 1
        except model.ModelInfeasible:
            pass  # the LP's floor may be below the integer one
    assert met >= 1  # and the floors are not vacuous: most are met exactly


def test_someone_carrying_both_risks_moves_in_alone_among_those_carrying_either():
    """A shared home with five beds: A and D each carry a risk to others and the matching risk
    to self, B only the risk to self, C only the risk to others, E neither. A and D clash with
    every other carrier and B with C, so at most one of A-D moves in, with E. The LP (one column
    per home for "a carrier of both moves in", not a row per clashing pair) is never beaten by
    that optimum, and the priced master bounds it as the full LP does."""
    from matching import relaxation

    both = {"risks_to_others": ["sexual"], "risks_to_self": ["sexual_exploitation"]}
    refs = [referral("RA", **both), referral("RB", risks_to_self=["sexual_exploitation"]),
            referral("RC", risks_to_others=["sexual"]), referral("RD", **both), referral("RE")]
    instance = make_instance(refs, [vacancy("V1", property_id="P1", beds=5)])
    pairs, side = engine_pairs(instance, POLICY)
    solution = exact_optimum(pairs, side, POLICY)
    assert len(solution.chosen) == 2 and "RE" in set(solution.chosen["referral_id"])
    bounds = []
    for restricted in (False, True):
        with pytest.MonkeyPatch.context() as patch:
            if restricted:
                patch.setattr(relaxation, "PRICING_PAIRS", 0)
                patch.setattr(relaxation, "FIRST_OPTIONS", 1)
            free = level_bounds(pairs, side, POLICY)
        assert_valid(free, solution.objective, pairs, side, POLICY)
        bounds.append(free.levels["reward"].bound)
    assert bounds[0] == bounds[1] < 2 * len(refs)  # the clashes bind in the LP too
