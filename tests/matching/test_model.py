"""The CP-SAT model, one constraint family at a time: a feasible and an infeasible assignment
for each (CP-SAT primer style), and the model's quick test agreeing with the model itself and
with the independent checker."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given as hyp_given, settings, strategies as st
from ortools.sat.python import cp_model

from matching import checker, constraints, model
from matching.constraints import side_data
from matching.policy import Policy, SolverSettings
from matching.scoring import score
from test_checker import make_instance, referral, vacancy
from test_engine import random_instance

POLICY = Policy(solver=SolverSettings(time_limit_seconds=5.0, workers=2))
SIDE_CODES = {"placed_twice", "beds_exceeded", "intensive_cap", "siblings_split", "co_residency",
              "lock_not_honoured", "over_budget"}


def scored(instance, policy=POLICY) -> pd.DataFrame:
    pairs = checker.reference_pairs(instance, policy)
    return score(pairs, policy).reset_index(drop=True)


def feasible(instance, assignment, policy=POLICY) -> bool:
    """Is exactly this assignment allowed by the model? (every pair fixed to 1 or 0)"""
    pairs = scored(instance, policy)
    vars = model.build(pairs, side_data(instance, policy))
    wanted = set(assignment)
    for i, key in enumerate(zip(pairs["referral_id"], pairs["vacancy_id"])):
        vars.model.add(vars.x[i] == int(key in wanted))
    if wanted - set(zip(pairs["referral_id"], pairs["vacancy_id"])):
        return False
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    return solver.solve(vars.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def test_assignment_one_each_and_beds():
    inst = make_instance([referral("R1"), referral("R2")], [vacancy("V1"), vacancy("V2")])
    assert feasible(inst, [("R1", "V1"), ("R2", "V2")])
    assert not feasible(inst, [("R1", "V1"), ("R2", "V1")])  # one bed
    assert not feasible(inst, [("R1", "V1"), ("R1", "V2")])  # one placement each
    two = make_instance([referral("R1"), referral("R2")], [vacancy("V1", beds=2)])
    assert feasible(two, [("R1", "V1"), ("R2", "V1")])


def test_intensive_cap():
    refs = [referral("R1", tier="intensive"), referral("R2", tier="intensive"), referral("R3", tier="intensive")]
    vacs = [vacancy("V1", property_id="P1", beds=3)]
    inst = make_instance(refs, vacs)  # cap 2
    assert feasible(inst, [("R1", "V1"), ("R2", "V1")])
    assert not feasible(inst, [("R1", "V1"), ("R2", "V1"), ("R3", "V1")])
    flats = make_instance(refs, [vacancy("V1", property_id="P1", beds=3, setting="self_contained")])
    assert feasible(flats, [("R1", "V1"), ("R2", "V1"), ("R3", "V1")])
    enhanced_need = make_instance([referral("R1", tier="enhanced"), *refs[1:]],
                                  [vacancy("V1", property_id="P1", beds=3, price_enhanced=float("nan"))])
    assert not feasible(enhanced_need, [("R1", "V1"), ("R2", "V1"), ("R3", "V1")])  # served at intensive


def test_siblings():
    sibs = [referral("R1", sibling_group="S"), referral("R2", sibling_group="S"), referral("R3")]
    vacs = [vacancy("V1", property_id="P1"), vacancy("V2", property_id="P1"), vacancy("V3", property_id="P2")]
    inst = make_instance(sibs, vacs)
    assert feasible(inst, [("R1", "V1"), ("R2", "V2")])
    assert feasible(inst, [("R3", "V1")])
    assert not feasible(inst, [("R1", "V1")])
    assert not feasible(inst, [("R1", "V1"), ("R2", "V3")])


def test_co_residency_between_new_referrals():
    a = referral("R1", risks_to_self=["sexual_exploitation"])
    b = referral("R2", risks_to_others=["sexual"])
    c = referral("R3", risks_to_self=["self_harm"], risks_to_others=["physical"])  # clashes with itself only
    d = referral("R4", risks_to_self=["self_harm"])
    vacs = [vacancy("V1", property_id="P1", beds=4), vacancy("V2", property_id="P2")]
    inst = make_instance([a, b, c, d], vacs)
    assert not feasible(inst, [("R1", "V1"), ("R2", "V1")])
    assert feasible(inst, [("R1", "V1"), ("R2", "V2")])
    assert feasible(inst, [("R3", "V1"), ("R1", "V1")])  # someone carrying both risks can live alone
    assert not feasible(inst, [("R3", "V1"), ("R4", "V1")])  # physical risk with self-harm
    flats = make_instance([a, b], [vacancy("V1", property_id="P1", beds=2, setting="self_contained")])
    assert feasible(flats, [("R1", "V1"), ("R2", "V1")])


def test_co_residency_with_residents():
    young = referral("R1", risks_to_self=["sexual_exploitation"])
    vacs = [vacancy("V1", property_id="P1")]
    clash = make_instance([young], vacs, [{"property_id": "P1", "tier": None, "risks": ["to_others:sexual"]}])
    fine = make_instance([young], vacs, [{"property_id": "P1", "tier": None, "risks": ["sexual_exploitation"]}])
    assert not feasible(clash, [("R1", "V1")])
    assert feasible(fine, [("R1", "V1")])


def test_locks_and_budget():
    refs = [referral("R1"), referral("R2")]
    locked = make_instance(refs, [vacancy("V1"), vacancy("V2")], locks=[("R1", "V1")])
    assert not feasible(locked, [("R1", "V2")])
    assert feasible(locked, [("R1", "V1")])
    capped = Policy(solver=POLICY.solver, weekly_budget_cap=1999)
    inst = make_instance(refs, [vacancy("V1"), vacancy("V2")])
    assert not feasible(inst, [("R1", "V1"), ("R2", "V2")], capped)
    assert feasible(inst, [("R1", "V1")], capped)


def _solve(inst, policy=POLICY):
    pairs = scored(inst, policy)
    side = side_data(inst, policy)
    keep = constraints.exclusions(pairs, side) == ""
    return model.solve(pairs[keep], side, policy)


def test_one_folded_solve_reports_every_level():
    solution = _solve(random_instance(3))
    assert [(s.name, s.status) for s in solution.stages] == [("reward+penalty+cost", "OPTIMAL")]
    assert solution.status == "OPTIMAL" and solution.gap == {"reward": 0.0, "penalty": 0.0, "cost": 0.0}
    assert solution.best_bound == {k: float(v) for k, v in solution.objective.items()}


def test_stages_when_the_fold_is_too_large(monkeypatch):
    inst = random_instance(5, n_ref=10, n_vac=8)
    folded = _solve(inst)
    pairs, side = scored(inst), side_data(inst, POLICY)
    for digits in range(3, 17):  # a limit at which levels 2+3 still fold, but not all three
        monkeypatch.setattr(model, "FOLD_LIMIT", 10**digits)
        if len(model.plan(pairs, side, POLICY)) == 2:
            break
    two = _solve(inst)
    monkeypatch.setattr(model, "FOLD_LIMIT", 1)
    three = _solve(inst)
    assert [s.name for s in two.stages] == ["reward", "penalty+cost"]
    assert [s.name for s in three.stages] == ["reward", "penalty", "cost"]
    assert folded.objective == two.objective == three.objective
    assert all(s.status == "OPTIMAL" and s.gap == 0.0 for s in three.stages)


def test_split_bound_recovers_each_level():
    stage = model.Stage(("reward", "penalty", "cost"), (-1000, 10, 1), "min", np.zeros(0, dtype=np.int64))
    found = {"reward": 7, "penalty": 30, "cost": 4}
    value = -7 * 1000 + 30 * 10 + 4
    assert model.split_bound(stage, value, found) == {"reward": 7.0, "penalty": 30.0, "cost": 4.0}
    # A bound 3 below: reward and penalty proven, cost >= 1.
    assert model.split_bound(stage, value - 3, found) == {"reward": 7.0, "penalty": 30.0, "cost": 1.0}
    # A bound one penalty step below: penalty >= 29, so cost's bound means nothing yet.
    got = model.split_bound(stage, value - 10, found)
    assert got["reward"] == 7.0 and got["penalty"] == 29.0 and np.isnan(got["cost"])
    # A bound that allows one more placement: nothing below reward is known.
    got = model.split_bound(stage, value - 1000, found)
    assert got["reward"] == 8.0 and np.isnan(got["penalty"]) and np.isnan(got["cost"])


def draw_assignment(data, kept: pd.DataFrame):
    """A random assignment over the kept pairs, at most one option per young person: the chosen
    rows and their (referral, vacancy) pairs."""
    chosen_rows = []
    for _, group in kept.groupby("referral_id"):
        pick = data.draw(st.integers(-1, len(group) - 1))
        if pick >= 0:
            chosen_rows.append(group.index[pick])
    chosen = kept.loc[chosen_rows]
    return chosen, list(zip(chosen["referral_id"], chosen["vacancy_id"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@hyp_given(st.integers(0, 10_000), st.data())
def test_quick_test_model_and_checker_agree(seed, data):
    inst = random_instance(seed)
    policy = Policy(solver=POLICY.solver, weekly_budget_cap=data.draw(st.sampled_from([None, 2500])))
    pairs = scored(inst, policy)
    side = side_data(inst, policy)
    kept = pairs[constraints.exclusions(pairs, side) == ""]
    if kept.empty:
        return
    chosen, assignment = draw_assignment(data, kept)
    quick = not constraints.breaches(chosen, side)
    by_checker = not (SIDE_CODES & {v.code for v in checker.check(assignment, inst, policy)})
    assert quick == by_checker == feasible(inst, assignment, policy)
    repaired = constraints.repair(chosen, side)
    assert not constraints.breaches(repaired, side)
    assert checker.check(list(zip(repaired["referral_id"], repaired["vacancy_id"])), inst, policy) == []
