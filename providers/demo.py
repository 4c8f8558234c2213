"""A demo council, generated from a seed: Medway's Access to Resources panel on a given day.

The numbers follow ``DOMAIN.md``: a referral queue of young people aged 16-24 with a needs mix in
the proportions councils report (support tiers about 45% standard / 35% enhanced / 20% intensive,
~12% unaccompanied asylum-seeking children, mental health common, a few risks to others), and a
local market of supported accommodation, supported tenancies, in-house supported lodgings and
Staying Put carers, fostering, children's homes and B&B, bought through a DPS, a block contract,
a framework, the in-house service and spot purchase, at the weekly prices of recent tenders.

Every postcode is a real live postcode drawn from the ONS directory for the authority recorded
against it; every name is invented and nothing describes a real person. Referrals are built through
``ReferralIn`` and vacancies through ``VacancyIn``, the schemas the CSV importer uses, so the demo
passes the same validation as an imported file.

Determinism: one ``random.Random`` per concern, seeded from (seed, concern) strings (stable
across processes, unlike ``hash``); postcodes are picked by position in frames sorted by postcode;
nothing iterates a set or an unordered query. All dates are relative to ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Optional

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from models.enums import (
    RISK_TO_OTHERS_PREFIX,
    FrameworkKind,
    LegalStatus,
    LivingWith,
    Need,
    OfstedGrade,
    PlacementStatus,
    ReferralStatus,
    ServiceType,
    Setting,
    Sex,
    Tier,
    Urgency,
)
from models.orm import (
    Framework,
    LocalAuthority,
    Lot,
    Placement,
    Property,
    Provider,
    Referral,
    SupportPlanStep,
    TierPrice,
    Vacancy,
    age_on,
    authority_adjacency,
)
from models.schemas import PlacementIn, ReferralIn, SupportPlanStepIn, VacancyIn
from providers.authorities import DEFAULT_ADJACENCY_CSV, DEFAULT_AUTHORITIES_CSV, Authorities, default_authorities
from providers.geography import grid_distance_miles, postcodes_in

DEMO_AUTHORITY = "E06000035"  # Medway Council, a unitary authority in Kent

OPEN_REFERRALS = 64

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


class DemoError(RuntimeError):
    """The demo cannot be built here (e.g. the database already holds providers or referrals)."""


# --------------------------------------------------------------------------------------------
# Geography of the demo


@dataclass(frozen=True)
class _Area:
    code: str
    letters: str  # first letters of the postcodes that cover it in the ONS directory
    supply: float  # share of the properties
    homes: float  # share of the referrals' home postcodes


MEDWAY, MAIDSTONE, SWALE, GRAVESHAM = "E06000035", "E07000110", "E07000113", "E07000109"
TONBRIDGE_MALLING, CANTERBURY, DARTFORD = "E07000115", "E07000106", "E07000107"
THURROCK, SOUTHEND, BEXLEY, GREENWICH, BROMLEY = "E06000034", "E06000033", "E09000004", "E09000011", "E09000006"

# Medway's market: most supply in Medway and the Kent districts around it, some across the
# Thames in Thurrock and Southend, and in the south-east London boroughs (DOMAIN: sufficiency
# strategies report a third or more placed out of area).
_AREAS: tuple[_Area, ...] = (
    _Area(MEDWAY, "M", 0.34, 0.75),
    _Area(MAIDSTONE, "MT", 0.10, 0.05),
    _Area(SWALE, "M", 0.08, 0.05),
    _Area(GRAVESHAM, "D", 0.07, 0.04),
    _Area(TONBRIDGE_MALLING, "MT", 0.06, 0.03),
    _Area(CANTERBURY, "C", 0.05, 0.01),
    _Area(DARTFORD, "D", 0.05, 0.02),
    _Area(THURROCK, "RS", 0.05, 0.0),
    _Area(SOUTHEND, "S", 0.04, 0.0),
    _Area(BEXLEY, "DS", 0.05, 0.02),
    _Area(GREENWICH, "S", 0.05, 0.015),
    _Area(BROMLEY, "BST", 0.06, 0.015),
)

# Town centres (OS grid) where exploited young people were groomed; an avoid postcode is the
# directory postcode nearest to one of them.
_TOWN_CENTRES: tuple[tuple[str, str, float, float], ...] = (
    ("Chatham", MEDWAY, 575900, 167800),
    ("Gillingham", MEDWAY, 577400, 168600),
    ("Strood", MEDWAY, 573400, 169300),
    ("Rochester", MEDWAY, 574300, 168500),
    ("Rainham", MEDWAY, 580800, 165800),
    ("Maidstone", MAIDSTONE, 576000, 155800),
    ("Sittingbourne", SWALE, 590600, 163600),
    ("Gravesend", GRAVESHAM, 564800, 174300),
    ("Dartford", DARTFORD, 554200, 174200),
)

# Towns by postcode district, for property names and wishes; others fall back to the authority.
_TOWNS = {
    "ME1": "Rochester", "ME2": "Strood", "ME3": "Hoo", "ME4": "Chatham", "ME5": "Chatham",
    "ME6": "Snodland", "ME7": "Gillingham", "ME8": "Rainham", "ME9": "Sittingbourne",
    "ME10": "Sittingbourne", "ME11": "Queenborough", "ME12": "Sheerness", "ME13": "Faversham",
    "ME14": "Maidstone", "ME15": "Maidstone", "ME16": "Maidstone", "ME17": "Maidstone",
    "ME18": "West Malling", "ME19": "West Malling", "ME20": "Aylesford", "DA1": "Dartford",
    "DA2": "Dartford", "DA3": "Longfield", "DA4": "Dartford", "DA5": "Bexley", "DA6": "Bexleyheath",
    "DA7": "Bexleyheath", "DA8": "Erith", "DA10": "Swanscombe", "DA11": "Gravesend",
    "DA12": "Gravesend", "DA13": "Meopham", "DA14": "Sidcup", "DA15": "Sidcup", "DA16": "Welling",
    "DA17": "Belvedere", "DA18": "Erith", "CT1": "Canterbury", "CT2": "Canterbury",
    "CT3": "Canterbury", "CT4": "Canterbury", "CT5": "Whitstable", "CT6": "Herne Bay",
    "RM15": "South Ockendon", "RM16": "Grays", "RM17": "Grays", "RM18": "Tilbury",
    "RM19": "Purfleet", "RM20": "West Thurrock", "SS0": "Westcliff-on-Sea", "SS1": "Southend-on-Sea",
    "SS2": "Southend-on-Sea", "SS3": "Shoeburyness", "SS9": "Leigh-on-Sea", "SS17": "Stanford-le-Hope",
    "SE2": "Abbey Wood", "SE3": "Blackheath", "SE7": "Charlton", "SE9": "Eltham",
    "SE10": "Greenwich", "SE18": "Woolwich", "SE28": "Thamesmead", "BR1": "Bromley",
    "BR2": "Bromley", "BR3": "Beckenham", "BR4": "West Wickham", "BR5": "Orpington",
    "BR6": "Orpington", "BR7": "Chislehurst", "TN9": "Tonbridge", "TN10": "Tonbridge",
    "TN11": "Tonbridge", "TN12": "Paddock Wood", "TN15": "Borough Green", "TN16": "Biggin Hill",
}


class _Pc(NamedTuple):
    postcode: str
    easting: float
    northing: float
    la_code: str

    @property
    def town(self) -> str:
        return _TOWNS.get(self.postcode.split(" ")[0], "")


class _Places:
    """Real postcodes of the demo's authorities, loaded once and sorted so picks are stable."""

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        for area in _AREAS:
            frame = postcodes_in(area.code, area.letters)
            if frame.empty:
                raise DemoError(f"no postcodes found for {area.code} under letters {area.letters}")
            self.frames[area.code] = frame.sort_values("postcode", kind="stable").reset_index(drop=True)
        self._used: dict[str, set[int]] = {}

    def _row(self, code: str, i: int) -> _Pc:
        f = self.frames[code]
        return _Pc(str(f.at[i, "postcode"]), float(f.at[i, "easting"]), float(f.at[i, "northing"]), code)

    def pick(self, rng: random.Random, code: str, *, unique: bool = False) -> _Pc:
        """A random postcode in the authority; ``unique`` never returns the same one twice."""
        n = len(self.frames[code])
        used = self._used.setdefault(code, set())
        while True:
            i = rng.randrange(n)
            if not unique or i not in used:
                used.add(i)
                return self._row(code, i)

    def near(self, rng: random.Random, pc: _Pc, miles: float) -> Optional[_Pc]:
        """A random postcode in the same authority within ``miles`` of ``pc`` (not ``pc``)."""
        f = self.frames[pc.la_code]
        d = grid_distance_miles(f["easting"].to_numpy(), f["northing"].to_numpy(), pc.easting, pc.northing)
        close = np.flatnonzero((d <= miles) & (f["postcode"].to_numpy() != pc.postcode))
        if len(close) == 0:
            return None
        return self._row(pc.la_code, int(close[rng.randrange(len(close))]))

    def nearest(self, code: str, easting: float, northing: float) -> _Pc:
        f = self.frames[code]
        d = np.hypot(f["easting"].to_numpy() - easting, f["northing"].to_numpy() - northing)
        return self._row(code, int(np.argmin(d)))


