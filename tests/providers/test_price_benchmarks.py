"""Where a weekly price stands: quartiles of the prices for the same support in the same kind
of home (homes' tier prices and tender awards), and a price above the upper quartile flagged;
too few prices give no quartiles rather than misleading ones."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select

from models.db import transaction
from models.enums import ServiceType, Tier
from models.supply import Property, TierPrice
from providers.demo import build_demo, load_authorities
from providers.price_benchmarks import MIN_PRICES, spreads, standing


def test_the_quartiles_are_the_demo_councils_own_prices(sqlite_engine):
    with transaction(sqlite_engine) as session:
        load_authorities(session)
        build_demo(session, as_of=dt.date(2026, 11, 23))
    with transaction(sqlite_engine) as session:
        found = spreads(session)
        prices = session.scalars(select(TierPrice.weekly_price).join(TierPrice.property).where(
            Property.service_type == ServiceType.supported_accommodation, TierPrice.tier == Tier.enhanced)).all()
    spread = found[("supported_accommodation", "enhanced")]
    assert spread.prices == len(prices) >= MIN_PRICES
    assert (spread.lower_quartile, spread.median, spread.upper_quartile) == tuple(
        round(float(q), 2) for q in np.percentile(prices, [25, 50, 75]))
    dear, usual = standing(found, "supported_accommodation", "enhanced", spread.upper_quartile + 50), standing(
        found, ServiceType.supported_accommodation, Tier.enhanced, spread.median)
    assert dear[1] and dear[0].startswith(f"£{spread.upper_quartile + 50:,.0f} a week is above the usual range: the "
                                          f"middle half of the {len(prices)} prices for enhanced support in supported "
                                          "accommodation is")
    assert not usual[1] and "is within the usual range" in usual[0]
    assert all(s.prices >= MIN_PRICES for s in found.values())
    assert standing(found, "emergency", "intensive", 900) is None  # no such prices: nothing said
