"""The panel policy file: documented defaults, partial overrides, and clear refusals."""

from __future__ import annotations

import pytest

from matching.policy import DEFAULT_POLICY_FILE, Policy, PolicyError, load_policy
from models.enums import Urgency


def test_the_documented_defaults_file_is_the_defaults():
    assert load_policy(DEFAULT_POLICY_FILE) == Policy()
    assert load_policy(None) == Policy()


def test_a_file_changes_only_what_it_names(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("distance_cap_miles: 25\npenalties:\n  out_of_area: 500\n")
    policy = load_policy(path)
    assert policy.distance_cap_miles == 25
    assert policy.penalties.out_of_area == 500
    assert policy.penalties.at_a_distance == Policy().penalties.at_a_distance
    assert policy.urgency_weights[Urgency.today] == 3


def test_an_unknown_key_is_refused_with_its_path(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("penalties:\n  out_of_aera: 500\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "penalties.out_of_aera" in str(info.value) and str(path) in str(info.value)


def test_a_negative_penalty_and_a_missing_urgency_are_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("penalties: {emergency: -1}\nurgency_weights: {today: 3}\n")
    message = str(pytest.raises(PolicyError, load_policy, path).value)
    assert "penalties.emergency" in message
    assert "within_5_days" in message


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("mode: weighted\npenalties: [unclosed\n")
    assert "line" in str(pytest.raises(PolicyError, load_policy, path).value)


def test_a_missing_file_is_named(tmp_path):
    assert "no such policy file" in str(pytest.raises(PolicyError, load_policy, tmp_path / "nope.yaml").value)


def test_an_unknown_risk_in_the_incompatibility_table_is_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("incompatible:\n  - [arson, self_harm]\n")
    assert "incompatible" in str(pytest.raises(PolicyError, load_policy, path).value)
