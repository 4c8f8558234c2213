"""Synthetic panel instances at any scale, on the demo council's real geography.

Young people live at real postcodes in Medway, the Kent districts and the neighbouring London
and Essex authorities; beds are at real postcodes in the same places. Needs, risks, tiers,
prices and rules follow the demo council's proportions, so eligibility removes pairs for the
same reasons it does on a real queue. Ask for fewer beds than young people for a scarce market.

The distance cap is chosen per instance so that each young person has around ``options``
eligible vacancies, as the matching issue's benchmark asks; everything is seeded.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pandas as pd

from matching.instance import PRICE_COLUMNS, REFERRAL_COLUMNS, RESIDENT_COLUMNS, VACANCY_COLUMNS, Instance
from models.enums import Need, RiskToOthers, RiskToSelf, ServiceType, Setting, Tier
from providers.geography import postcodes_in

PANEL_DATE = dt.date(2026, 11, 23)
MEDWAY = "E06000035"
# (authority, postcode letters to load, share of homes, share of young people)
AREAS = [
    (MEDWAY, "M", 0.22, 0.45), ("E07000110", "MT", 0.08, 0.08), ("E07000113", "M", 0.06, 0.06),
    ("E07000109", "D", 0.05, 0.05), ("E07000115", "MT", 0.05, 0.04), ("E07000106", "C", 0.05, 0.04),
    ("E07000107", "D", 0.05, 0.04), ("E07000105", "T", 0.04, 0.03), ("E07000108", "C", 0.04, 0.02),
    ("E07000114", "C", 0.04, 0.03), ("E07000116", "T", 0.03, 0.02), ("E07000111", "T", 0.03, 0.02),
    ("E07000112", "C", 0.03, 0.02), ("E06000034", "R", 0.04, 0.02), ("E06000033", "S", 0.03, 0.02),
    ("E09000004", "D", 0.04, 0.02), ("E09000011", "S", 0.04, 0.02), ("E09000006", "B", 0.04, 0.02),
    ("E09000023", "S", 0.04, 0.0),
]
TIER_MIX = [0.45, 0.35, 0.20]
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


@cache
def _postcodes(la_code: str, letters: str) -> pd.DataFrame:
    return postcodes_in(la_code, letters).sort_values("postcode").reset_index(drop=True)


def _places(rng: np.random.Generator, n: int, share_col: int) -> pd.DataFrame:
    shares = np.array([a[share_col] for a in AREAS], dtype=float)
    counts = rng.multinomial(n, shares / shares.sum())
    parts = []
    for (code, letters, *_), k in zip(AREAS, counts):
        if k:
            frame = _postcodes(code, letters)
            parts.append(frame.iloc[rng.integers(0, len(frame), k)])
    return pd.concat(parts, ignore_index=True).iloc[rng.permutation(n)].reset_index(drop=True)


def make_instance(
    young_people: int, beds: int, *, options: int = 40, seed: int = 1,
    distance_cap: float | None = None,
) -> tuple[Instance, float]:
    """An instance and the distance cap (miles) that gives about ``options`` per young person."""
    rng = np.random.default_rng(seed)
    referrals = _referrals(rng, young_people)
    vacancies = _vacancies(rng, beds)
    instance = Instance(PANEL_DATE, MEDWAY, referrals, vacancies, pd.DataFrame(columns=RESIDENT_COLUMNS))
    return instance, distance_cap if distance_cap is not None else _calibrated_cap(instance, options)


def _referrals(rng: np.random.Generator, n: int) -> pd.DataFrame:
    home = _places(rng, n, 3)
    ages = rng.choice([16, 17, 18, 19, 20, 21, 22], n, p=[0.16, 0.30, 0.22, 0.14, 0.09, 0.06, 0.03])
    dob = [dt.date(PANEL_DATE.year - int(a), 1, 1) + dt.timedelta(days=int(d))
           for a, d in zip(ages, rng.integers(-300, 0, n))]
    tiers = rng.choice([t.value for t in Tier], n, p=TIER_MIX)
    needs_pool = [Need.mental_health, Need.learning_disability, Need.autism_adhd, Need.esol, Need.pregnant_or_parenting]
    needs_p = [0.45, 0.10, 0.15, 0.10, 0.03]
    needs = [[x.value for x, p in zip(needs_pool, needs_p) if rng.random() < p] for _ in range(n)]
    self_pool = [RiskToSelf.self_harm, RiskToSelf.going_missing, RiskToSelf.criminal_exploitation,
                 RiskToSelf.sexual_exploitation, RiskToSelf.drugs_alcohol]
    self_p = [0.30, 0.20, 0.12, 0.08, 0.15]
    risks_to_self = [[x.value for x, p in zip(self_pool, self_p) if rng.random() < p] for _ in range(n)]
    others_pool = [RiskToOthers.physical, RiskToOthers.criminal, RiskToOthers.sexual]
    others_p = [0.08, 0.06, 0.01]
    risks_to_others = [[x.value for x, p in zip(others_pool, others_p) if rng.random() < p] for _ in range(n)]
    suit = []
    for age in ages:
        s = {t.value: "suitable" for t in ServiceType}
        s[rng.choice(["supported_accommodation", "supported_tenancy", "supported_lodgings"])] = "preferred"
        s["staying_put"] = s["foster_care"] = s["childrens_home"] = "unsuitable"
        if rng.random() < 0.3:
            s["emergency"] = "unsuitable"
        suit.append(s)
    sibling = [None] * n
    for k in range(0, n - 1, 97):  # a sibling pair now and then
        sibling[k] = sibling[k + 1] = f"S{k}"
    frame = pd.DataFrame({
        "referral_id": [f"R{k:06d}" for k in range(n)],
        "date_of_birth": pd.to_datetime(dob), "sex": rng.choice(["male", "female"], n),
        "legal_status": np.where(ages < 18, "looked_after", "former_relevant"),
        "tier": tiers, "urgency": rng.choice(["today", "within_5_days", "over_5_days"], n, p=[0.12, 0.23, 0.65]),
        "referred_on": pd.to_datetime(PANEL_DATE) - pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
        "home_postcode": home["postcode"], "home_e": home["easting"].astype(float),
        "home_n": home["northing"].astype(float), "home_la": home["la_code"],
        "edu_e": np.where(rng.random(n) < 0.5, home["easting"] + rng.normal(0, 3000, n), np.nan),
        "edu_n": np.where(rng.random(n) < 0.5, home["northing"] + rng.normal(0, 3000, n), np.nan),
        "pref_e": np.nan, "pref_n": np.nan, "needs": needs, "risks_to_self": risks_to_self,
        "risks_to_others": risks_to_others,
        "living_with": rng.choice(["no_preference", "solo", "with_others"], n, p=[0.8, 0.1, 0.1]),
        "type_suitability": suit, "avoid_e": [[] for _ in range(n)], "avoid_n": [[] for _ in range(n)],
        "avoid_radius_miles": np.nan, "sibling_group": sibling, "deprivation_of_liberty": False,
    })
    frame.loc[frame["edu_e"].isna(), "edu_n"] = np.nan
    return frame[REFERRAL_COLUMNS]


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
