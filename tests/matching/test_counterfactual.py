"""Why not that home? Locking an alternative shows who else moves, who loses a placement and
what happens to miles and cost; locking it again reproduces exactly what was said."""

from __future__ import annotations

import dataclasses

from matching import measures
from matching.counterfactual import what_if
from matching.engine import match
from matching.policy import Policy, SolverSettings
from test_checker import given, make_instance, referral, vacancy

POLICY = Policy(solver=SolverSettings(time_limit_seconds=5.0, workers=0))


def _placements(result):
    return dict(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))


def test_the_nearer_bed_held_by_someone_else_moves_them_and_says_so():
    # One bed near both homes, one further away: the engine gives the near bed to the more
    # urgent young person; asking for it for the other moves the first to the far bed.
    inst = make_instance([referral("R1", urgency="today"), referral("R2", urgency="over_5_days")],
                         [vacancy("V1", miles_east=1.0), vacancy("V2", miles_east=12.0)])
    result = match(inst, POLICY, eligibility=given(inst, POLICY))
    before = _placements(result)
    holder = next(r for r, v in before.items() if v == "V1")
    other = "R2" if holder == "R1" else "R1"
    cf = what_if(inst, POLICY, result, other, "V1")
    assert cf.possible and (holder, "V1", "V2") in cf.moved and cf.lose_placement == []
    assert f"{holder} would move to another home" in cf.words()
    # Locking it by hand gives exactly the stated changes.
    locked = dataclasses.replace(inst, locks=[(other, "V1")])
    again = match(locked, POLICY, eligibility=given(locked, POLICY))
    assert _placements(again)[other] == "V1" and _placements(again)[holder] == "V2"
    diff = {n: measures.of(again.matches)[n] - measures.of(result.matches)[n] for n in measures.BY_NAME}
    assert diff == cf.change


def test_a_home_that_breaks_a_rule_is_not_possible_and_says_why():
    inst = make_instance([referral("R1", sex="male")], [vacancy("V1", sex="female"), vacancy("V2")])
    result = match(inst, POLICY, eligibility=given(inst, POLICY))
    cf = what_if(inst, POLICY, result, "R1", "V1")
    assert not cf.possible and "the home is for the other sex" in cf.reason and "_" not in cf.reason
    assert cf.words().startswith("Giving V1 to R1 is not possible")
