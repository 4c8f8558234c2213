"""What the panel reads: each proposal explained, each young person left unplaced with the
reason, alternatives with their difference from the proposal, and `analyze` of the panel's
own choice."""

from __future__ import annotations

import math

import pytest

from matching.analyze import analyze
from matching.engine import match
from matching.explain import explain
from matching.policy import Policy, SolverSettings
from test_checker import BEXLEY, KENT_DISTRICT, make_instance, referral, vacancy

POLICY = Policy(solver=SolverSettings(time_limit_seconds=5, workers=2))


def run(instance, policy=POLICY):
    result = match(instance, policy)
    return result, explain(result, instance, policy)


def test_a_proposal_shows_distance_area_cost_tier_approvals_and_its_score_terms():
    inst = make_instance(
        [referral("R1", tier="enhanced")],
        [vacancy("V1", miles_east=25, la_code=BEXLEY, price_enhanced=2600.0)],
    )
    _, ex = run(inst)
    m = ex.matches.iloc[0]
    assert (m.referral_id, m.vacancy_id, m.tier, m.weekly_cost) == ("R1", "V1", "enhanced", 2600.0)
    assert m.miles_from_home == 25.0 and bool(m.out_of_area) and bool(m.at_a_distance)
    assert m.approvals_required == [
        "out_of_area:service_manager", "at_a_distance:director", "over_20_miles:director",
        "cost_ceiling:head_of_service"]
    assert m.pen_home_miles == 250 and m.pen_over_20_miles == 100 and m.pen_at_a_distance == 150
    assert m.score_distance == 250 + 100 + 50 + 150 and m.score_cost == 2600


def test_unplaced_with_no_option_gets_the_rule_funnel():
    inst = make_instance(
        [referral("R1", tier="intensive")],
        [vacancy("V1", price_intensive=math.nan), vacancy("V2", price_intensive=math.nan, miles_east=70)],
    )
    _, ex = run(inst)
    u = ex.unplaced.iloc[0]
    assert u.referral_id == "R1" and u.eligible_options == 0
    assert u.excluded_by == "beyond_distance_cap=1;tier_not_offered=1"
    assert "no eligible vacancy" in u.reason


def test_unplaced_whose_only_bed_went_to_someone_more_urgent_names_them():
    inst = make_instance(
        [referral("R1", urgency="over_5_days"), referral("R2", urgency="today")],
        [vacancy("V1")],
    )
    result, ex = run(inst)
    assert result.matches["referral_id"].tolist() == ["R2"]
    u = ex.unplaced.set_index("referral_id").loc["R1"]
    assert u.eligible_options == 1 and u.taken_by == "R2"
    assert "went to proposals for others" in u.reason


def test_alternatives_are_ranked_and_show_the_difference_from_the_proposal():
    inst = make_instance(
        [referral("R1")],
        [vacancy("V1", miles_east=1), vacancy("V2", miles_east=3), vacancy("V3", miles_east=6),
         vacancy("V4", miles_east=9), vacancy("V5", miles_east=12)],
    )
    _, ex = run(inst)
    assert ex.matches["vacancy_id"].tolist() == ["V1"]
    alt = ex.alternatives
    assert alt["vacancy_id"].tolist() == ["V2", "V3", "V4"]  # policy.alternatives = 3
    assert alt["rank"].tolist() == [1, 2, 3]
    assert alt["penalty_vs_proposal"].tolist() == [20, 50, 80]


def test_analyze_scores_the_panels_choice_and_lists_every_rule_it_breaks():
    inst = make_instance(
        [referral("R1", risks_to_others=["fire_setting"])],
        [vacancy("V1", miles_east=2), vacancy("V2", miles_east=65, excludes_risks=["to_others:fire_setting"])],
    )
    good = analyze([("R1", "V1")], inst, POLICY)
    assert good.allowed and good.objective == {"reward": 2, "penalty": 20 + 100, "cost": 1000}
    bad = analyze([("R1", "V2")], inst, POLICY)
    assert not bad.allowed
    assert {v.code for v in bad.violations} >= {"beyond_distance_cap", "risk_excluded"}
    assert set(bad.placements.iloc[0]["broken"]) == {"beyond_distance_cap", "risk_excluded"}
    assert bad.placements.iloc[0]["pen_home_miles"] == 650


def test_analyze_agrees_with_the_engine_on_the_engines_own_proposal():
    inst = make_instance(
        [referral(f"R{i}", tier=t) for i, t in enumerate(["standard", "enhanced", "standard"])],
        [vacancy("V1", miles_east=2, beds=2), vacancy("V2", miles_east=4, la_code=KENT_DISTRICT)],
    )
    result, _ = run(inst)
    pairs = list(zip(result.matches["referral_id"], result.matches["vacancy_id"]))
    analysis = analyze(pairs, inst, POLICY)
    assert analysis.allowed
    assert analysis.objective == result.objective


@pytest.mark.parametrize("mode", ["lexicographic", "weighted"])
def test_an_empty_queue_and_no_vacancies_are_answers_not_crashes(mode):
    policy = Policy(mode=mode, solver=POLICY.solver)
    empty = make_instance([], [vacancy("V1")])
    result, ex = run(empty, policy)
    assert result.status == "OPTIMAL" and len(ex.matches) == 0 and len(ex.unplaced) == 0
    nothing = make_instance([referral("R1")], [])
    result, ex = run(nothing, policy)
    assert result.unplaced == ["R1"]
    assert ex.unplaced.iloc[0]["reason"] == "no vacancies to consider"
