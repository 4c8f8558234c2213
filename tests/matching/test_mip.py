"""The exact model as a MIP (matching.mip, the large-queue route): checked against CP-SAT, the
engine of record, on the same pairs, and against the independent checker."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, settings
from hypothesis import given as hyp_given
from hypothesis import strategies as st
from test_engine import random_instance
from test_relaxation import EXACT, engine_pairs

from matching import checker, constraints, measures, mip, model
from matching.policy import Policy
from matching.scoring import levels, totals

POLICY = Policy(solver=EXACT)


def _checked(pairs, rows, instance, policy):
    chosen = pairs.loc[rows]
    assignment = list(zip(chosen["referral_id"], chosen["vacancy_id"], strict=True))
    assert checker.check(assignment, instance, policy) == []
    assert checker.objective(assignment, instance, policy) == totals(chosen, policy)
    return chosen


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000))
def test_the_mip_finds_cp_sats_optimum_on_every_level(seed):
    instance = random_instance(seed, n_ref=10, n_vac=7)
    pairs, side = engine_pairs(instance, POLICY)
    reference = model.solve(pairs, side, POLICY)
    assert reference.status == "OPTIMAL"
    answer = mip.solve(pairs, side, POLICY)
    assert answer is not None and answer.optimal
    chosen = _checked(pairs, answer.rows, instance, POLICY)
    assert totals(chosen, POLICY) == reference.objective


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(seed=st.integers(0, 10_000))
def test_held_measures_and_levels_are_kept_and_the_optimum_matches(seed):
    # Measures held at the free optimum's figures less one mile (binding, as when the engine
    # holds practice's figures), the first level held at its optimum: the same answer as CP-SAT.
    instance = random_instance(seed, n_ref=10, n_vac=7)
    pairs, side = engine_pairs(instance, POLICY)
    free = model.solve(pairs, side, POLICY)
    figures = measures.of(free.chosen)
    limits = (("total_miles", max(0, figures["total_miles"] - 10)), ("over_20_miles", figures["over_20_miles"]))
    held = dataclasses.replace(side, limits=limits)
    first = levels(POLICY)[0][0]
    try:
        reference = model.solve(pairs, held, POLICY)
    except model.ModelInfeasible:
        assert mip.solve(pairs, held, POLICY) is None  # nothing keeps the limits: the MIP agrees
        return
    answer = mip.solve(pairs, held, POLICY, hold={first: reference.objective[first]})
    assert answer is not None and answer.optimal
    chosen = _checked(pairs, answer.rows, instance, POLICY)
    assert constraints.breaches(chosen, held) == []
    assert totals(chosen, POLICY) == reference.objective