# --------------------------------------------------------------------------------------------
# Local authorities


def _authority_paths(authorities_csv, adjacency_csv) -> tuple[Path, Path]:
    # The same resolution as providers.authorities.Authorities, so the database and the
    # in-memory tables agree.
    return (
        Path(authorities_csv or os.environ.get("PLACEMATCH_LOCAL_AUTHORITIES") or DEFAULT_AUTHORITIES_CSV),
        Path(adjacency_csv or os.environ.get("PLACEMATCH_ADJACENCY") or DEFAULT_ADJACENCY_CSV),
    )


def load_authorities(
    session: Session,
    authorities_csv: Path | str | None = None,
    adjacency_csv: Path | str | None = None,
) -> tuple[int, int]:
    """Add the local authorities and their adjacency (one row each way, between upper-tier
    authorities) that the database does not hold yet. Idempotent. Returns (authorities added,
    adjacency rows added)."""
    la_path, adj_path = _authority_paths(authorities_csv, adjacency_csv)
    table = pd.read_csv(la_path, comment="#", dtype=str, skipinitialspace=True, keep_default_na=False)
    table = table.apply(lambda col: col.str.strip())
    present = set(session.scalars(select(LocalAuthority.code)))
    new = [
        LocalAuthority(code=r.code, name=r.name, upper_tier_code=r.upper_tier_code, region=r.region or None)
        for r in table.itertuples(index=False)
        if r.code not in present
    ]
    session.add_all(new)
    session.flush()

    tables = Authorities(la_path, adj_path)
    known = present | {la.code for la in new}
    wanted = sorted(
        {(a, b) for a in sorted(known) if tables.upper_tier(a) == a for b in tables.neighbours(a) if b in known}
    )
    existing = {tuple(row) for row in session.execute(select(authority_adjacency.c.code_a, authority_adjacency.c.code_b))}
    pairs = [{"code_a": a, "code_b": b} for a, b in wanted if (a, b) not in existing]
    if pairs:
        session.execute(insert(authority_adjacency), pairs)
    return len(new), len(pairs)


# --------------------------------------------------------------------------------------------
# Small helpers


def _quota(n: int, weights: Sequence[tuple[Any, float]]) -> list[Any]:
    """``n`` items split by weight (largest remainder), in the order of ``weights``."""
    total = sum(w for _, w in weights)
    raw = [(k, n * w / total) for k, w in weights]
    counts = [int(x) for _, x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i][1] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return [k for (k, _), c in zip(raw, counts) for _ in range(c)]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _dob_for_age(rng: random.Random, on: dt.date, age: int) -> dt.date:
    """A date of birth making someone exactly ``age`` on ``on``."""
    latest = _years_before(on, age)
    earliest = _years_before(on, age + 1) + dt.timedelta(days=1)
    dob = earliest + dt.timedelta(days=rng.randrange((latest - earliest).days + 1))
    assert age_on(dob, on) == age
    return dob


def _sixteenth(dob: dt.date) -> dt.date:
    return _years_before(dob, -16)


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options], k=1)[0]


