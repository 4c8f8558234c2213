"""The headline measures panels, managers and inspectors compare a proposal on, and how each
is counted from a set of scored pairs.

These are the figures of DOMAIN.md's outcomes and of the one-at-a-time practice the engine must
never do worse than (:mod:`matching.practice`): young people placed (weighted by urgency),
placements more than 20 miles from home, outside the council's area, at a distance, total miles
from home, and weekly cost. Each is a sum over the chosen pairs of a per-pair integer, so the
same coefficients serve the report and the CP-SAT constraint that holds a measure
(:mod:`matching.constraints.dominance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.scoring import tenths


@dataclass(frozen=True)
class Measure:
    name: str
    words: str  # what a person reads
    sense: str  # "max": more is better; "min": less is better
    unit: str  # how a value is written: "count", "tenths" (of a mile), "pounds"


# In the order a panel would defend them: placing young people first; then the national
# 20-mile measure and reg. 11's two area triggers; then total distance; then money.
MEASURES = (
    Measure("young_people", "young people placed", "max", "count"),
    Measure("placed", "placements weighted by urgency (the most urgent count most)", "max", "count"),
    Measure("over_20_miles", "placements more than 20 miles from home", "min", "count"),
    Measure("at_a_distance", "placements at a distance (not an adjoining authority)", "min", "count"),
    Measure("out_of_area", "placements outside the council's area", "min", "count"),
    Measure("total_miles", "total miles from home", "min", "tenths"),
    Measure("weekly_cost", "total weekly cost", "min", "pounds"),
)
BY_NAME = {m.name: m for m in MEASURES}


def _flag(values: pd.Series) -> np.ndarray:
    # Unknown authority counts as out of area / at a distance, as scoring does.
    return values.astype("boolean").fillna(True).to_numpy(dtype=bool).astype(np.int64)


def coefficients(pairs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each measure's per-pair integer (a pair's share of the measure when chosen)."""
    home = tenths(pairs["miles_from_home"])
    return {
        "young_people": np.ones(len(pairs), dtype=np.int64),
        "placed": pairs["reward"].to_numpy(dtype=np.int64),
        "over_20_miles": (home > 200).astype(np.int64),
        "at_a_distance": _flag(pairs["at_a_distance"]),
        "out_of_area": _flag(pairs["out_of_area"]),
        "total_miles": home.astype(np.int64),
        "weekly_cost": pairs["cost"].to_numpy(dtype=np.int64),
    }


def of(chosen: pd.DataFrame) -> dict[str, int]:
    """The measures of a set of scored, chosen pairs."""
    if chosen.empty:
        return dict.fromkeys(BY_NAME, 0)
    return {name: int(c.sum()) for name, c in coefficients(chosen).items()}


def worse(mine: dict[str, int], theirs: dict[str, int]) -> list[str]:
    """The measures on which ``mine`` is worse than ``theirs``, in MEASURES order."""
    return [m.name for m in MEASURES
            if (mine[m.name] < theirs[m.name] if m.sense == "max" else mine[m.name] > theirs[m.name])]


def written(name: str, value: int) -> str:
    unit = BY_NAME[name].unit
    if unit == "tenths":
        return f"{value / 10:,.1f} miles"
    if unit == "pounds":
        return f"£{value:,} a week"
    return f"{value:,}"


def difference(name: str, mine: int, theirs: int) -> str:
    """'264.3 miles more', '£1,200 a week less', '3 more', in words."""
    delta = mine - theirs
    unit = BY_NAME[name].unit
    more = "more" if delta > 0 else "fewer" if unit == "count" else "less"
    size = abs(delta)
    if unit == "tenths":
        return f"{size / 10:,.1f} miles {'more' if delta > 0 else 'less'}"
    if unit == "pounds":
        return f"£{size:,} a week {'more' if delta > 0 else 'less'}"
    return f"{size:,} {more}"
