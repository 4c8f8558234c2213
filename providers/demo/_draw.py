"""Small drawing helpers shared by the demo's generators: proportions, weighted and biased
picks, prices on a step, and dates of birth.

Every helper takes the caller's ``random.Random`` so each concern keeps its own stream (see the
package docstring); none of them holds state.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from models.orm import age_on


def quota(n: int, weights: Sequence[tuple[Any, float]]) -> list[Any]:
    """``n`` items split by weight (largest remainder), in the order of ``weights``."""
    total = sum(w for _, w in weights)
    raw = [(k, n * w / total) for k, w in weights]
    counts = [int(x) for _, x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i][1] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return [k for (k, _), c in zip(raw, counts) for _ in range(c)]


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options], k=1)[0]


def price(rng: random.Random, lo: float, hi: float, step: int = 5) -> float:
    """A weekly price in [lo, hi] on a £``step`` grid, as tenders quote them."""
    return float(rng.randrange(int(lo // step), int(hi // step) + 1) * step)


# Dates


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def birthday(dob: dt.date, age: int) -> dt.date:
    """The day someone born on ``dob`` turns ``age`` (28 February for a leapling)."""
    return years_before(dob, -age)


def dob_for_age(rng: random.Random, on: dt.date, age: int) -> dt.date:
    """A date of birth making someone exactly ``age`` on ``on``."""
    latest = years_before(on, age)
    earliest = years_before(on, age + 1) + dt.timedelta(days=1)
    dob = earliest + dt.timedelta(days=rng.randrange((latest - earliest).days + 1))
    assert age_on(dob, on) == age
    return dob