def _price(rng: random.Random, lo: float, hi: float, step: int = 5) -> float:
    return float(rng.randrange(int(lo // step), int(hi // step) + 1) * step)


# --------------------------------------------------------------------------------------------
# Referrals


@dataclass
class _Person:
    """A young person before validation: ReferralIn fields plus what the schema does not carry."""

    key: int
    values: dict[str, Any]
    home: _Pc
    education: Optional[_Pc] = None
    status: ReferralStatus = ReferralStatus.open
    id: str = ""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


# Prevalences by tier (standard, enhanced, intensive): a higher tier carries more needs and risks.
_NEED_P = {
    Need.mental_health: (0.30, 0.55, 0.80),
    Need.autism_adhd: (0.10, 0.18, 0.25),
    Need.learning_disability: (0.05, 0.10, 0.15),
    Need.offending: (0.06, 0.18, 0.35),
    Need.cultural: (0.04, 0.05, 0.05),
    Need.pets: (0.05, 0.03, 0.0),
}
_SELF_P = {
    "self_harm": (0.12, 0.30, 0.55),
    "going_missing": (0.12, 0.30, 0.55),
    "criminal_exploitation": (0.05, 0.18, 0.35),
    "sexual_exploitation": (0.04, 0.14, 0.30),  # scaled down for young men below
    "drugs_alcohol": (0.10, 0.25, 0.40),
    "eating_disorder": (0.02, 0.05, 0.08),
}
_OTHERS_P = {
    "physical": (0.03, 0.12, 0.30),
    "criminal": (0.03, 0.08, 0.15),
    "animals": (0.0, 0.02, 0.05),
}
_AGES = [(16, 0.16), (17, 0.30), (18, 0.20), (19, 0.13), (20, 0.09), (21, 0.06), (22, 0.03), (23, 0.02), (24, 0.01)]
_TIERS = [(Tier.standard, 0.45), (Tier.enhanced, 0.35), (Tier.intensive, 0.20)]
_URGENCIES = [(Urgency.today, 0.12), (Urgency.within_5_days, 0.23), (Urgency.over_5_days, 0.65)]
UASC_SHARE = 0.125


def _legal_status(rng: random.Random, age: int, uasc: bool) -> LegalStatus:
    if age >= 18:
        return LegalStatus.former_relevant
    if uasc:
        return LegalStatus.looked_after  # accommodated under s.20
    return _weighted(rng, [(LegalStatus.looked_after, 0.45), (LegalStatus.eligible, 0.45), (LegalStatus.relevant, 0.10)])


@dataclass
class _Slot:
    """One open referral being drawn up: fixed parts first, the rest filled in later."""

    tier: Tier
    age: int
    urgency: Urgency
    role: str = "generic"  # generic | staying_put | sibling | dol
    sex: Optional[Sex] = None
    sibling_group: Optional[str] = None
    birthday_in_days: Optional[int] = None  # staying put: days from as_of to the 18th birthday
    needs: list[str] = field(default_factory=list)
    risks_to_self: list[str] = field(default_factory=list)
    risks_to_others: list[str] = field(default_factory=list)
    uasc: bool = False


def _open_slots(rng: random.Random, n: int) -> list[_Slot]:
    """Tier, age and urgency for ``n`` referrals in the chosen proportions, with the special
    cases (Staying Put, sibling pairs, deprivation of liberty) placed first."""
    special = [
        _Slot(Tier.standard, 17, Urgency.over_5_days, "staying_put", birthday_in_days=rng.randint(4, 12)),
        _Slot(Tier.standard, 17, Urgency.over_5_days, "staying_put", birthday_in_days=rng.randint(13, 24)),
        _Slot(Tier.standard, 18, Urgency.within_5_days, "staying_put", birthday_in_days=-rng.randint(10, 90)),
        _Slot(Tier.standard, 16, Urgency.over_5_days, "sibling", Sex.male, "SG1"),
        _Slot(Tier.standard, 17, Urgency.over_5_days, "sibling", Sex.male, "SG1"),
        _Slot(Tier.enhanced, 17, Urgency.within_5_days, "sibling", Sex.female, "SG2"),
        _Slot(Tier.enhanced, 19, Urgency.within_5_days, "sibling", Sex.female, "SG2"),
        _Slot(Tier.intensive, 16, Urgency.today, "dol"),
        _Slot(Tier.intensive, 17, Urgency.within_5_days, "dol"),
    ]
    rest = n - len(special)

    def remaining(weights, taken):
        pool = _quota(n, weights)
        for t in taken:
            if t in pool:
                pool.remove(t)
        pool = pool[:rest] + [weights[0][0]] * max(0, rest - len(pool))
        rng.shuffle(pool)
        return pool

    tiers = remaining(_TIERS, [s.tier for s in special])
    ages = remaining(_AGES, [s.age for s in special])
    urgencies = remaining(_URGENCIES, [s.urgency for s in special])
    generic = [_Slot(t, a, u) for t, a, u in zip(tiers, ages, urgencies)]
    slots = special + generic
    rng.shuffle(slots)
    return slots


def _assign_needs(rng: random.Random, slots: list[_Slot]) -> None:
    """Needs and risks: exact counts for the rare ones, prevalences by tier for the rest."""
    generic = [s for s in slots if s.role == "generic"]

    # Unaccompanied asylum-seeking children: mostly 16-17 young men, ESOL and cultural needs.
    young = [s for s in generic if s.age <= 17 and s.tier != Tier.intensive]
    older = [s for s in generic if 18 <= s.age <= 19 and s.tier != Tier.intensive]
    n_uasc = round(UASC_SHARE * len(slots))
    n_young = min(len(young), round(n_uasc * 0.75))
    for s in rng.sample(young, n_young) + rng.sample(older, min(len(older), n_uasc - n_young)):
        s.uasc = True
        s.sex = Sex.male if _chance(rng, 0.9) else Sex.female
        s.needs += ["uasc"] + (["esol"] if _chance(rng, 0.9) else []) + (["cultural"] if _chance(rng, 0.6) else [])

    def pick(k, candidates):
        return rng.sample(candidates, min(k, len(candidates)))

    plain = [s for s in generic if not s.uasc]
    for s in pick(3, [s for s in plain if s.tier != Tier.intensive and s.age >= 17 and s.sex is None]):
        s.sex = Sex.female
        s.needs.append("pregnant_or_parenting")
    for s in pick(2, [s for s in plain if "pregnant_or_parenting" not in s.needs]):
        s.needs.append("physical_disability")
    for s in pick(1, [s for s in plain if s.tier != Tier.standard and not s.needs]):
        s.needs += ["bsl"]
    offenders = [s for s in plain if s.tier != Tier.standard and s.sex is None]
    for s in pick(2, offenders):
        s.sex = Sex.male
        s.risks_to_others.append("sexual")
    for s in pick(1, [s for s in slots if s.tier == Tier.intensive and "sexual" not in s.risks_to_others]):
        s.risks_to_others.append("fire_setting")

    for s in slots:
        if s.sex is None:
            s.sex = Sex.male if _chance(rng, 0.5) else Sex.female
        t = s.tier.rank
        for need, p in _NEED_P.items():
            if need.value not in s.needs and _chance(rng, p[t] + (0.25 if s.uasc and need == Need.mental_health else 0)):
                s.needs.append(need.value)
        for risk, p in _SELF_P.items():
            scale = 0.3 if risk == "sexual_exploitation" and s.sex == Sex.male else 1.0
            if s.role != "staying_put" and _chance(rng, p[t] * scale):
                s.risks_to_self.append(risk)
        for risk, p in _OTHERS_P.items():
            if s.role != "staying_put" and _chance(rng, p[t]):
                s.risks_to_others.append(risk)
        if s.role == "dol":
            s.needs = sorted(set(s.needs) | {"mental_health"})
            s.risks_to_self = sorted(set(s.risks_to_self) | {"self_harm", "going_missing"})

    # Exploitation must be present for the panel to weigh distance against safety.
    for risk, female_first in (("criminal_exploitation", False), ("sexual_exploitation", True)):
        have = [s for s in slots if risk in s.risks_to_self]
        if len(have) < 3:
            cand = [s for s in slots if s.role == "generic" and s.tier != Tier.standard and risk not in s.risks_to_self
                    and (not female_first or s.sex == Sex.female)]
            for s in pick(3 - len(have), cand):
                s.risks_to_self.append(risk)
    for s in slots:
        s.needs = [n.value for n in Need if n.value in s.needs]  # enum order: stable and tidy
        s.risks_to_self = [r for r in _SELF_P if r in s.risks_to_self]
        s.risks_to_others = [r for r in ("physical", "sexual", "fire_setting", "animals", "criminal") if r in s.risks_to_others]


def _living_with(rng: random.Random, s: _Slot) -> LivingWith:
    if s.role in ("sibling", "staying_put"):
        return LivingWith.no_preference
    if s.role == "dol" or {"sexual", "fire_setting"} & set(s.risks_to_others):
        return LivingWith.solo
    p_solo = 0.35 if "physical" in s.risks_to_others else 0.15 if s.tier == Tier.intensive else 0.05
    return _weighted(rng, [
        (LivingWith.solo, p_solo), (LivingWith.only_older, 0.06), (LivingWith.only_younger, 0.03),
        (LivingWith.with_others, 0.20), (LivingWith.no_preference, 0.71 - p_solo),
    ])


def _types(rng: random.Random, s: _Slot, living_with: LivingWith) -> tuple[list[str], list[str]]:
    """Preferred (``suitable_types``) and unsuitable types, as a social worker would set them."""
    T = ServiceType
    if s.role == "staying_put":
        return [T.staying_put.value], [T.emergency.value, T.childrens_home.value]
    if s.role == "dol":
        # A child under a DoL order may not live in registered supported accommodation (903 rule 710).
        return [T.childrens_home.value], [T.emergency.value, T.supported_accommodation.value,
                                          T.supported_tenancy.value, T.supported_lodgings.value, T.staying_put.value]
    pref: list[ServiceType] = []
    unsuit: list[ServiceType] = [T.staying_put]  # only for a young person's own former foster carer
    under18 = s.age < 18
    if under18 or s.tier != Tier.standard or s.risks_to_others or _chance(rng, 0.5):
        unsuit.append(T.emergency)
    if not under18:
        unsuit += [T.foster_care, T.childrens_home]
    if s.tier == Tier.intensive:
        pref.append(T.supported_accommodation)
        if under18 and _chance(rng, 0.4):
            pref.append(T.childrens_home)
        unsuit.append(T.supported_lodgings)
    elif s.tier == Tier.enhanced:
        pref.append(T.supported_accommodation)
        if s.age >= 17 and _chance(rng, 0.35):
            pref.append(T.supported_tenancy)
        if s.age == 16 and _chance(rng, 0.25):
            pref.append(T.foster_care)
    elif under18:
        for t, p in ((T.supported_accommodation, 0.7), (T.supported_lodgings, 0.35),
                     (T.supported_tenancy, 0.25 if s.age == 17 else 0.0), (T.foster_care, 0.2 if s.age == 16 else 0.0)):
            if _chance(rng, p):
                pref.append(t)
    else:
        for t, p in ((T.supported_tenancy, 0.6), (T.supported_accommodation, 0.5), (T.supported_lodgings, 0.2)):
            if _chance(rng, p):
                pref.append(t)
    if s.uasc and under18 and _chance(rng, 0.4):
        pref.append(T.supported_lodgings)
    if living_with == LivingWith.solo or {"sexual", "fire_setting"} & set(s.risks_to_others):
        unsuit.append(T.supported_lodgings)
        if s.age >= 17 and s.tier != Tier.intensive:
            pref.append(T.supported_tenancy)
    pref = [t for t in dict.fromkeys(pref) if t not in unsuit] or [T.supported_accommodation]
    return [t.value for t in pref], [t.value for t in dict.fromkeys(unsuit)]


def _wishes(rng: random.Random, p: "_Person", avoid_town: Optional[str]) -> str:
    v = p.values
    town = p.home.town or "home"
    bits = []
    prefer = v["suitable_types"]
    if "staying_put" in prefer:
        bits.append("Wants to stay with their foster carer after turning 18 and finish college")
    elif "childrens_home" in prefer:
        bits.append("Wants a small home with staff they can get to know")
    elif v["living_with"] == LivingWith.solo.value or prefer == ["supported_tenancy"]:
        bits.append("Would like a place of their own")
    elif "supported_lodgings" in prefer or "foster_care" in prefer:
        bits.append("Would like to live with a family rather than in a shared house")
    else:
        bits.append(rng.choice(["Happy to share with other young people if staff are around",
                                "Wants a shared house where they can learn to cook and budget",
                                "Would like somewhere quiet with their own room"]))
    if v["sibling_group"]:
        bits.append("Wants to stay with their sibling")
    if avoid_town:
        bits.append(f"Does not want to go back to {avoid_town} town centre")
    elif p.education is not None and _chance(rng, 0.7):
        bits.append(f"Wants to keep going to college in {p.education.town or town}")
    elif _chance(rng, 0.5):
        bits.append(f"Wants to stay near family in {town}")
    if "pets" in v["needs"]:
        bits.append("Has a cat and wants to keep it")
    if "pregnant_or_parenting" in v["needs"]:
        bits.append("Needs room for a baby")
    if "uasc" in v["needs"]:
        bits.append("Would like to live near people who speak their language")
    return ". ".join(bits[:3]) + "."


def _duration(rng: random.Random, tier: Tier) -> tuple[int, Optional[int]]:
    if tier == Tier.intensive:
        return rng.choice([26, 39, 52]), rng.choice([6, 8, 12, 16])
    if tier == Tier.enhanced:
        return rng.choice([39, 52, 78]), rng.choice([12, 16, 20, 26])
    return rng.choice([26, 39, 52, 78, 104]), None


def _home_area(rng: random.Random) -> str:
    return _weighted(rng, [(a.code, a.homes) for a in _AREAS if a.homes > 0])


def _open_referrals(rng: random.Random, places: _Places, as_of: dt.date, n: int) -> list[_Person]:
    slots = _open_slots(rng, n)
    _assign_needs(rng, slots)
    centres = {name: places.nearest(code, e, n_) for name, code, e, n_ in _TOWN_CENTRES}

    people: list[_Person] = []
    siblings: dict[str, _Person] = {}
    for key, s in enumerate(slots):
        if s.birthday_in_days is not None:
            dob = _years_before(as_of + dt.timedelta(days=s.birthday_in_days), 18)
        else:
            dob = _dob_for_age(rng, as_of, s.age)
        first = siblings.get(s.sibling_group) if s.sibling_group else None
        home = first.home if first else places.pick(rng, _home_area(rng))
        education = first.education if first else None
        p_edu = 0.8 if s.age <= 18 else 0.55 if s.age <= 20 else 0.35
        if first is None and (_chance(rng, p_edu) or s.uasc):
            education = places.near(rng, home, 4.0)

        if s.urgency == Urgency.today:
            referred = as_of - dt.timedelta(days=rng.randint(0, 2))
        elif s.urgency == Urgency.within_5_days:
            referred = as_of - dt.timedelta(days=rng.randint(0, 7))
        elif s.role == "staying_put":
            referred = as_of - dt.timedelta(days=rng.randint(28, 56))  # planned well ahead
        else:
            referred = as_of - dt.timedelta(days=rng.randint(3, 56))
        referred = max(referred, _sixteenth(dob))

        living_with = _living_with(rng, s)
        suitable, unsuitable = _types(rng, s, living_with)
        if s.role == "staying_put":
            duration = max(1, min(520, (_years_before(dob, -21) - as_of).days // 7))
            step_down = None
        else:
            duration, step_down = _duration(rng, s.tier)
        values = dict(
            id=f"TMP{key}",
            date_of_birth=dob,
            sex=s.sex.value,
            # A young person about to Stay Put is still in foster care: eligible until 18.
            legal_status=(LegalStatus.eligible if s.role == "staying_put" and s.age < 18
                          else _legal_status(rng, s.age, s.uasc)).value,
            home_postcode=home.postcode,
            education_postcode=education.postcode if education else None,
            tier=s.tier.value,
            urgency=s.urgency.value,
            needs=s.needs,
            risks_to_self=s.risks_to_self,
            risks_to_others=s.risks_to_others,
            living_with=living_with.value,
            suitable_types=suitable,
            unsuitable_types=unsuitable,
            preferred_postcode=None,
            avoid_postcodes=[],
            avoid_radius_miles=None,
            sibling_group=s.sibling_group,
            deprivation_of_liberty=s.role == "dol",
            referred_on=referred,
            duration_weeks=duration,
            step_down_weeks=step_down,
        )
        person = _Person(key, values, home, education)
        if s.sibling_group and first is None:
            siblings[s.sibling_group] = person
        people.append(person)

    # Exploited young people keep away from the town centre where they were exploited
    # (DOMAIN: safety may require distance); usually the one nearest home.
    exploited = [p for p in people if {"criminal_exploitation", "sexual_exploitation"} & set(p["risks_to_self"])]
    avoiders = {p.key: p for p in rng.sample(exploited, min(5, len(exploited)))}
    for p in people:
        avoid_town = None
        if p.key in avoiders:
            dists = sorted(
                (float(grid_distance_miles(c.easting, c.northing, p.home.easting, p.home.northing)), name)
                for name, c in centres.items()
            )
            avoid_town = dists[0][1] if _chance(rng, 0.7) else rng.choice(sorted(centres))
            p.values["avoid_postcodes"] = [centres[avoid_town].postcode]
            p.values["avoid_radius_miles"] = rng.choice([2.0, 2.5, 3.0, 4.0, 5.0])
        elif p["sibling_group"] is None and p.home.la_code == MEDWAY and _chance(rng, 0.1):
            near = places.near(rng, p.home, 3.0)
            p.values["preferred_postcode"] = near.postcode if near else None
        p.values["wishes"] = _wishes(rng, p, avoid_town)
    return people


# --------------------------------------------------------------------------------------------
# Supply: providers, properties and their prices


@dataclass(frozen=True)
class _ProviderSpec:
    name: str
    kind: str
    base: str  # the authority most of its properties are in
    properties: int


# kind -> (service type, lot key). Lot keys name the frameworks' lots built in _frameworks().
_KINDS: dict[str, tuple[ServiceType, str]] = {
    "sa": (ServiceType.supported_accommodation, "dps_sa"),
    "sa18": (ServiceType.supported_accommodation, "dps_sa"),
    "sa_spot": (ServiceType.supported_accommodation, "spot_sa"),
    "block": (ServiceType.supported_accommodation, "block"),
    "st": (ServiceType.supported_tenancy, "dps_st"),
    "st18": (ServiceType.supported_tenancy, "dps_st"),
    "lodgings": (ServiceType.supported_lodgings, "inhouse_sl"),
    "staying_put": (ServiceType.staying_put, "inhouse_sp"),
    "ifa": (ServiceType.foster_care, "fw_fostering"),
    "home": (ServiceType.childrens_home, "fw_homes"),
    "bnb": (ServiceType.emergency, "spot_emergency"),
}
# Unregistered settings: 18+ only (the 2023 regulations cover settings housing 16-17 year olds).
_UNREGISTERED = {"sa18", "st18", "bnb", "staying_put"}

# Invented names; any likeness to a real organisation is accidental.
_PROVIDERS: tuple[_ProviderSpec, ...] = (
    _ProviderSpec("Harbour Light Housing", "sa", MEDWAY, 4),
    _ProviderSpec("Northgate Youth Homes", "sa", MEDWAY, 4),
    _ProviderSpec("Kestrel Supported Living", "sa", MEDWAY, 3),
    _ProviderSpec("Riverbend Pathways", "sa", MEDWAY, 3),
    _ProviderSpec("Oakleaf Young People's Services", "sa", MAIDSTONE, 3),
    _ProviderSpec("Lantern Row Supported Housing", "sa", SWALE, 3),
    _ProviderSpec("Brightwater Homes for Young People", "sa", GRAVESHAM, 3),
    _ProviderSpec("Cedar Court Support", "sa", TONBRIDGE_MALLING, 3),
    _ProviderSpec("Tidewater Youth Accommodation", "sa", CANTERBURY, 3),
    _ProviderSpec("Castleview Care and Support", "block", MEDWAY, 2),
    _ProviderSpec("Meridian Young Futures", "sa_spot", GREENWICH, 3),
    _ProviderSpec("Beacon Hill Transitions", "sa_spot", BROMLEY, 3),
    _ProviderSpec("Estuary House Projects", "sa_spot", THURROCK, 2),
    _ProviderSpec("Seafront Move-On Homes", "sa18", SOUTHEND, 2),
    _ProviderSpec("Fernbank Housing Services", "sa18", DARTFORD, 3),
    _ProviderSpec("Keystone Tenancies", "st", MEDWAY, 5),
    _ProviderSpec("Flightpath Floating Support", "st", MEDWAY, 4),
    _ProviderSpec("Weald Independent Living", "st", MAIDSTONE, 4),
    _ProviderSpec("Thameside Tenancy Support", "st", BEXLEY, 3),
    _ProviderSpec("Sheppey Move-On Flats", "st18", SWALE, 3),
    _ProviderSpec("Medway Council Supported Lodgings", "lodgings", MEDWAY, 10),
    _ProviderSpec("Medway Council Fostering Service", "staying_put", MEDWAY, 0),  # one per Staying Put young person
    _ProviderSpec("Greenfields Fostering", "ifa", MEDWAY, 3),
    _ProviderSpec("Orchard Family Placements", "ifa", MAIDSTONE, 3),
    _ProviderSpec("Hillside Children's Homes", "home", GRAVESHAM, 2),
    _ProviderSpec("Stonebridge Residential Care", "home", TONBRIDGE_MALLING, 2),
    _ProviderSpec("Quayside Guest House", "bnb", MEDWAY, 1),
    _ProviderSpec("Windmill Lodge B&B", "bnb", GRAVESHAM, 1),
)

_NEED_OFFER: dict[str, dict[str, float]] = {
    "sa": dict(mental_health=0.9, autism_adhd=0.6, learning_disability=0.4, esol=0.5, uasc=0.5, offending=0.5,
               cultural=0.5, pregnant_or_parenting=0.15, physical_disability=0.12, pets=0.08, bsl=0.05, makaton=0.1),
    "block": dict(mental_health=1.0, autism_adhd=0.8, learning_disability=0.5, offending=0.8, esol=0.4, uasc=0.2,
                  cultural=0.4),
    "sa18": dict(mental_health=0.7, autism_adhd=0.4, learning_disability=0.2, esol=0.5, uasc=0.3, offending=0.5,
                 cultural=0.5, pets=0.1),
    "st": dict(mental_health=0.7, autism_adhd=0.4, learning_disability=0.2, esol=0.6, uasc=0.4, offending=0.3,
               cultural=0.5, pregnant_or_parenting=0.5, physical_disability=0.15, pets=0.25, bsl=0.05),
    "lodgings": dict(mental_health=0.6, autism_adhd=0.4, learning_disability=0.3, esol=0.5, uasc=0.5, cultural=0.6,
                     pets=0.2),
    "ifa": dict(mental_health=0.8, autism_adhd=0.6, learning_disability=0.4, esol=0.5, uasc=0.6, cultural=0.6,
                offending=0.3, pets=0.3, physical_disability=0.1, makaton=0.1),
    "home": dict(mental_health=1.0, autism_adhd=0.9, learning_disability=0.7, offending=0.9, makaton=0.3, esol=0.3,
                 uasc=0.2, cultural=0.4, physical_disability=0.2),
    "bnb": dict(esol=0.3),
}
_NEED_OFFER["sa_spot"] = _NEED_OFFER["sa"]
_NEED_OFFER["st18"] = _NEED_OFFER["st"]

_O = RISK_TO_OTHERS_PREFIX
_RISK_EXCLUDE: dict[str, dict[str, float]] = {
    "shared": {_O + "sexual": 0.85, _O + "fire_setting": 0.7, _O + "animals": 0.05, _O + "criminal": 0.15,
               "drugs_alcohol": 0.1},
    "self_contained": {_O + "sexual": 0.5, _O + "fire_setting": 0.5},
    "intensive": {_O + "sexual": 0.5, _O + "fire_setting": 0.4},
    "st": {_O + "fire_setting": 0.6, _O + "sexual": 0.4, _O + "physical": 0.2},
    "lodgings": {_O + "sexual": 1.0, _O + "fire_setting": 1.0, _O + "physical": 0.8, _O + "criminal": 0.6,
                 "drugs_alcohol": 0.6, "sexual_exploitation": 0.3, "criminal_exploitation": 0.4},
    "ifa": {_O + "sexual": 1.0, _O + "fire_setting": 0.8, _O + "physical": 0.5},
    "home": {_O + "sexual": 0.3, _O + "fire_setting": 0.3},
    "none": {},
}

_LABELS = {
    ServiceType.supported_accommodation: "shared house",
    ServiceType.supported_tenancy: "flat",
    ServiceType.supported_lodgings: "supported lodgings host",
    ServiceType.staying_put: "Staying Put carer",
    ServiceType.foster_care: "foster home",
    ServiceType.childrens_home: "children's home",
    ServiceType.emergency: "bed and breakfast",
}


@dataclass
class _Home:
    """A property before it becomes rows: its place, terms, prices and who lives there."""

    id: str
    provider: "_ProviderRow"
    pc: _Pc
    service_type: ServiceType
    setting: Setting
    registered: bool
    sex: Sex
    age_min: int
    age_max: int
    beds: int
    prices: dict[Tier, float]
    accepts_needs: list[str]
    excludes_risks: list[str]
    lot: str
    name: str = ""
    free: int = 0
    reserved_for: Optional[_Person] = None
    residents: list[_Person] = field(default_factory=list)
    resident_risks: list[str] = field(default_factory=list)

    @property
    def tiers(self) -> list[Tier]:
        return sorted(self.prices, key=lambda t: t.rank)

    @property
    def shared(self) -> bool:
        return self.setting.is_shared


@dataclass
class _ProviderRow:
    id: str
    spec: _ProviderSpec
    grade: Optional[OfstedGrade]
    urn: Optional[str]
    rate: float  # the provider's hourly support rate, or its price position in the range (0-1)

    @property
    def in_house(self) -> bool:
        return self.spec.kind in ("lodgings", "staying_put")


def _grades(rng: random.Random) -> dict[str, Optional[OfstedGrade]]:
    """Mostly good or outstanding; three requires improvement and one inadequate, among the
    registered independent providers (never the block provider: the council would not have
    block-bought from them). Unregistered 18+ providers have no grade."""
    graded = [p.name for p in _PROVIDERS if p.kind not in _UNREGISTERED | {"lodgings"}]
    out: dict[str, Optional[OfstedGrade]] = {p.name: None for p in _PROVIDERS if p.kind in _UNREGISTERED}
    out.update({p.name: OfstedGrade.good for p in _PROVIDERS if p.kind in ("lodgings", "staying_put")})
    pool = [n for n in graded if n not in out]
    weak_pool = [p.name for p in _PROVIDERS if p.kind in ("sa", "sa_spot", "st") and p.name in pool]
    weak = rng.sample(weak_pool, 4)
    out[weak[0]] = OfstedGrade.inadequate
    for n in weak[1:]:
        out[n] = OfstedGrade.requires_improvement
    rest = [n for n in pool if n not in out]
    for n in rng.sample(rest, 5):
        out[n] = OfstedGrade.outstanding
    for n in rest:
        out.setdefault(n, OfstedGrade.good)
    return out


def _area_for(rng: random.Random, base: str) -> str:
    """Mostly the provider's base authority, sometimes anywhere in the market."""
    if _chance(rng, 0.7):
        return base
    return _weighted(rng, [(a.code, a.supply) for a in _AREAS])


def _offer(rng: random.Random, probs: dict[str, float]) -> list[str]:
    return [k for k, p in probs.items() if _chance(rng, p)]


def _sa_tiers(rng: random.Random, kind: str) -> list[Tier]:
    S, E, I = Tier.standard, Tier.enhanced, Tier.intensive
    if kind == "block":
        return [E, I]
    if kind == "sa18":
        return _weighted(rng, [([S], 0.5), ([S, E], 0.5)])
    return _weighted(rng, [([S], 0.25), ([S, E], 0.40), ([E], 0.10), ([E, I], 0.15), ([S, E, I], 0.10)])


def _prices(rng: random.Random, kind: str, service: ServiceType, tiers: list[Tier], prov: _ProviderRow) -> dict[Tier, float]:
    out: dict[Tier, float] = {}
    if service == ServiceType.supported_tenancy:
        for t in tiers:
            lo, hi = SUPPORT_HOURS[t]
            out[t] = float(round(prov.rate * rng.randint(max(lo, 4), hi)))
        return out
    bands = {  # sub-ranges inside the DOMAIN range so a higher tier costs more
        ServiceType.supported_lodgings: {Tier.standard: (250, 350), Tier.enhanced: (350, 450)},
        ServiceType.staying_put: {Tier.standard: (250, 450)},
        ServiceType.foster_care: {Tier.standard: (900, 1050), Tier.enhanced: (1050, 1200)},
        ServiceType.childrens_home: {Tier.enhanced: (4000, 5200), Tier.intensive: (5200, 7000)},
        ServiceType.emergency: {Tier.standard: (350, 700)},
    }
    for t in tiers:
        lo, hi = bands.get(service, PRICE_RANGES[service])[t]
        if kind == "block":  # bought in bulk: the cheaper end
            hi = lo + (hi - lo) * 0.25
        elif kind == "sa_spot":  # off-framework: the dearer end
            lo = lo + (hi - lo) * 0.5
        centre = lo + (hi - lo) * prov.rate
        spread = (hi - lo) * 0.2
        out[t] = _price(rng, max(lo, centre - spread), min(hi, centre + spread))
    return out


def _supply(rng: random.Random, places: _Places, staying_put: list[_Person]) -> tuple[list[_ProviderRow], list[_Home]]:
    grades = _grades(rng)
    providers: list[_ProviderRow] = []
    homes: list[_Home] = []
    for i, spec in enumerate(_PROVIDERS, start=1):
        service, lot = _KINDS[spec.kind]
        rate = float(rng.randint(*HOURLY_RATE)) if service == ServiceType.supported_tenancy else rng.random()
        urn = f"DEMO{7000 + i}" if spec.kind not in _UNREGISTERED else None
        prov = _ProviderRow(f"PRV{i:02d}", spec, grades[spec.name], urn, rate)
        providers.append(prov)
        count = len(staying_put) + 1 if spec.kind == "staying_put" else spec.properties
        for k in range(count):
            homes.append(_property(rng, places, prov, service, lot, k, staying_put))
    for n, h in enumerate(homes, start=1):
        h.id = f"P{n:03d}"
        h.name = f"{h.pc.town or default_authorities().name(h.pc.la_code)} {_LABELS[h.service_type]}"
    return providers, homes


def _property(rng, places, prov: _ProviderRow, service: ServiceType, lot: str, k: int, staying_put: list[_Person]) -> _Home:
    kind = prov.spec.kind
    registered = kind not in _UNREGISTERED
    sex, reserved = Sex.any, None
    if kind in ("sa", "sa_spot", "block", "sa18"):
        tiers = _sa_tiers(rng, kind)
        if kind == "block":
            setting = Setting.shared_care_experienced
        elif kind == "sa18":
            setting = _weighted(rng, [(Setting.shared_mixed, 0.5), (Setting.shared_care_experienced, 0.3), (Setting.self_contained, 0.2)])
        else:
            setting = _weighted(rng, [(Setting.shared_care_experienced, 0.65), (Setting.shared_mixed, 0.15), (Setting.self_contained, 0.2)])
        beds = rng.randint(4, 8) if setting == Setting.self_contained else rng.randint(4, 6)
        ages = (18, 25) if kind == "sa18" else (16, 21) if kind == "block" else _weighted(
            rng, [((16, 21), 0.45), ((16, 25), 0.35), ((16, 19), 0.2)])
        sex = _weighted(rng, [(Sex.any, 0.8), (Sex.female, 0.12), (Sex.male, 0.08)])
        risk_key = "intensive" if Tier.intensive in tiers else "self_contained" if setting == Setting.self_contained else "shared"
    elif kind in ("st", "st18"):
        tiers = [Tier.standard] if kind == "st18" else _weighted(
            rng, [([Tier.standard], 0.5), ([Tier.standard, Tier.enhanced], 0.4), ([Tier.standard, Tier.enhanced, Tier.intensive], 0.1)])
        setting = _weighted(rng, [(Setting.self_contained, 0.6), (Setting.shared_care_experienced, 0.4)])
        beds = 1 if setting == Setting.self_contained else rng.randint(2, 3)
        ages = (18, 25) if kind == "st18" else _weighted(rng, [((16, 25), 0.5), ((17, 25), 0.3), ((18, 25), 0.2)])
        risk_key = "st"
    elif kind == "lodgings":
        tiers = _weighted(rng, [([Tier.standard], 0.7), ([Tier.standard, Tier.enhanced], 0.3)])
        setting, beds, ages = Setting.private_residence, rng.choice([1, 1, 2]), (16, 21)
        sex = _weighted(rng, [(Sex.any, 0.6), (Sex.female, 0.25), (Sex.male, 0.15)])
        risk_key = "lodgings"
    elif kind == "staying_put":
        tiers, setting, beds, ages, risk_key = [Tier.standard], Setting.private_residence, 1, (18, 21), "none"
        reserved = staying_put[k] if k < len(staying_put) else None
    elif kind == "ifa":
        tiers, setting, beds, ages, risk_key = [Tier.standard, Tier.enhanced], Setting.private_residence, rng.choice([1, 2]), (16, 17), "ifa"
    elif kind == "home":
        tiers, setting, beds, ages, risk_key = [Tier.enhanced, Tier.intensive], Setting.shared_care_experienced, rng.randint(3, 4), (16, 17), "home"
    else:  # bnb
        tiers, setting, beds, ages, risk_key = [Tier.standard], Setting.shared_mixed, rng.randint(5, 8), (18, 25), "none"

    if reserved is not None:
        # A Staying Put carer lives near the young person's home (often in it, for the panel's purposes).
        pc = places.near(rng, reserved.home, 3.0) or places.pick(rng, reserved.home.la_code, unique=True)
    else:
        pc = places.pick(rng, _area_for(rng, prov.spec.base), unique=True)
    accepts = _offer(rng, _NEED_OFFER.get(kind, {}))
    if kind == "staying_put":
        accepts = sorted(set(reserved["needs"] if reserved else []) | {"mental_health", "esol", "cultural"})
    if "pregnant_or_parenting" in accepts:
        if setting != Setting.self_contained or sex == Sex.male:
            accepts.remove("pregnant_or_parenting")
        elif "mental_health" not in accepts:
            accepts.append("mental_health")  # parent-and-child support covers perinatal mental health
    excludes = _offer(rng, _RISK_EXCLUDE[risk_key])
    if "pets" in accepts and _O + "animals" not in excludes:
        excludes.append(_O + "animals")
    return _Home(
        id="", provider=prov, pc=pc, service_type=service, setting=setting, registered=registered, sex=sex,
        age_min=ages[0], age_max=ages[1], beds=beds, prices=_prices(rng, kind, service, tiers, prov),
        accepts_needs=[n.value for n in Need if n.value in accepts],
        excludes_risks=sorted(excludes), lot=lot, reserved_for=reserved,
    )


# --------------------------------------------------------------------------------------------
# Occupancy: free beds (scarce at intensive), current residents and their placements


def _free_beds(rng: random.Random, homes: list[_Home], intensive_referrals: int) -> None:
    """Decide how many beds are free in each home. Intensive beds are scarce on purpose: about
    half as many free as intensive referrals, one of them in a children's home (the only option
    for a child under a DoL order). Elsewhere about a fifth of shared-home beds and a third of
    flats and lodgings are free, with a floor for specialist needs (_SPECIALIST_FREE)."""
    intensive = [h for h in homes if Tier.intensive in h.prices and h.reserved_for is None]
    budget = max(3, round(intensive_referrals * 0.55))
    homes_ch = [h for h in intensive if h.service_type == ServiceType.childrens_home]
    first = [rng.choice(homes_ch)] if homes_ch else []
    rest = [h for h in intensive if all(h is not f for f in first)]
    rng.shuffle(rest)
    for h in first + rest:
        if budget == 0:
            break
        if h.free < h.beds - (1 if h.shared else 0):
            h.free += 1
            budget -= 1
    for h in homes:
        if h.reserved_for is not None:
            h.free = 1
        elif h.service_type == ServiceType.staying_put:
            h.free = 0  # the carer's former foster child lives there already
        elif Tier.intensive in h.prices:
            continue
        elif h.service_type == ServiceType.emergency:
            h.free = rng.randint(2, h.beds - 1)  # a B&B always has a room: the last resort
        else:
            # Flats and lodgings turn over faster than shared homes.
            p = 0.22 if h.shared else 0.35
            free = sum(_chance(rng, p) for _ in range(h.beds))
            h.free = min(free, h.beds - 1) if h.shared else free
    _ensure_specialist_free(rng, homes)


# Minimum free beds (outside intensive homes) for needs a panel cannot meet from an ordinary
# shared house: without them the demo would strand every young parent or wheelchair user, which
# is not what Medway's market looks like. BSL is left to chance: a real gap for the panel.
_SPECIALIST_FREE: tuple[tuple[str, int], ...] = (
    ("pregnant_or_parenting", 2),
    ("physical_disability", 2),
    ("uasc", 5),
    ("self_contained", 8),
    ("self_contained_enhanced", 3),
)


def _specialist(h: _Home, what: str) -> bool:
    if what == "self_contained":
        return h.setting == Setting.self_contained
    if what == "self_contained_enhanced":
        return h.setting == Setting.self_contained and Tier.enhanced in h.prices
    return what in h.accepts_needs


def _ensure_specialist_free(rng: random.Random, homes: list[_Home]) -> None:
    ordinary = [h for h in homes if Tier.intensive not in h.prices and h.reserved_for is None
                and h.service_type not in (ServiceType.staying_put, ServiceType.emergency)]
    for what, minimum in _SPECIALIST_FREE:
        able = [h for h in ordinary if _specialist(h, what)]
        short = minimum - sum(h.free for h in able)
        for h in rng.sample(able, len(able)):
            if short <= 0:
                break
            if h.free < h.beds - (1 if h.shared else 0):
                h.free += 1
                short -= 1


def _resident(rng: random.Random, places: _Places, home: _Home, as_of: dt.date, key: int) -> tuple[_Person, dict]:
    """One Medway young person living at ``home`` now, with a placement and a support plan."""
    tier = home.tiers[-1] if home.service_type == ServiceType.childrens_home else rng.choice(home.tiers)
    if home.service_type == ServiceType.staying_put:
        age_hi, age_lo = 20, 19
    else:
        age_lo, age_hi = max(home.age_min, 16), min(home.age_max, 22)
    for _ in range(200):
        age = rng.randint(age_lo, age_hi)
        dob = _dob_for_age(rng, as_of, age)
        if home.service_type == ServiceType.staying_put:
            start = _years_before(dob, -18)
        else:
            start = as_of - dt.timedelta(weeks=rng.randint(2, 70))
        if age_on(dob, start) >= home.age_min and start <= as_of - dt.timedelta(days=7):
            break
    else:  # pragma: no cover - the ranges above always allow a fit
        raise DemoError(f"could not fit a resident into {home.id}")
    sex = home.sex if home.sex != Sex.any else rng.choice([Sex.male, Sex.female])
    needs = [n for n in home.accepts_needs if n not in ("pregnant_or_parenting", "uasc", "bsl", "makaton", "physical_disability")
             and _chance(rng, 0.25)]
    if "uasc" in home.accepts_needs and _chance(rng, 0.12):
        needs += ["uasc", "esol"] if "esol" in home.accepts_needs else []
    self_risks = [r for r in ("self_harm", "going_missing", "drugs_alcohol", "criminal_exploitation")
                  if r not in home.excludes_risks and _chance(rng, 0.12 + 0.1 * tier.rank)]
    other_risks = [r for r in ("physical", "criminal") if _O + r not in home.excludes_risks and _chance(rng, 0.05 * (1 + tier.rank))]
    weeks_in = (as_of - start).days // 7
    step_down = None
    lower = [t for t in home.tiers if t.rank == tier.rank - 1]
    if lower:
        step_down = max(4, weeks_in + rng.randint(-8, 16))
    duration = max(weeks_in + rng.randint(8, 52), (step_down or 0) + 8)
    home_pc = places.pick(rng, _home_area(rng))
    values = dict(
        id=f"TMP{key}", date_of_birth=dob, sex=sex.value, legal_status=_legal_status(rng, age, "uasc" in needs).value,
        home_postcode=home_pc.postcode, education_postcode=None, tier=tier.value,
        urgency=rng.choice([u.value for u in Urgency]), needs=[n.value for n in Need if n.value in needs],
        risks_to_self=self_risks, risks_to_others=other_risks,
        living_with=(LivingWith.solo if home.setting == Setting.self_contained and _chance(rng, 0.3) else LivingWith.no_preference).value,
        suitable_types=[home.service_type.value],
        unsuitable_types=[] if home.service_type == ServiceType.emergency else [ServiceType.emergency.value],
        referred_on=max(start - dt.timedelta(days=rng.randint(3, 21)), _sixteenth(dob)),
        duration_weeks=min(duration, 520), step_down_weeks=step_down,
        wishes=rng.choice(["Settled and wants to stay", "Wants to move on to their own tenancy in time",
                           "Doing well at college and wants to stay put", "Wants more independence"]) + ".",
    )
    person = _Person(key, values, home_pc, status=ReferralStatus.placed)
    plan = dict(start=start, tier=tier, step_down=(lower[0], start + dt.timedelta(weeks=step_down)) if lower else None)
    return person, plan


def _occupy(rng: random.Random, places: _Places, homes: list[_Home], as_of: dt.date, first_key: int) -> list[tuple[_Person, _Home, dict]]:
    """Fill the occupied beds: a share with Medway young people (placements placematch holds;
    every shared home has at least one), the rest with other councils' young people whose risks
    are recorded on the property."""
    placed: list[tuple[_Person, _Home, dict]] = []
    key = first_key
    other_risks = ["going_missing", "drugs_alcohol", "self_harm", _O + "physical", "criminal_exploitation"]
    for h in homes:
        occupied = h.beds - h.free
        for bed in range(occupied):
            ours = h.service_type != ServiceType.emergency and (
                (bed == 0 and (h.shared or h.service_type == ServiceType.staying_put)) or _chance(rng, 0.35))
            if ours:
                person, plan = _resident(rng, places, h, as_of, key)
                key += 1
                h.residents.append(person)
                placed.append((person, h, plan))
            elif h.shared and _chance(rng, 0.4):
                allowed = [r for r in other_risks if r not in h.excludes_risks]
                if allowed:
                    h.resident_risks.append(rng.choice(allowed))
        if h.service_type == ServiceType.emergency and not h.resident_risks:
            h.resident_risks.append("drugs_alcohol")  # other guests: the public, not care leavers
        h.resident_risks = sorted(set(h.resident_risks))
    return placed


# --------------------------------------------------------------------------------------------
# Frameworks


def _frameworks(as_of: dt.date) -> dict[str, Lot]:
    year = dt.timedelta(days=365)
    S = ServiceType

    def fw(name, kind, start, years, lots):
        f = Framework(name=name, kind=kind, placing_authority_code=DEMO_AUTHORITY, starts_on=start,
                      ends_on=start + years * year if years else None, price_weight=0.6, quality_weight=0.4)
        out = {}
        for number, (key, lot_name, service, area, block_beds, void) in enumerate(lots, start=1):
            out[key] = Lot(framework=f, number=number, name=lot_name, service_type=service, area=area,
                           block_beds=block_beds, void_weekly_cost=void)
        return out

    lots: dict[str, Lot] = {}
    lots |= fw("Medway 16-25 Supported Accommodation DPS", FrameworkKind.dps, as_of - 2 * year, 4, [
        ("dps_sa", "Supported accommodation (shared and self-contained)", S.supported_accommodation, None, None, None),
        ("dps_st", "Supported tenancy with floating support", S.supported_tenancy, None, None, None),
    ])
    lots |= fw("Medway Intensive Support Block Contract", FrameworkKind.block, as_of - year, 3, [
        ("block", "Intensive supported accommodation in Chatham", S.supported_accommodation, "Medway", None, None),
    ])
    lots |= fw("Medway In-house Supported Lodgings and Staying Put", FrameworkKind.in_house, as_of - 5 * year, 0, [
        ("inhouse_sl", "Supported lodgings hosts", S.supported_lodgings, "Medway", None, None),
        ("inhouse_sp", "Staying Put carers", S.staying_put, None, None, None),
    ])
    lots |= fw("Kent and Medway Children's Placements Framework", FrameworkKind.framework, as_of - 3 * year, 4, [
        ("fw_fostering", "Independent fostering", S.foster_care, None, None, None),
        ("fw_homes", "Children's homes", S.childrens_home, None, None, None),
    ])
    lots |= fw("Spot purchase", FrameworkKind.spot, as_of - 5 * year, 0, [
        ("spot_sa", "Supported accommodation (spot)", S.supported_accommodation, None, None, None),
        ("spot_emergency", "Emergency and bed and breakfast", S.emergency, None, None, None),
    ])
    return lots


# --------------------------------------------------------------------------------------------
# Building


def _vacancy_rows(rng: random.Random, homes: list[_Home], as_of: dt.date) -> list[tuple[_Home, int, dt.date]]:
    """Free beds as vacancy rows: 40% free today, a quarter within five days, the rest over the
    next five weeks (panels see beds coming free as young people move on); a home
    with several free beds sometimes has them on two dates."""
    rows = []
    for h in homes:
        if h.free == 0:
            continue
        if h.reserved_for is not None:
            birthday = _years_before(h.reserved_for["date_of_birth"], -18)
            rows.append((h, 1, max(as_of, birthday)))
            continue

        def when():
            roll = rng.random()
            if roll < 0.4:
                return as_of
            return as_of + dt.timedelta(days=rng.randint(1, 5) if roll < 0.65 else rng.randint(6, 35))

        if h.free >= 2 and _chance(rng, 0.5):
            first = rng.randint(1, h.free - 1)
            rows += [(h, first, when()), (h, h.free - first, when())]
        else:
            rows.append((h, h.free, when()))
    return rows


def _validated_referral(p: _Person) -> Referral:
    r = ReferralIn(**{**p.values, "id": p.id})
    edu = p.education
    return Referral(
        id=r.id, date_of_birth=r.date_of_birth, sex=r.sex, legal_status=r.legal_status,
        home_postcode=r.home_postcode, home_la_code=p.home.la_code,
        home_easting=p.home.easting, home_northing=p.home.northing,
        education_postcode=r.education_postcode,
        education_easting=edu.easting if edu else None, education_northing=edu.northing if edu else None,
        tier=r.tier, urgency=r.urgency, needs=[n.value for n in r.needs],
        risks_to_self=[x.value for x in r.risks_to_self], risks_to_others=[x.value for x in r.risks_to_others],
        living_with=r.living_with, type_suitability=r.type_suitability(),
        preferred_postcode=r.preferred_postcode, avoid_postcodes=list(r.avoid_postcodes),
        avoid_radius_miles=r.avoid_radius_miles, sibling_group=r.sibling_group,
        deprivation_of_liberty=r.deprivation_of_liberty, referred_on=r.referred_on,
        duration_weeks=r.duration_weeks, step_down_weeks=r.step_down_weeks, wishes=r.wishes, status=p.status,
    )


def _vacancy_in(h: _Home, vid: str, beds: int, available_from: dt.date) -> VacancyIn:
    shared_with = ([p.id for p in h.residents] + h.resident_risks) if h.shared else []
    return VacancyIn(
        id=vid, provider_id=h.provider.id, provider_name=h.provider.spec.name, property_id=h.id,
        postcode=h.pc.postcode, service_type=h.service_type, setting=h.setting,
        ofsted_registered=h.registered, ofsted_grade=h.provider.grade, beds=beds, available_from=available_from,
        age_min=h.age_min, age_max=h.age_max, sex=h.sex, tiers=h.tiers,
        price_standard=h.prices.get(Tier.standard), price_enhanced=h.prices.get(Tier.enhanced),
        price_intensive=h.prices.get(Tier.intensive), accepts_needs=h.accepts_needs, excludes_risks=h.excludes_risks,
        shared_with=shared_with, reserved_for=h.reserved_for.id if h.reserved_for else None,
        ofsted_urn=h.provider.urn, in_house=h.provider.in_house,
    )


def build_demo(session: Session, *, seed: int = 2026, as_of: dt.date) -> "DemoSummary":
    """Add the demo council to ``session`` (the caller commits) and return its summary.

    The same (seed, as_of) always gives the same council. Refuses a database that already holds
    providers or referrals, so a demo is never mixed with real or imported data.
    """
    for model in (Referral, Provider, Property, Framework):
        if session.scalar(select(func.count()).select_from(model)):
            raise DemoError(f"the database already holds {model.__tablename__} rows; the demo needs an empty one")

    def rng(concern: str) -> random.Random:
        return random.Random(f"placematch-demo:{seed}:{concern}")

    load_authorities(session)
    places = _Places()

    people = _open_referrals(rng("referrals"), places, as_of, OPEN_REFERRALS)
    staying_put = [p for p in people if "staying_put" in p["suitable_types"]]
    providers, homes = _supply(rng("supply"), places, staying_put)
    intensive_open = sum(p["tier"] == Tier.intensive.value for p in people)
    _free_beds(rng("free"), homes, intensive_open)
    placed = _occupy(rng("residents"), places, homes, as_of, first_key=len(people))

    # The panel's queue first (R0001... in the order referrals arrived), then the young people
    # already placed.
    everyone = people + [p for p, _, _ in placed]
    queue = sorted(people, key=lambda p: (p["referred_on"], p.key))
    residents = sorted((p for p, _, _ in placed), key=lambda p: (p["referred_on"], p.key))
    for n, p in enumerate(queue + residents, start=1):
        p.id = f"R{n:04d}"
    referrals = {p.id: _validated_referral(p) for p in everyone}
    session.add_all(referrals[k] for k in sorted(referrals))
    session.flush()  # vacancies reserve referrals by id, with no relationship to order the inserts

    lots = _frameworks(as_of)
    session.add_all(sorted({id(l.framework): l.framework for l in lots.values()}.values(), key=lambda f: f.name))
    for p in providers:
        session.add(Provider(id=p.id, name=p.spec.name, ofsted_urn=p.urn, ofsted_grade=p.grade, in_house=p.in_house))

    vacancies = _vacancy_rows(rng("vacancies"), homes, as_of)
    by_home: dict[str, list[tuple[str, int, dt.date]]] = {}
    for n, (h, beds, when) in enumerate(vacancies, start=1):
        by_home.setdefault(h.id, []).append((f"V{n:04d}", beds, when))

    block_beds = 0
    for h in homes:
        # Every property passes the importer's checks, whether or not it has a free bed today.
        checks = [_vacancy_in(h, vid, beds, when) for vid, beds, when in by_home.get(h.id, [])] or [
            _vacancy_in(h, "CHECK", 0, as_of)]
        v0 = checks[0]
        prop = Property(
            id=h.id, provider_id=h.provider.id, name=h.name, postcode=v0.postcode, easting=h.pc.easting,
            northing=h.pc.northing, la_code=h.pc.la_code, service_type=v0.service_type, setting=v0.setting,
            ofsted_registered=v0.ofsted_registered, sex=v0.sex, age_min=v0.age_min, age_max=v0.age_max,
            total_beds=h.beds, accepts_needs=[n.value for n in v0.accepts_needs], excludes_risks=list(v0.excludes_risks),
            resident_risks=list(h.resident_risks),
        )
        prop.prices = [TierPrice(tier=t, weekly_price=v0.price(t), lot=lots[h.lot]) for t in v0.tiers]
        prop.vacancies = [
            Vacancy(id=v.id, beds=v.beds, available_from=v.available_from, reserved_for_referral_id=v.reserved_for)
            for v in checks if v.id != "CHECK"
        ]
        session.add(prop)
        if h.lot == "block":
            block_beds += h.beds
    session.flush()
    block = lots["block"]
    block.block_beds = block_beds
    intensive = [h.prices[Tier.intensive] for h in homes if h.lot == "block"]
    block.void_weekly_cost = float(round(sum(intensive) / len(intensive)))

    for person, h, plan in sorted(placed, key=lambda x: x[0].id):
        tier: Tier = plan["tier"]
        steps = [SupportPlanStepIn(starts_on=plan["start"], tier=tier, weekly_cost=h.prices[tier],
                                   note="Placement starts")]
        if plan["step_down"]:
            lower, on = plan["step_down"]
            steps.append(SupportPlanStepIn(starts_on=on, tier=lower, weekly_cost=h.prices[lower],
                                           note=f"Planned step down from {tier.value} to {lower.value}"))
        p_in = PlacementIn(
            referral_id=person.id, property_id=h.id, starts_on=plan["start"],
            planned_end_on=plan["start"] + dt.timedelta(weeks=referrals[person.id].duration_weeks),
            support_plan=steps,
        )
        placement = Placement(
            referral_id=p_in.referral_id, property_id=p_in.property_id, tier=tier, weekly_cost=steps[0].weekly_cost,
            starts_on=p_in.starts_on, planned_end_on=p_in.planned_end_on, status=PlacementStatus.active,
        )
        placement.support_plan = [SupportPlanStep(**step.model_dump()) for step in p_in.support_plan]
        session.add(placement)
    session.flush()
    return summarise(session, DEMO_AUTHORITY)


# --------------------------------------------------------------------------------------------
# Summary (from the database, with SQL aggregates)


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    relation: str  # "placing authority", "in area", "adjoining" or "at a distance"
    properties: int
    beds: int
    free_beds: int
    referrals: int  # open referrals whose home postcode is in this authority

    def as_tuple(self) -> tuple:
        return (self.name, self.code, self.relation, self.properties, self.beds, self.free_beds, self.referrals)


@dataclass(frozen=True)
class TierRow:
    tier: str
    referrals: int  # open referrals assessed at this tier
    free_beds: int  # free beds in properties that offer this tier

    def as_tuple(self) -> tuple:
        return (self.tier, self.referrals, self.free_beds)


@dataclass(frozen=True)
class DemoSummary:
    placing_authority_code: str
    placing_authority_name: str
    referrals_open: int
    referrals_placed: int
    providers: int
    properties: int
    beds: int
    free_beds: int
    vacancies: int
    placements_active: int
    frameworks: int
    lots: int
    areas: tuple[AreaRow, ...]
    tiers: tuple[TierRow, ...]

    AREA_HEADINGS: ClassVar[tuple[str, ...]] = (
        "Local authority", "Code", "Relation", "Properties", "Beds", "Free beds", "Open referrals (home)")
    TIER_HEADINGS: ClassVar[tuple[str, ...]] = ("Tier", "Open referrals", "Free beds offering it")

    def totals(self) -> list[tuple[str, int]]:
        return [
            ("Open referrals", self.referrals_open),
            ("Young people placed", self.referrals_placed),
            ("Active placements", self.placements_active),
            ("Providers", self.providers),
            ("Properties", self.properties),
            ("Beds", self.beds),
            ("Free beds", self.free_beds),
            ("Vacancies", self.vacancies),
            ("Frameworks", self.frameworks),
            ("Lots", self.lots),
            ("Local authorities with supply", sum(1 for a in self.areas if a.properties)),
        ]

    def area_headings(self) -> list[str]:
        return list(self.AREA_HEADINGS)

    def area_rows(self) -> list[tuple]:
        return [a.as_tuple() for a in self.areas]

    rows = area_rows

    def tier_headings(self) -> list[str]:
        return list(self.TIER_HEADINGS)

    def tier_rows(self) -> list[tuple]:
        return [t.as_tuple() for t in self.tiers]


def _count(session: Session, model, *where) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def summarise(session: Session, placing_code: str = DEMO_AUTHORITY) -> DemoSummary:
    """Counts and the per-authority breakdown of whatever the database holds, by SQL aggregates."""
    is_open = Referral.status == ReferralStatus.open
    supply = {
        code: (int(n), int(beds or 0))
        for code, n, beds in session.execute(
            select(Property.la_code, func.count(Property.id), func.sum(Property.total_beds)).group_by(Property.la_code))
    }
    free = {
        code: int(beds or 0)
        for code, beds in session.execute(
            select(Property.la_code, func.sum(Vacancy.beds))
            .select_from(Vacancy).join(Vacancy.property).group_by(Property.la_code))
    }
    homes = {
        code: int(n)
        for code, n in session.execute(
            select(Referral.home_la_code, func.count(Referral.id)).where(is_open).group_by(Referral.home_la_code))
    }
    codes = sorted(set(supply) | set(free) | set(homes) | {placing_code})
    known = {
        la.code: la for la in session.scalars(select(LocalAuthority).where(LocalAuthority.code.in_(codes)))
    }
    placing_upper = known[placing_code].upper_tier_code if placing_code in known else placing_code
    neighbours = set(session.scalars(
        select(authority_adjacency.c.code_b).where(authority_adjacency.c.code_a == placing_upper)))

    def relation(code: str) -> str:
        if code == placing_code:
            return "placing authority"
        upper = known[code].upper_tier_code if code in known else code
        if upper == placing_upper:
            return "in area"
        return "adjoining" if upper in neighbours else "at a distance"

    areas = [
        AreaRow(code, known[code].name if code in known else code, relation(code), *supply.get(code, (0, 0)),
                free.get(code, 0), homes.get(code, 0))
        for code in codes
    ]
    areas.sort(key=lambda a: (a.code != placing_code, -a.beds, -a.referrals, a.name))

    # (dict() of a Result would treat it as a mapping: it has keys())
    open_by_tier = dict(session.execute(
        select(Referral.tier, func.count(Referral.id)).where(is_open).group_by(Referral.tier)).all())
    free_by_tier = dict(session.execute(
        select(TierPrice.tier, func.sum(Vacancy.beds))
        .join(Vacancy, Vacancy.property_id == TierPrice.property_id)
        .group_by(TierPrice.tier)).all())
    tiers = tuple(TierRow(t.value, int(open_by_tier.get(t, 0)), int(free_by_tier.get(t) or 0)) for t in Tier)

    return DemoSummary(
        placing_authority_code=placing_code,
        placing_authority_name=known[placing_code].name if placing_code in known else placing_code,
        referrals_open=_count(session, Referral, is_open),
        referrals_placed=_count(session, Referral, Referral.status == ReferralStatus.placed),
        providers=_count(session, Provider),
        properties=sum(n for n, _ in supply.values()),
        beds=sum(b for _, b in supply.values()),
        free_beds=sum(free.values()),
        vacancies=_count(session, Vacancy),
        placements_active=_count(session, Placement, Placement.status == PlacementStatus.active),
        frameworks=_count(session, Framework, Framework.placing_authority_code == placing_code),
        lots=int(session.scalar(select(func.count(Lot.id)).join(Lot.framework)
                                .where(Framework.placing_authority_code == placing_code)) or 0),
        areas=tuple(areas),
        tiers=tiers,
    )
