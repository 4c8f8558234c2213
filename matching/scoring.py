"""Score every eligible pair: one integer column per objective term, vectorised.

The solvers never see miles or pounds as floats: each term is turned into a coarse integer here
(tenths of a mile, whole pounds), once, so the min-cost flow, CP-SAT and the explanations all
read the same numbers. Column names are what explanations show.

Lexicographic mode, three levels:

1. ``reward``: ``policy.urgency_weights[urgency]`` for placing the young person (maximised);
2. ``penalty``: the sum of the ``pen_*`` terms below, in points (1 point = a tenth of a mile),
   the weekly cost among them at the policy's exchange rate (``pounds_a_week_per_point``);
3. ``cost``: the weekly cost in whole pounds (what is left to choose between equals).

Weighted mode, one level: ``pounds`` = ``cost`` + the ``pounds_*`` terms - ``value`` (the
placement value by urgency), minimised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.policy import Policy
from models import glossary

# Level (2): column -> what an explanation calls it.
PENALTY_TERMS = glossary.WEIGHED  # each term in words (never shown with its weight)
# The weighted mode's terms, in pounds a week, in the same order.
# (The weekly cost is the weighted sum's own first term, so it has no pounds_ column.)
POUND_TERMS = {p.replace("pen_", "pounds_"): label for p, label in PENALTY_TERMS.items() if p != "pen_weekly_cost"}

# Objective levels per mode, in order, with their sense.
LEVELS = {
    "lexicographic": (("reward", "max"), ("penalty", "min"), ("cost", "min")),
    "weighted": (("pounds", "min"),),
}

SCORE_COLUMNS = [
    *PENALTY_TERMS, "penalty", "reward", "cost", *POUND_TERMS, "value", "pounds",
]


def levels(policy: Policy) -> tuple[tuple[str, str], ...]:
    """The objective levels of the policy's mode: ((column, 'max'|'min'), ...)."""
    return LEVELS[policy.mode]


def tenths(miles: pd.Series) -> np.ndarray:
    """Miles as whole tenths (half up); NaN (no such place) as 0."""
    values = pd.to_numeric(miles, errors="coerce").to_numpy(dtype=float)
    out = np.floor(values * 10 + 0.5 + 1e-9)
    return np.where(np.isnan(out), 0, out).astype(np.int64)


