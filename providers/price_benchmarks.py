"""Where a weekly price stands: for each service type and support tier, the spread of the prices
the council pays or has been bid (every home's tier price, on a framework or spot, and every
price a tender awarded), as the lower quartile, median and upper quartile.

The panel and the managers who approve a placement read a proposal's price against it, and a
price above the upper quartile is flagged on the proposal: dearer than three in four of the
prices for the same support in the same kind of home. With fewer than ``MIN_PRICES`` prices
the quartiles say little, so none are given and nothing is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import glossary
from models.enums import ServiceType, Tier
from models.supply import Lot, LotAward, Property, TierPrice

MIN_PRICES = 4


@dataclass(frozen=True)
class Spread:
    service_type: str
    tier: str
    prices: int
    lower_quartile: float
    median: float
    upper_quartile: float

    def above(self, price: float) -> bool:
        return price > self.upper_quartile + 0.005  # a price at the quartile itself is within it

    def words(self, price: float) -> str:
        """Where ``price`` stands, in a sentence for the panel and approvers."""
        what = (f"{glossary.words(self.tier, glossary.TIERS).lower()} support in "
                f"{glossary.words(self.service_type, glossary.SERVICE_TYPES).lower()}")
        middle = f"the middle half of the {self.prices} prices for {what} is £{self.lower_quartile:,.0f} to " \
                 f"£{self.upper_quartile:,.0f} a week (median £{self.median:,.0f})"
        if self.above(price):
            return f"£{price:,.0f} a week is above the usual range: {middle}."
        if price < self.lower_quartile - 0.005:
            return f"£{price:,.0f} a week is below the usual range: {middle}."
        return f"£{price:,.0f} a week is within the usual range: {middle}."


def spreads(session: Session) -> dict[tuple[str, str], Spread]:
    """(service type, tier) -> the spread of its prices, where there are at least MIN_PRICES."""
    found: dict[tuple[str, str], list[float]] = {}
    for service, tier, price in session.execute(
            select(Property.service_type, TierPrice.tier, TierPrice.weekly_price).join(TierPrice.property)):
        found.setdefault((ServiceType(service).value, Tier(tier).value), []).append(float(price))
    for service, award in session.execute(select(Lot.service_type, LotAward).join(LotAward.lot)):
        for tier in Tier:
            if award.price(tier) is not None:
                found.setdefault((ServiceType(service).value, tier.value), []).append(float(award.price(tier)))
    out = {}
    for (service, tier), prices in sorted(found.items()):
        if len(prices) >= MIN_PRICES:
            q1, median, q3 = np.percentile(prices, [25, 50, 75])
            out[(service, tier)] = Spread(service, tier, len(prices), round(float(q1), 2), round(float(median), 2),
                                          round(float(q3), 2))
    return out


def standing(spreads: dict[tuple[str, str], Spread], service_type, tier, price: float) -> tuple[str, bool] | None:
    """Where a weekly price stands among the prices for the same support in the same kind of
    home, in words, and whether it is above the usual range (None: too few prices to say)."""
    spread = spreads.get((ServiceType(service_type).value, Tier(tier).value))
    return (spread.words(price), spread.above(price)) if spread is not None else None
