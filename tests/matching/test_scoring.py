"""Scoring: one integer column per objective term, as the policy says.

``pair`` / ``pairs_frame`` build eligible-pair rows by hand (the columns of
``matching.eligibility``'s pairs); the flow and model tests use them too."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from matching.policy import Penalties, Policy
from matching.scoring import PENALTY_TERMS, POUND_TERMS, SCORE_COLUMNS, score, totals


def pair(referral_id="R1", vacancy_id="V1", **kw) -> dict:
    row = {
        "referral_id": referral_id, "vacancy_id": vacancy_id, "property_id": "P" + vacancy_id[1:],
        "tier": "standard", "need_tier": "standard", "over_provision": 0, "weekly_cost": 1000.0,
        "miles_from_home": 1.0, "miles_from_education": math.nan, "la_code": "E06000035",
        "in_area": True, "adjoining": False, "at_a_distance": False, "out_of_area": False,
        "service_type": "supported_accommodation", "setting": "shared_care_experienced",
        "shared_home": True, "suitability": "preferred", "outside_preferred": False,
        "emergency": False, "urgency": "within_5_days", "sibling_group": None,
        "start_date": pd.Timestamp("2026-11-23"),
    }
    row.update(kw)
    return row


def pairs_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


POLICY = Policy()


def test_a_plain_pair_near_home():
    s = score(pairs_frame([pair()]), POLICY).iloc[0]
    assert s["pen_home_miles"] == 10 and s["pen_weekly_cost"] == 1000 // POLICY.penalties.pounds_a_week_per_point
    assert s["penalty"] == 10 + s["pen_weekly_cost"]
    assert s["reward"] == 2 and s["cost"] == 1000
    assert all(s[c] == 0 for c in PENALTY_TERMS if c not in ("pen_home_miles", "pen_weekly_cost"))


def test_every_penalty_term():
    row = pair(
        miles_from_home=20.1, miles_from_education=3.4, out_of_area=True, in_area=False,
        at_a_distance=True, over_provision=2, suitability="suitable", outside_preferred=True,
        emergency=True, urgency="today", weekly_cost=1234.5,
    )
    s = score(pairs_frame([row]), POLICY).iloc[0]
    p = POLICY.penalties
    expected = {
        "pen_home_miles": 201, "pen_education_miles": 34, "pen_over_20_miles": p.over_20_miles,
        "pen_out_of_area": p.out_of_area, "pen_at_a_distance": p.at_a_distance,
        "pen_over_provision": 2 * p.over_provision_per_tier, "pen_not_preferred": p.suitable_not_preferred,
        "pen_outside_preferred": p.outside_preferred_area, "pen_emergency": p.emergency,
        "pen_weekly_cost": 1235 // p.pounds_a_week_per_point,
    }
    assert {c: int(s[c]) for c in PENALTY_TERMS} == expected
    assert s["penalty"] == sum(expected.values())
    assert s["reward"] == 3 and s["cost"] == 1235  # whole pounds, half up


def test_the_20_mile_step_is_strictly_more_than_20():
    s = score(pairs_frame([pair(miles_from_home=20.0), pair("R2", miles_from_home=20.1)]), POLICY)
    assert s["pen_over_20_miles"].tolist() == [0, POLICY.penalties.over_20_miles]


def test_coefficients_come_from_the_policy():
    policy = Policy(penalties=Penalties(per_tenth_mile_home=3, over_provision_per_tier=7))
    s = score(pairs_frame([pair(miles_from_home=2.5, over_provision=1)]), policy).iloc[0]
    assert s["pen_home_miles"] == 75 and s["pen_over_provision"] == 7


def test_weighted_pounds():
    row = pair(miles_from_home=12.3, miles_from_education=0.4, out_of_area=True, suitability="suitable",
               urgency="over_5_days", weekly_cost=900.0)
    s = score(pairs_frame([row]), POLICY).iloc[0]
    p = POLICY.pounds
    assert s["pounds_home_miles"] == 123  # £10 a mile on 12.3 miles
    assert s["pounds_education_miles"] == 4
    assert s["value"] == p.placement_value["over_5_days"]
    assert s["pounds"] == 900 + 123 + 4 + p.out_of_area + p.suitable_not_preferred - p.placement_value["over_5_days"]


def test_columns_are_integers_and_the_input_is_untouched():
    frame = pairs_frame([pair(), pair("R2", "V2", miles_from_home=7.7)])
    before = frame.copy()
    s = score(frame, POLICY)
    pd.testing.assert_frame_equal(frame, before)
    for col in SCORE_COLUMNS:  # 4 bytes a pair each: millions of pairs stay in memory
        assert s[col].dtype == np.int32, col
    assert set(POUND_TERMS) <= set(s.columns)
    assert totals(s, POLICY) == {"reward": 4, "penalty": 10 + 77 + 2 * 1000 // POLICY.penalties.pounds_a_week_per_point,
                                 "cost": 2000}
    assert totals(s, Policy(mode="weighted")) == {"pounds": int(s["pounds"].sum())}


def test_area_weighs_on_looked_after_children_and_not_on_care_leavers():
    far = dict(out_of_area=True, in_area=False, at_a_distance=True)
    s = score(pairs_frame([pair(looked_after=True, **far), pair("R2", looked_after=False, **far)]), POLICY)
    p = POLICY.penalties
    assert s["pen_out_of_area"].tolist() == [p.out_of_area, p.care_leaver_out_of_area]
    assert s["pen_at_a_distance"].tolist() == [p.at_a_distance, p.care_leaver_at_a_distance]
    assert p.out_of_area > p.care_leaver_out_of_area == 0


def test_weekly_cost_can_be_left_to_the_last_level():
    policy = Policy(penalties=Penalties(pounds_a_week_per_point=None))
    s = score(pairs_frame([pair(weekly_cost=2500.0)]), policy).iloc[0]
    assert s["pen_weekly_cost"] == 0 and s["cost"] == 2500


def test_unknown_authority_counts_as_out_of_area():
    row = pair(out_of_area=pd.NA, at_a_distance=pd.NA)
    frame = pairs_frame([row])
    frame["out_of_area"] = frame["out_of_area"].astype("boolean")
    frame["at_a_distance"] = frame["at_a_distance"].astype("boolean")
    s = score(frame, POLICY).iloc[0]
    assert s["pen_out_of_area"] == POLICY.penalties.out_of_area
    assert s["pen_at_a_distance"] == POLICY.penalties.at_a_distance


def test_empty_pairs_and_bad_urgency():
    empty = score(pairs_frame([pair()]).iloc[0:0], POLICY)
    assert empty.empty and "penalty" in empty.columns
    with pytest.raises(ValueError, match="urgency"):
        score(pairs_frame([pair(urgency="someday")]), POLICY)


def test_a_term_too_large_for_four_bytes_stays_exact():
    huge = Policy(penalties=Penalties(emergency=3_000_000_000))
    s = score(pairs_frame([pair(emergency=True), pair("R2", "V2")]), huge)
    assert s["pen_emergency"].dtype == np.int64 and s["pen_emergency"].tolist() == [3_000_000_000, 0]
    assert int(s["penalty"].iloc[0]) == 3_000_000_000 + int(s["pen_home_miles"].iloc[0]) + int(
        s["pen_weekly_cost"].iloc[0] if "pen_weekly_cost" in s else 0)


def test_labels_as_categories_score_the_same_as_plain_strings():
    rows = [pair(urgency="today", suitability="suitable"), pair("R2", "V2", urgency="over_5_days", miles_from_home=7.7),
            pair("R3", "V1", urgency="within_5_days", sibling_group="S1")]
    plain = pairs_frame(rows)
    coded = plain.copy()
    for col in ("referral_id", "vacancy_id", "property_id", "tier", "need_tier", "la_code", "service_type",
                "setting", "suitability", "urgency", "sibling_group"):
        coded[col] = coded[col].astype("category")
    for policy in (POLICY, Policy(mode="weighted")):
        a, b = score(plain, policy), score(coded, policy)
        pd.testing.assert_frame_equal(a[SCORE_COLUMNS], b[SCORE_COLUMNS])


def test_the_scored_frame_shares_the_pairs_columns_instead_of_copying_them():
    frame = pairs_frame([pair(), pair("R2", "V2", miles_from_home=7.7)])
    s = score(frame, POLICY)
    assert np.shares_memory(s["miles_from_home"].to_numpy(), frame["miles_from_home"].to_numpy())
    s.loc[0, "miles_from_home"] = 99.0  # copy-on-write: writing to the scored frame leaves the pairs alone
    assert frame.loc[0, "miles_from_home"] == 1.0
