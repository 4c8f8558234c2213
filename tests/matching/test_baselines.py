"""The greedy panel: one at a time, most urgent first, nearest bed; it keeps every rule."""

from __future__ import annotations

from matching import checker
from matching.baselines import greedy, queue_order
from matching.engine import match
from matching.policy import Policy, SolverSettings
from matching.scoring import score
from test_checker import given, make_instance, referral, vacancy

POLICY = Policy(solver=SolverSettings(time_limit_seconds=5, workers=2))


def _greedy(inst, policy=POLICY):
    pairs = score(given(inst, policy).pairs, policy)
    return greedy(pairs, inst, policy)[0]


def test_most_urgent_then_longest_waiting_goes_first():
    inst = make_instance([
        referral("R1", urgency="over_5_days", referred_on="2026-10-01"),
        referral("R2", urgency="today", referred_on="2026-11-20"),
        referral("R3", urgency="today", referred_on="2026-11-01"),
    ], [])
    assert queue_order(inst.referrals) == ["R3", "R2", "R1"]


def test_each_takes_the_nearest_free_bed_and_the_engine_does_better_for_the_queue():
    # R1 (urgent) has two beds in reach and greedy gives it the nearer, which was the only bed
    # within R2's 60-mile reach; the engine sends R1 to the other and places both.
    west = 575000.0 - 50 * 1609.3
    inst = make_instance(
        [referral("R1", urgency="today"), referral("R2", urgency="over_5_days", home_e=west)],
        [vacancy("V1", miles_east=-10), vacancy("V2", miles_east=15)],
    )
    chosen = _greedy(inst)
    assert list(zip(chosen["referral_id"], chosen["vacancy_id"])) == [("R1", "V1")]
    engine = match(inst, POLICY)
    assert list(zip(engine.matches["referral_id"], engine.matches["vacancy_id"])) == [("R1", "V2"), ("R2", "V1")]


def test_greedy_keeps_beds_coresidency_and_siblings():
    inst = make_instance(
        [referral("R1", urgency="today", risks_to_others=["sexual"]),
         referral("R2", risks_to_self=["sexual_exploitation"]),
         referral("R3", sibling_group="S"), referral("R4", sibling_group="S")],
        [vacancy("V1", property_id="P1", beds=2), vacancy("V2", property_id="P2", beds=1, miles_east=2),
         vacancy("V3", property_id="P3", beds=2, miles_east=3)],
    )
    chosen = _greedy(inst)
    pairs = list(zip(chosen["referral_id"], chosen["vacancy_id"]))
    assert checker.check(pairs, inst, POLICY) == []
    placed = dict(pairs)
    assert placed.get("R3") == placed.get("R4")  # together or not at all
