"""What the panel reads: each proposal explained, each young person left unplaced with the
reason, alternatives with their difference from the proposal, and `analyze` of the panel's
own choice."""

from __future__ import annotations

import math

import pandas as pd
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
    pen = POLICY.penalties  # a looked-after child: reg. 11's area terms count
    assert m.pen_home_miles == 250 and m.pen_over_20_miles == pen.over_20_miles
    assert m.pen_at_a_distance == pen.at_a_distance and m.pen_out_of_area == pen.out_of_area
    assert m.score_distance == 250 + pen.over_20_miles + pen.out_of_area + pen.at_a_distance and m.score_cost == 2600


def test_each_proposal_says_why_this_home_and_why_not_the_nearer_one_it_passed_over():
    # R1 and R2 both want the nearer bed (V1, a mile away); R2 is more urgent and gets it, so
    # R1's proposal (V2, 3 miles) says why V1 was passed over: R2 holds it.
    inst = make_instance(
        [referral("R1", urgency="over_5_days"), referral("R2", urgency="today")],
        [vacancy("V1", miles_east=1), vacancy("V2", miles_east=3, la_code=KENT_DISTRICT)],
    )
    _, ex = run(inst)
    why = dict(zip(ex.matches["referral_id"], ex.matches["why"]))
    assert why["R2"] == ("P1 (supported accommodation) offers the support assessed, in the council's area: "
                         "1.0 miles from home. It is the nearest of the 2 homes listed for them.")
    assert why["R1"].startswith("P2 (supported accommodation) offers the support assessed, out of area, in the "
                                "adjoining Maidstone: 3.0 miles from home.")
    assert why["R1"].endswith("Nearer homes were not chosen: P1, 1.0 miles: held by R2 in this proposal.")


def test_why_this_home_names_more_support_than_assessed_a_distant_authority_and_the_only_home():
    from matching.why import Home, why_this_home

    said = why_this_home(Home("Gillingham house", 31.4), service_type="childrens_home", tier="intensive",
                         assessed_tier="enhanced", out_of_area=True, at_a_distance=True, la_code=BEXLEY,
                         miles_from_education=2.25, others=[], area_name=lambda code: {BEXLEY: "Bexley"}[code])
    assert said == ("Gillingham house (children's home) offers intensive support (more than the enhanced support "
                    "assessed), out of area, in Bexley (not an adjoining authority): 31.4 miles from home and 2.2 "
                    "from school, college or work. It is the only home open to them.")


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
    assert u.reason.startswith("its one remaining home went to other young people: the proposal as a whole")


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
    pen = POLICY.penalties
    expected = 20 + pen.suitable_not_preferred + 1000 // pen.pounds_a_week_per_point
    assert good.allowed and good.objective == {"reward": 2, "penalty": expected, "cost": 1000}
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


# --- why each alternative was not proposed ---------------------------------------------------


def why_not(ex, rid, vid) -> str:
    alt = ex.alternatives
    return alt[(alt["referral_id"] == rid) & (alt["vacancy_id"] == vid)]["why_not"].item()


def test_an_alternative_someone_else_holds_says_who():
    inst = make_instance(
        [referral("R1", urgency="over_5_days"), referral("R2", urgency="today")],
        [vacancy("V1", miles_east=1), vacancy("V2", miles_east=8)],
    )
    result, ex = run(inst)
    assert placements_of(result) == {"R1": "V2", "R2": "V1"} or placements_of(result) == {"R1": "V1", "R2": "V2"}
    far = "R1" if placements_of(result)["R1"] == "V2" else "R2"
    near_holder = "R2" if far == "R1" else "R1"
    assert why_not(ex, far, "V1") == f"held by {near_holder} in this proposal"
    assert ex.alternatives.set_index("referral_id").loc[far, "held_by"] == near_holder


def test_a_free_alternative_says_what_makes_it_worse_in_figures():
    inst = make_instance(
        [referral("R1")],
        [vacancy("V1", miles_east=1, price_standard=1000.0),
         vacancy("V2", miles_east=3.1, price_standard=1145.0, la_code=KENT_DISTRICT)],
    )
    _, ex = run(inst)
    assert ex.matches["vacancy_id"].tolist() == ["V1"]
    assert why_not(ex, "R1", "V2") == "2.1 miles further from home; £145 a week dearer; outside the council's area"


