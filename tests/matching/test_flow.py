"""The min-cost flow on the assignment core: exact lexicographic folding, against brute force."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given as hyp_given, settings, strategies as st

from matching import flow as flow_module
from matching.flow import solve_flow
from matching.policy import Penalties, Policy
from matching.scoring import levels, score
from test_checker import make_instance, referral, vacancy
from test_scoring import pair, pairs_frame

POLICY = Policy()


def instance_with_beds(beds: dict[str, int]):
    return make_instance([referral()], [vacancy(v, beds=b) for v, b in sorted(beds.items())])


def solve(rows, free_beds, policy=POLICY, **kw):
    pairs = score(pairs_frame(rows), policy)
    return solve_flow(pairs, instance_with_beds(free_beds), policy, **kw)


def placed(solution) -> list[tuple[str, str]]:
    return list(zip(solution.chosen["referral_id"], solution.chosen["vacancy_id"]))


def test_the_more_urgent_young_person_takes_the_only_bed():
    s = solve([pair("R1", "V1", urgency="over_5_days"), pair("R2", "V1", urgency="today", miles_from_home=40)],
              {"V1": 1})
    assert placed(s) == [("R2", "V1")] and s.exact
    assert s.objective["reward"] == 3


def test_one_more_placement_beats_any_penalty():
    # R1 could go to V1 (near) or V2 (an emergency bed 59 miles away); R2 only to V1.
    rows = [pair("R1", "V1"), pair("R1", "V2", miles_from_home=59, emergency=True, at_a_distance=True,
                                   out_of_area=True, over_provision=2, weekly_cost=9000.0),
            pair("R2", "V1", miles_from_home=5)]
    s = solve(rows, {"V1": 1, "V2": 1})
    assert placed(s) == [("R1", "V2"), ("R2", "V1")]


def test_a_tenth_of_a_mile_is_not_worth_any_price():
    """Weekly cost counts in the second level at the policy's rate (a point per £50 a week by
    default): a much cheaper home a tenth of a mile further wins; an equally priced one loses."""
    rows = [pair("R1", "V1", miles_from_home=3.0, weekly_cost=5000.0), pair("R1", "V2", miles_from_home=3.1,
                                                                            weekly_cost=300.0)]
    assert placed(solve(rows, {"V1": 1, "V2": 1})) == [("R1", "V2")]
    rows[1]["weekly_cost"] = 5000.0
    assert placed(solve(rows, {"V1": 1, "V2": 1})) == [("R1", "V1")]


def test_penalty_before_cost_when_cost_is_left_to_the_last_level():
    last = Policy(penalties=Penalties(pounds_a_week_per_point=None))
    rows = [pair("R1", "V1", miles_from_home=3.0, weekly_cost=5000.0), pair("R1", "V2", miles_from_home=3.1,
                                                                            weekly_cost=300.0)]
    assert placed(solve(rows, {"V1": 1, "V2": 1}, last)) == [("R1", "V1")]
    rows[1]["miles_from_home"] = 3.0
    assert placed(solve(rows, {"V1": 1, "V2": 1}, last)) == [("R1", "V2")]


def test_weighted_mode_places_only_what_is_worth_its_price():
    weighted = Policy(mode="weighted")
    rows = [pair("R1", "V1", weekly_cost=20000.0), pair("R2", "V2", weekly_cost=800.0)]
    s = solve(rows, {"V1": 1, "V2": 1}, weighted)
    assert placed(s) == [("R2", "V2")]
    assert s.objective == {"pounds": 800 + 10 - weighted.pounds.placement_value["within_5_days"]}


def test_beds_can_be_overridden_and_empty_pairs_solve():
    rows = [pair("R1", "V1"), pair("R2", "V1", miles_from_home=2.0)]
    assert len(solve(rows, {"V1": 2}).chosen) == 2
    assert placed(solve(rows, {"V1": 2}, beds={"V1": 1})) == [("R1", "V1")]
    empty = solve_flow(score(pairs_frame([pair()]).iloc[0:0], POLICY), instance_with_beds({"V1": 1}), POLICY)
    assert empty.chosen.empty and empty.objective == {"reward": 0, "penalty": 0, "cost": 0}


def test_same_input_in_any_row_order_gives_the_same_answer():
    rows = [pair(f"R{i}", f"V{j}", miles_from_home=1.0, weekly_cost=1000.0) for i in range(4) for j in range(3)]
    a = solve(rows, {"V0": 1, "V1": 1, "V2": 1})
    b = solve(list(reversed(rows)), {"V0": 1, "V1": 1, "V2": 1})
    assert placed(a) == placed(b)


def test_costs_too_large_to_fold_are_solved_level_by_level(monkeypatch):
    rows = [pair("R1", "V1", miles_from_home=3.0, weekly_cost=5000.0),
            pair("R1", "V2", miles_from_home=3.1, weekly_cost=300.0),
            pair("R2", "V2", urgency="today", miles_from_home=7.0, weekly_cost=999.0)]
    folded = solve(rows, {"V1": 1, "V2": 1})
    monkeypatch.setattr(flow_module, "INT64_MAX", 2_000_000)
    levelled = solve(rows, {"V1": 1, "V2": 1})
    assert folded.method == "folded" and levelled.method == "level_by_level"
    assert levelled.exact and levelled.attempts
    assert placed(levelled) == placed(folded) and levelled.objective == folded.objective


# --- against brute force on small random instances ---------------------------------------------


def brute_force(pairs: pd.DataFrame, beds: dict[str, int], policy: Policy) -> dict[str, int]:
    """The best objective over every assignment, compared level by level."""
    by_referral = {r: g for r, g in pairs.groupby("referral_id")}
    names = levels(policy)
    best = None
    options = [[None, *g.index] for g in by_referral.values()]
    for choice in itertools.product(*options):
        rows = [i for i in choice if i is not None]
        used = pairs.loc[rows, "vacancy_id"].value_counts()
        if any(n > beds[v] for v, n in used.items()):
            continue
        value = tuple(
            (-1 if sense == "max" else 1) * int(pairs.loc[rows, name].sum()) for name, sense in names)
        if best is None or value < best:
            best = value
    return {name: (-v if sense == "max" else v) for (name, sense), v in zip(names, best)}


@st.composite
def small_problem(draw):
    n_ref = draw(st.integers(1, 5))
    n_vac = draw(st.integers(1, 3))
    rows = []
    for r in range(n_ref):
        for v in range(n_vac):
            if draw(st.booleans()):
                rows.append(pair(
                    f"R{r}", f"V{v}", urgency=draw(st.sampled_from(["today", "within_5_days", "over_5_days"])),
                    miles_from_home=draw(st.integers(0, 300)) / 10, weekly_cost=float(draw(st.integers(0, 3000))),
                    emergency=draw(st.booleans()), over_provision=draw(st.integers(0, 2)),
                ))
    beds = {f"V{v}": draw(st.integers(0, 2)) for v in range(n_vac)}
    return rows, beds


@settings(max_examples=80, deadline=None)
@hyp_given(small_problem(), st.sampled_from(["lexicographic", "weighted"]))
def test_flow_equals_brute_force_at_every_level(problem, mode):
    rows, beds = problem
    if not rows:
        return
    policy = Policy(mode=mode)
    pairs = score(pairs_frame(rows), policy)
    s = solve_flow(pairs, instance_with_beds(beds), policy)
    assert s.exact
    assert s.objective == brute_force(pairs, beds, policy)
    if mode == "lexicographic":  # the exact fallback for folds too large for int64
        assert solve_flow(pairs, instance_with_beds(beds), policy, fold=False).objective == s.objective
    assert s.chosen["referral_id"].is_unique
    assert all(n <= beds[v] for v, n in s.chosen["vacancy_id"].value_counts().items())


def test_pairs_naming_unknown_vacancies_are_refused():
    with pytest.raises(ValueError, match="V9"):
        solve([pair("R1", "V9")], {"V1": 1})


@settings(max_examples=40, deadline=None)
@hyp_given(small_problem())
def test_reduced_costs_bound_every_assignment(problem):
    """F(x) - F* >= sum of rc * (x - x*) over the pairs, for every assignment x: so a pair whose
    reduced cost exceeds a known gap is in no assignment within that gap."""
    rows, beds = problem
    if not rows:
        return
    pairs = score(pairs_frame(rows), POLICY)
    s = solve_flow(pairs, instance_with_beds(beds), POLICY)
    used = pairs.index.isin(s.chosen.index)
    rc = s.reduced_cost.loc[pairs.index].to_numpy()
    assert (rc[~used] >= 0).all() and (rc[used] <= 0).all()
    assert s.optimum == s.folded_value(s.chosen.index)
    options = [[None, *g.index] for _, g in pairs.groupby("referral_id")]
    for choice in itertools.product(*options):
        x = [i for i in choice if i is not None]
        if any(n > beds[v] for v, n in pairs.loc[x, "vacancy_id"].value_counts().items()):
            continue
        in_x = pairs.index.isin(x)
        assert s.folded_value(x) - s.optimum >= int((rc * (in_x.astype(int) - used.astype(int))).sum())


def test_categorical_ids_in_any_row_order_solve_as_sorted_plain_ones():
    rows = [pair(f"R{r}", f"V{v}", miles_from_home=1.0 + (3 * r + 5 * v) % 7, weekly_cost=900.0 + 10 * v)
            for r in range(4) for v in range(3)]
    free = {"V0": 1, "V1": 2, "V2": 1}
    plain = solve(rows, free)
    shuffled = score(pairs_frame(rows[::-1]), POLICY)
    # Categories for a vacancy no pair names too: the network must not count it.
    for col in ("referral_id", "vacancy_id"):
        shuffled[col] = pd.Categorical(shuffled[col], categories=sorted({*shuffled[col], "V9", "R9"}))
    coded = solve_flow(shuffled, instance_with_beds(free), POLICY)
    assert [tuple(map(str, p)) for p in placed(coded)] == placed(plain)
    assert coded.objective == plain.objective
    # Labels still point at the caller's rows, and the reduced costs follow them.
    assert (shuffled.loc[coded.chosen.index, "vacancy_id"].astype(str).tolist()
            == coded.chosen["vacancy_id"].astype(str).tolist())
    assert sorted(coded.reduced_cost.index) == sorted(shuffled.index)
