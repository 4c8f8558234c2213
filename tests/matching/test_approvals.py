"""Which manager must approve a placement: each rule in an approval-needed / not-needed pair."""

from __future__ import annotations

import pandas as pd
import pytest

from matching.approvals import DEFAULT_APPROVALS_FILE, ApprovalPolicy, approvals_required, load_approval_policy

NEAR = dict(
    legal_status="looked_after", out_of_area=False, at_a_distance=False, miles_from_home=4.2,
    ofsted_registered=True, emergency=False, tier="enhanced", weekly_cost=1800.0,
)


def needed(**changes) -> list[str]:
    return approvals_required(pd.DataFrame([{**NEAR, **changes}]), ApprovalPolicy())[0]


def test_a_near_registered_placement_within_its_ceiling_needs_no_approval():
    assert needed() == []


def test_reg_11_out_of_area_needs_the_nominated_officer():
    assert needed(out_of_area=True, miles_from_home=9) == ["out_of_area:service_manager"]


def test_reg_11_at_a_distance_needs_the_director():
    assert needed(out_of_area=True, at_a_distance=True, miles_from_home=15) == [
        "out_of_area:service_manager", "at_a_distance:director"]


def test_over_20_miles_needs_the_director_and_20_exactly_does_not():
    assert needed(miles_from_home=20.0) == []
    assert needed(miles_from_home=20.1) == ["over_20_miles:director"]


def test_unregistered_and_emergency_need_the_head_of_service():
    assert needed(ofsted_registered=False) == ["unregistered:head_of_service"]
    assert needed(emergency=True) == ["emergency:head_of_service"]


def test_cost_above_the_tier_ceiling_needs_the_head_of_service():
    assert needed(weekly_cost=2500.0) == []
    assert needed(weekly_cost=2500.5) == ["cost_ceiling:head_of_service"]


def test_care_leavers_follow_their_own_rules():
    leaver = dict(legal_status="former_relevant")
    assert needed(**leaver, out_of_area=True, miles_from_home=9) == []
    assert needed(**leaver, out_of_area=True, at_a_distance=True, miles_from_home=30) == [
        "at_a_distance:service_manager", "over_20_miles:service_manager"]
    assert needed(**leaver, ofsted_registered=False) == []


def test_the_defaults_file_matches_the_defaults_and_a_council_can_change_them(tmp_path):
    assert load_approval_policy(DEFAULT_APPROVALS_FILE) == ApprovalPolicy()
    path = tmp_path / "approvals.yaml"
    path.write_text("looked_after:\n  over_20_miles: null\ncare_leavers:\n  out_of_area: service_manager\n")
    policy = load_approval_policy(path)
    frame = pd.DataFrame([{**NEAR, "miles_from_home": 30.0}, {**NEAR, "legal_status": "relevant", "out_of_area": True}])
    assert approvals_required(frame, policy).tolist() == [[], ["out_of_area:service_manager"]]


def test_an_unknown_role_is_refused(tmp_path):
    path = tmp_path / "approvals.yaml"
    path.write_text("looked_after:\n  out_of_area: mayor\n")
    with pytest.raises(ValueError, match="looked_after.out_of_area"):
        load_approval_policy(path)


def test_an_approvals_file_using_yaml_aliases_is_refused_before_it_expands(tmp_path):
    bomb = tmp_path / "approvals.yaml"
    bomb.write_text('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
                    'c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="anchor"):
        load_approval_policy(bomb)
    plain = tmp_path / "plain.yaml"
    plain.write_text("cost_ceilings:\n  standard: 1300\n", encoding="utf-8")
    assert load_approval_policy(plain).cost_ceilings["standard"] == 1300