def test_an_alternative_that_would_split_siblings_says_so():
    # R3 can only live at P2, so one bed is left there: too few for the two siblings.
    inst = make_instance(
        [referral("R1", sibling_group="S1"), referral("R2", sibling_group="S1"),
         referral("R3", risks_to_self=["going_missing"])],
        [vacancy("V1", miles_east=3, beds=2, property_id="P1", excludes_risks=["going_missing"]),
         vacancy("V2", miles_east=1, property_id="P2"), vacancy("V3", miles_east=1, property_id="P2")],
    )
    result, ex = run(inst)
    placed = placements_of(result)
    assert placed["R1"] == placed["R2"] == "V1"
    free = ({"V2", "V3"} - {placed["R3"]}).pop()
    assert why_not(ex, "R1", free) == "would separate the sibling group"
    assert why_not(ex, "R1", placed["R3"]) == "held by R3 in this proposal; would separate the sibling group"


def test_an_alternative_over_the_intensive_cap_says_so():
    policy = Policy(solver=POLICY.solver, max_intensive_per_shared_home=1)
    inst = make_instance(
        [referral("R1", tier="intensive"), referral("R2", tier="intensive")],
        [vacancy("V1", miles_east=1, beds=2, property_id="P1", price_intensive=3000.0),
         vacancy("V2", miles_east=5, property_id="P2", price_intensive=3000.0)],
    )
    result, ex = run(inst, policy)
    moved = placements_of(result)
    away = next(r for r, v in moved.items() if v == "V2")
    assert why_not(ex, away, "V1") == (
        "the home would then have more young people needing intensive support than it allows")


def test_an_alternative_shared_with_a_clashing_young_person_says_so():
    a = referral("R1", risks_to_self=["sexual_exploitation"])
    b = referral("R2", risks_to_others=["sexual"])
    inst = make_instance([a, b], [vacancy("V1", property_id="P1", beds=2), vacancy("V2", 9.0, property_id="P2")])
    result, ex = run(inst)
    away = next(r for r, v in placements_of(result).items() if v == "V2")
    assert why_not(ex, away, "V1") == "shares a home with someone whose risks clash"


def test_explanations_from_the_engines_scored_pairs_are_the_same_and_the_top_options_match_a_full_sort():
    from benchmarks.instances import make_instance as dense
    from matching.eligibility import eligible_pairs
    from matching.scoring import score

    inst, cap = dense(40, 120, seed=7, distance_cap=60)
    policy = Policy(distance_cap_miles=cap, alternatives=4, solver=POLICY.solver)
    result = match(inst, policy)
    plain = explain(result, inst, policy)
    scored = score(eligible_pairs(inst, policy).pairs, policy)
    given_scored = explain(result, inst, policy, scored=scored)
    pd.testing.assert_frame_equal(plain.alternatives, given_scored.alternatives)
    pd.testing.assert_frame_equal(plain.unplaced, given_scored.unplaced)

    # The reference: sort every pair by the policy's order and take the first four per person.
    s = scored.astype({"referral_id": str, "vacancy_id": str})
    proposal = set(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))
    out = set(zip(result.side_excluded["referral_id"].astype(str), result.side_excluded["vacancy_id"].astype(str)))
    keep = [(r, v) not in proposal | out for r, v in zip(s["referral_id"], s["vacancy_id"])]
    expected = (s[keep].sort_values(["referral_id", "penalty", "cost", "vacancy_id"])
                .groupby("referral_id").head(4))
    got = plain.alternatives
    assert list(zip(got["referral_id"], got["vacancy_id"])) == list(zip(expected["referral_id"], expected["vacancy_id"]))
    assert got.groupby("referral_id")["rank"].apply(list).map(lambda r: r == list(range(1, len(r) + 1))).all()
    assert got["why_not"].map(lambda w: isinstance(w, str) and len(w) > 0).all()


def placements_of(result) -> dict:
    return dict(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))
