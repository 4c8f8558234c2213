"""How the demo council buys: its frameworks and their lots, and the weekly prices providers
charge under them.

Prices follow DOMAIN.md by service type and tier. Medway buys through a DPS, a block contract,
a regional framework, its in-house service and spot purchase; each provider kind in ``supply``
names the lot its properties are priced under (the keys of ``frameworks()``).
"""

from __future__ import annotations

import datetime as dt
import random

from models.enums import FrameworkKind, ServiceType, Tier
from models.orm import Framework, Lot
from providers.demo._draw import price
from providers.demo.places import DEMO_AUTHORITY

# Weekly prices from DOMAIN.md, by service type and tier. Floating support (and the support in a
# supported tenancy) is bought by the hour: £20-35 an hour times the hours of the tier.
SUPPORT_HOURS: dict[Tier, tuple[int, int]] = {
    Tier.standard: (3, 7),  # up to about 7 hours a week (Kent's "low needs" lot)
    Tier.enhanced: (8, 20),
    Tier.intensive: (21, 56),  # above 20 hours, up to 7-8 hours a day, 7 days a week
}
HOURLY_RATE = (20, 35)


def _hourly(tier: Tier) -> tuple[float, float]:
    lo, hi = SUPPORT_HOURS[tier]
    return (HOURLY_RATE[0] * lo, HOURLY_RATE[1] * hi)


PRICE_RANGES: dict[ServiceType, dict[Tier, tuple[float, float]]] = {
    ServiceType.supported_accommodation: {
        Tier.standard: (900, 1400),
        Tier.enhanced: (1400, 2500),
        Tier.intensive: (2500, 5000),
    },
    ServiceType.supported_tenancy: {t: _hourly(t) for t in Tier},
    ServiceType.floating_support: {t: _hourly(t) for t in Tier},
    ServiceType.supported_lodgings: {t: (250, 450) for t in Tier},
    ServiceType.staying_put: {t: (250, 450) for t in Tier},
    ServiceType.foster_care: {t: (900, 1200) for t in Tier},
    ServiceType.childrens_home: {t: (4000, 7000) for t in Tier},
    ServiceType.emergency: {t: (350, 700) for t in Tier},
}

# Sub-ranges inside the DOMAIN range, for the types whose range is the same at every tier, so
# that a higher tier costs more.
_TIER_BANDS: dict[ServiceType, dict[Tier, tuple[float, float]]] = {
    ServiceType.supported_lodgings: {Tier.standard: (250, 350), Tier.enhanced: (350, 450)},
    ServiceType.staying_put: {Tier.standard: (250, 450)},
    ServiceType.foster_care: {Tier.standard: (900, 1050), Tier.enhanced: (1050, 1200)},
    ServiceType.childrens_home: {Tier.enhanced: (4000, 5200), Tier.intensive: (5200, 7000)},
    ServiceType.emergency: {Tier.standard: (350, 700)},
}


def weekly_prices(rng: random.Random, kind: str, service: ServiceType, tiers: list[Tier], rate: float) -> dict[Tier, float]:
    """A property's weekly price at each tier it offers. ``rate`` is the provider's: its hourly
    support rate for a supported tenancy, else its position in the price range (0-1), so one
    provider's homes cost alike."""
    out: dict[Tier, float] = {}
    if service == ServiceType.supported_tenancy:
        for t in tiers:
            lo, hi = SUPPORT_HOURS[t]
            out[t] = float(round(rate * rng.randint(max(lo, 4), hi)))
        return out
    for t in tiers:
        lo, hi = _TIER_BANDS.get(service, PRICE_RANGES[service])[t]
        if kind == "block":  # bought in bulk: the cheaper end
            hi = lo + (hi - lo) * 0.25
        elif kind == "sa_spot":  # off-framework: the dearer end
            lo = lo + (hi - lo) * 0.5
        centre = lo + (hi - lo) * rate
        spread = (hi - lo) * 0.2
        out[t] = price(rng, max(lo, centre - spread), min(hi, centre + spread))
    return out


def frameworks(as_of: dt.date) -> dict[str, Lot]:
    """Medway's frameworks as ORM rows (not yet added), by lot key. The block lot's beds and
    void cost are filled in once its properties exist."""
    year = dt.timedelta(days=365)
    S = ServiceType

    def fw(name, kind, start, years, lots):
        f = Framework(name=name, kind=kind, placing_authority_code=DEMO_AUTHORITY, starts_on=start,
                      ends_on=start + years * year if years else None, price_weight=0.6, quality_weight=0.4)
        out = {}
        for number, (key, lot_name, service, area) in enumerate(lots, start=1):
            out[key] = Lot(framework=f, number=number, name=lot_name, service_type=service, area=area)
        return out

    lots: dict[str, Lot] = {}
    lots |= fw("Medway 16-25 Supported Accommodation DPS", FrameworkKind.dps, as_of - 2 * year, 4, [
        ("dps_sa", "Supported accommodation (shared and self-contained)", S.supported_accommodation, None),
        ("dps_st", "Supported tenancy with floating support", S.supported_tenancy, None),
    ])
    lots |= fw("Medway Intensive Support Block Contract", FrameworkKind.block, as_of - year, 3, [
        ("block", "Intensive supported accommodation in Chatham", S.supported_accommodation, "Medway"),
    ])
    lots |= fw("Medway In-house Supported Lodgings and Staying Put", FrameworkKind.in_house, as_of - 5 * year, 0, [
        ("inhouse_sl", "Supported lodgings hosts", S.supported_lodgings, "Medway"),
        ("inhouse_sp", "Staying Put carers", S.staying_put, None),
    ])
    lots |= fw("Kent and Medway Children's Placements Framework", FrameworkKind.framework, as_of - 3 * year, 4, [
        ("fw_fostering", "Independent fostering", S.foster_care, None),
        ("fw_homes", "Children's homes", S.childrens_home, None),
    ])
    lots |= fw("Spot purchase", FrameworkKind.spot, as_of - 5 * year, 0, [
        ("spot_sa", "Supported accommodation (spot)", S.supported_accommodation, None),
        ("spot_emergency", "Emergency and bed and breakfast", S.emergency, None),
    ])
    return lots
