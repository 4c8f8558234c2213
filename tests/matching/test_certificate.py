"""What a panel can defend: the same proposal on a busy machine, bounds that an independent
exact solve never beats, and never worse than one-at-a-time practice unless the run says so.

The reference optimum comes from CP-SAT on the whole model with a generous limit and must be
proven (OPTIMAL); the practice figures from ``matching.baselines.greedy`` run here, not from
the engine's own comparison."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as hyp_given
from hypothesis import strategies as st
from test_checker import given
from test_engine import random_instance

from matching import measures, model
from matching.baselines import greedy
from matching.constraints import side_data
from matching.engine import match
from matching.policy import Policy, SolverSettings
from matching.scoring import levels

ONE_WORKER = Policy(solver=SolverSettings(time_limit_seconds=5.0, workers=0, seed=0))


def _pairs(result) -> set[tuple[str, str]]:
    return set(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))


def _exact(result, instance, policy, limits=()):
    """The proven optimum of the same model (with the same held measures, if any)."""
    side = dataclasses.replace(side_data(instance, policy), limits=tuple(limits))
    solution = model.solve(result.scored, side, policy, time_limit=60.0)
    assert solution.status == "OPTIMAL"
    return solution.objective


def _busy_cores(n: int = 2) -> list[subprocess.Popen]:
    # Bounded: each spinner ends by itself after 120 s even if the test dies.
    code = "import time\nend = time.time() + 120\nwhile time.time() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def test_the_same_queue_gives_the_same_proposal_on_a_busy_machine():
    """The limits are counted in work done, not seconds: a run cut off by its limit stops at
    the same place whether the machine is idle or both cores are taken."""
    inst = random_instance(11, n_ref=40, n_vac=30)
    policy = ONE_WORKER.model_copy(update={"solver": SolverSettings(time_limit_seconds=0.05, workers=0)})
    idle = match(inst, policy, eligibility=given(inst, policy), force_cp_sat=True)
    spinners = _busy_cores()
    try:
        busy = match(inst, policy, eligibility=given(inst, policy), force_cp_sat=True)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert _pairs(idle) == _pairs(busy) and idle.objective == busy.objective
    assert idle.deterministic and busy.deterministic


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(st.integers(0, 10_000), st.booleans())
def test_a_reported_bound_is_never_beaten_and_optimal_is_the_optimum(seed, with_practice):
    inst = random_instance(seed, n_ref=14, n_vac=10)
    result = match(inst, ONE_WORKER, eligibility=given(inst, ONE_WORKER), practice=with_practice)
    comparison = result.practice
    best = _exact(result, inst, ONE_WORKER, comparison.limits if comparison is not None else ())
    if result.status == "OPTIMAL":
        assert result.objective == best
        assert all(g == 0.0 for g in result.gap.values())
        return
    for name, sense in levels(ONE_WORKER):  # a level's bound counts while the ones above are met
        bound = result.best_bound[name]
        if math.isnan(bound):
            break
        assert (best[name] <= bound) if sense == "max" else (best[name] >= bound), (seed, name)
        if best[name] != result.objective[name]:
            break


def assert_never_worse_unless_said(inst, result) -> None:
    practice, _ = greedy(result.scored, inst, ONE_WORKER)  # computed here, independently
    mine, theirs = measures.of(result.matches), measures.of(practice)
    assert result.practice.practice == theirs and result.practice.proposal == mine
    assert mine["placed"] >= theirs["placed"]  # placing young people is never traded away
    worse = measures.worse(mine, theirs)
    assert set(worse) <= set(result.practice.let_go)  # only what could not be held
    words = " ".join(result.practice.words())
    for name in worse:
        assert measures.BY_NAME[name].words.capitalize() in words
    if not worse:
        assert words.startswith("No worse than placing one young person at a time")


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(st.integers(0, 10_000))
def test_never_worse_than_one_at_a_time_unless_it_says_which_and_why(seed):
    inst = random_instance(seed, n_ref=14, n_vac=10)
    assert_never_worse_unless_said(inst, match(inst, ONE_WORKER, eligibility=given(inst, ONE_WORKER)))


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@hyp_given(st.integers(0, 10_000))
def test_a_large_queue_lets_a_measure_go_only_as_it_says(monkeypatch, seed):
    """The large-queue route (LP, measures ruled out by their LP floors before any try) keeps
    the same promise as the small one."""
    from matching import engine

    monkeypatch.setattr(engine, "FULL_MODEL_PAIRS", 0)
    inst = random_instance(seed, n_ref=14, n_vac=10)
    assert_never_worse_unless_said(inst, match(inst, ONE_WORKER, eligibility=given(inst, ONE_WORKER)))


def test_a_worse_first_proposal_is_held_no_worse_and_says_so():
    """A care leaver nearer to a home out of area than to one in area: one-at-a-time takes the
    nearest for each; the policy's wish for a preferred type would move someone further, so the
    engine holds total miles at practice's figure and says it re-solved."""
    from test_checker import make_instance, referral, vacancy

    inst = make_instance(
        [referral("R1", legal_status="former_relevant", date_of_birth=pytest.importorskip("pandas").Timestamp("2006-01-15"),
                  type_suitability={"supported_accommodation": "suitable", "supported_tenancy": "preferred"})],
        [vacancy("V1", miles_east=1.0), vacancy("V2", miles_east=4.0, service_type="supported_tenancy",
                                                setting="self_contained")],
    )
    result = match(inst, ONE_WORKER, eligibility=given(inst, ONE_WORKER))
    assert result.practice.worse == []
    first = match(inst, ONE_WORKER, eligibility=given(inst, ONE_WORKER), practice=False)
    if measures.worse(measures.of(first.matches), result.practice.practice):  # the policy alone chose V2
        assert "total_miles" in result.practice.held and "first proposal was worse" in " ".join(result.practice.words())