def whole_pounds(amount: pd.Series) -> np.ndarray:
    """Pounds rounded half up to whole pounds."""
    values = pd.to_numeric(amount, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        raise ValueError("a pair has no weekly cost")
    return np.floor(values + 0.5 + 1e-9).astype(np.int64)


def _flag(pairs: pd.Series) -> np.ndarray:
    # Nullable booleans (unknown authority) count as True: "we don't know" must not read as near.
    return pairs.astype("boolean").fillna(True).to_numpy(dtype=bool).astype(np.int64)


def _looked_after(pairs: pd.DataFrame) -> np.ndarray:
    # Unknown legal status counts as looked after: the statutory terms then apply, never less.
    if "looked_after" not in pairs:
        return np.ones(len(pairs), dtype=bool)
    return pairs["looked_after"].astype("boolean").fillna(True).to_numpy(dtype=bool)


def _per_urgency(pairs: pd.DataFrame, table: dict) -> np.ndarray:
    by_code = {str(k): int(v) for k, v in table.items()}
    urgency = pairs["urgency"]
    if isinstance(urgency.dtype, pd.CategoricalDtype) and not urgency.isna().any():
        # Look up the few urgency codes once, not a string per pair.
        weights = urgency.cat.categories.astype(str).map(by_code)
        if not weights.isna().any():
            return weights.to_numpy(dtype=np.int64)[urgency.cat.codes.to_numpy()]
    mapped = urgency.astype(str).map(by_code)
    if mapped.isna().any():
        unknown = sorted(set(urgency[mapped.isna()].astype(str)))
        raise ValueError(f"unknown urgency: {', '.join(unknown)}")
    return mapped.to_numpy(dtype=np.int64)


def score(pairs: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """``pairs`` with the integer score columns added (a new frame; the input is not changed,
    and its columns are shared, not copied: at millions of pairs a copy costs gigabytes)."""
    out = _ScoreColumns(pairs)
    pen, pounds = policy.penalties, policy.pounds
    home = tenths(out["miles_from_home"])
    education = tenths(out["miles_from_education"])
    over_20 = (home > 200).astype(np.int64)
    out_of_area = _flag(out["out_of_area"])
    at_a_distance = _flag(out["at_a_distance"])
    over_provision = pd.to_numeric(out["over_provision"]).to_numpy(dtype=np.int64)
    not_preferred = (out["suitability"] == "suitable").to_numpy(dtype=bool).astype(np.int64)
    outside_preferred = out["outside_preferred"].astype(bool).to_numpy().astype(np.int64)
    emergency = out["emergency"].astype(bool).to_numpy().astype(np.int64)
    looked_after = _looked_after(out)
    cost = whole_pounds(out["weekly_cost"])

    out["pen_home_miles"] = home * pen.per_tenth_mile_home
    out["pen_education_miles"] = education * pen.per_tenth_mile_education
    out["pen_over_20_miles"] = over_20 * pen.over_20_miles
    out["pen_out_of_area"] = out_of_area * np.where(looked_after, pen.out_of_area, pen.care_leaver_out_of_area)
    out["pen_at_a_distance"] = at_a_distance * np.where(looked_after, pen.at_a_distance, pen.care_leaver_at_a_distance)
    out["pen_over_provision"] = over_provision * pen.over_provision_per_tier
    out["pen_not_preferred"] = not_preferred * pen.suitable_not_preferred
    out["pen_outside_preferred"] = outside_preferred * pen.outside_preferred_area
    out["pen_emergency"] = emergency * pen.emergency
    out["pen_weekly_cost"] = 0 if pen.pounds_a_week_per_point is None else cost // pen.pounds_a_week_per_point
    out["penalty"] = out[list(PENALTY_TERMS)].sum(axis=1).astype(np.int64)
    out["reward"] = _per_urgency(out, policy.urgency_weights)
    out["cost"] = cost

    # Pounds per mile on tenths of a mile, rounded half up, in integers.
    out["pounds_home_miles"] = (home * pounds.per_mile_home + 5) // 10
    out["pounds_education_miles"] = (education * pounds.per_mile_education + 5) // 10
    out["pounds_over_20_miles"] = over_20 * pounds.over_20_miles
    out["pounds_out_of_area"] = out_of_area * np.where(looked_after, pounds.out_of_area, pounds.care_leaver_out_of_area)
    out["pounds_at_a_distance"] = at_a_distance * np.where(
        looked_after, pounds.at_a_distance, pounds.care_leaver_at_a_distance)
    out["pounds_over_provision"] = over_provision * pounds.over_provision_per_tier
    out["pounds_not_preferred"] = not_preferred * pounds.suitable_not_preferred
    out["pounds_outside_preferred"] = outside_preferred * pounds.outside_preferred_area
    out["pounds_emergency"] = emergency * pounds.emergency
    out["value"] = _per_urgency(out, pounds.placement_value)
    out["pounds"] = (out["cost"] + out[list(POUND_TERMS)].sum(axis=1) - out["value"]).astype(np.int64)
    return out.frame()


class _ScoreColumns:
    """The score columns being built for ``pairs``: each is kept in the narrowest integer type
    that holds all its values exactly (int32 for every realistic policy, int64 otherwise), and
    the pairs' own columns are read, never copied."""

    def __init__(self, pairs: pd.DataFrame):
        self.pairs = pairs
        self.new: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def __contains__(self, name: str) -> bool:
        return name in self.new or name in self.pairs

    def __getitem__(self, name):
        if isinstance(name, list):
            return pd.DataFrame({n: self[n] for n in name}, index=self.pairs.index, copy=False)
        if name in self.new:
            return pd.Series(self.new[name], index=self.pairs.index, copy=False)
        return self.pairs[name]

    def __setitem__(self, name: str, values) -> None:
        self.new[name] = exact_integers(values, len(self.pairs))

    def frame(self) -> pd.DataFrame:
        ordered = {c: self.new[c] for c in SCORE_COLUMNS if c in self.new}
        ordered |= {c: v for c, v in self.new.items() if c not in ordered}
        added = pd.DataFrame(ordered, index=self.pairs.index, copy=False)
        return pd.concat([self.pairs.drop(columns=[c for c in added if c in self.pairs]), added], axis=1)


def exact_integers(values, n: int) -> np.ndarray:
    """Whole numbers as int32 when every one fits, else int64 (never a rounded or wrapped value)."""
    array = np.broadcast_to(np.asarray(values), (n,)) if np.ndim(values) == 0 else np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer):
        as_int = array.astype(np.int64)
        if not np.array_equal(as_int, array):
            raise ValueError("a score term is not a whole number")
        array = as_int
    small = np.iinfo(np.int32)
    if not len(array) or (int(array.min()) >= small.min and int(array.max()) <= small.max):
        return array.astype(np.int32)
    return array.astype(np.int64)


def totals(chosen: pd.DataFrame, policy: Policy) -> dict[str, int]:
    """The objective per level of a set of scored pairs."""
    return {name: int(chosen[name].sum()) if len(chosen) else 0 for name, _ in levels(policy)}
