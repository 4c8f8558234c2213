"""Synthetic panel instances at any scale, on the demo council's real geography.

Young people live at real postcodes in Medway, the Kent districts and the neighbouring London
and Essex authorities; beds are at real postcodes in the same places. Needs, risks, tiers,
prices and rules follow the demo council's proportions, so eligibility removes pairs for the
same reasons it does on a real queue. Ask for fewer beds than young people for a scarce market.

The distance cap is chosen per instance so that each young person has around ``options``
eligible vacancies, as the matching issue's benchmark asks; everything is seeded.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from matching.instance import PRICE_COLUMNS, RESIDENT_COLUMNS, VACANCY_COLUMNS, Instance
from models.enums import Need, ServiceType, Setting, Tier
from scenarios.synthetic import MEDWAY, PANEL_DATE, _places, synthetic_referrals

SERVICE_MIX = [
    (ServiceType.supported_accommodation, Setting.shared_care_experienced, 0.35),
    (ServiceType.supported_accommodation, Setting.shared_mixed, 0.10),
    (ServiceType.supported_tenancy, Setting.self_contained, 0.30),
    (ServiceType.supported_lodgings, Setting.private_residence, 0.12),
    (ServiceType.supported_accommodation, Setting.self_contained, 0.08),
    (ServiceType.emergency, Setting.self_contained, 0.05),
]
PRICES = {  # weekly price ranges per tier (DOMAIN.md)
    ServiceType.supported_accommodation: [(900, 1400), (1400, 2500), (2500, 5000)],
    ServiceType.supported_tenancy: [(300, 600), (600, 1200), (1200, 2000)],
    ServiceType.supported_lodgings: [(250, 450), (350, 550), (None, None)],
    ServiceType.emergency: [(350, 700), (None, None), (None, None)],
}


def make_instance(
    young_people: int, beds: int, *, options: int = 40, seed: int = 1,
    distance_cap: float | None = None,
) -> tuple[Instance, float]:
    """An instance and the distance cap (miles) that gives about ``options`` per young person."""
    rng = np.random.default_rng(seed)
    referrals = synthetic_referrals(rng, young_people)
    vacancies = _vacancies(rng, beds)
    instance = Instance(PANEL_DATE, MEDWAY, referrals, vacancies, pd.DataFrame(columns=RESIDENT_COLUMNS))
    return instance, distance_cap if distance_cap is not None else _calibrated_cap(instance, options)


def _vacancies(rng: np.random.Generator, beds: int) -> pd.DataFrame:
    rows = []
    homes = _places(rng, max(1, beds // 3), 2)
    services = rng.choice(len(SERVICE_MIX), len(homes), p=[s[2] for s in SERVICE_MIX])
    left, k = beds, 0
    while left > 0:
        h = k % len(homes)
        service, setting, _ = SERVICE_MIX[services[h]]
        n_beds = int(min(left, rng.integers(1, 5) if setting.is_shared else 1))
        prices = {}
        top = rng.choice([0, 1, 2], p=[0.35, 0.35, 0.30])
        for t, (lo, hi) in zip(Tier, PRICES[service]):
            offered = lo is not None and t.rank <= top
            prices[PRICE_COLUMNS[t]] = float(rng.integers(lo // 5, hi // 5) * 5) if offered else np.nan
        if all(np.isnan(v) for v in prices.values()):
            lo, hi = PRICES[service][0]
            prices[PRICE_COLUMNS[Tier.standard]] = float(rng.integers(lo // 5, hi // 5) * 5)
        rows.append({
            "vacancy_id": f"V{k:06d}", "property_id": f"P{h:06d}", "provider_id": f"PRV{h % 400:03d}",
            "beds": n_beds, "available_from": pd.Timestamp(PANEL_DATE) + pd.Timedelta(days=int(rng.choice([0, 0, 3, 10, 21, 40]))),
            "reserved_for": None, "postcode": homes.at[h, "postcode"],
            "easting": float(homes.at[h, "easting"]), "northing": float(homes.at[h, "northing"]),
            "la_code": homes.at[h, "la_code"], "service_type": service.value, "setting": setting.value,
            "ofsted_registered": bool(service != ServiceType.emergency and rng.random() < 0.9),
            "ofsted_grade": rng.choice(["outstanding", "good", "good", "good", "requires_improvement"]),
            "sex": rng.choice(["any", "any", "any", "male", "female"]),
            "age_min": 16 if rng.random() < 0.7 else 18, "age_max": 25,
            "accepts_needs": sorted(x.value for x in (Need.mental_health, Need.learning_disability, Need.autism_adhd, Need.esol, Need.pregnant_or_parenting) if rng.random() < 0.7),
            "excludes_risks": sorted(x for x in ("to_others:sexual", "to_others:fire_setting", "drugs_alcohol") if rng.random() < 0.3),
            **prices,
        })
        left -= n_beds
        k += 1
    frame = pd.DataFrame(rows, columns=VACANCY_COLUMNS)
    frame["available_from"] = pd.to_datetime(frame["available_from"])
    return frame


def _calibrated_cap(instance: Instance, options: int) -> float:
    """The distance cap giving about ``options`` eligible vacancies per young person on average,
    found by bisection on a sample of the queue."""
    from matching.eligibility import eligible_pairs
    from matching.policy import Policy

    sample = instance.referrals.sample(min(len(instance.referrals), 300), random_state=0)
    probe = Instance(instance.panel_date, instance.placing_authority, sample, instance.vacancies, instance.residents)
    lo, hi = 1.0, 80.0
    for _ in range(12):
        mid = (lo + hi) / 2
        mean = len(eligible_pairs(probe, Policy(distance_cap_miles=mid)).pairs) / len(sample)
        lo, hi = (mid, hi) if mean < options else (lo, mid)
    return round((lo + hi) / 2, 1)
