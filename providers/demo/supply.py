"""The demo council's market: providers, and the properties (homes) they offer.

Twenty-eight invented providers of supported accommodation, supported tenancies, in-house
supported lodgings and Staying Put carers, independent fostering, children's homes and B&B, each
with a kind that fixes its service type, its lot (``commissioning``) and what its homes are like:
setting, beds, ages, sex, the needs they accept and the risks they cannot manage. A ``Home`` is a
property before it becomes rows; ``occupancy`` then decides who lives there and which beds are
free.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from models.enums import RISK_TO_OTHERS_PREFIX, Need, OfstedGrade, ServiceType, Setting, Sex, Tier
from providers.authorities import default_authorities
from providers.demo._draw import chance, weighted
from providers.demo.commissioning import HOURLY_RATE, weekly_prices
from providers.demo.places import (
    AREAS,
    BEXLEY,
    BROMLEY,
    CANTERBURY,
    DARTFORD,
    GRAVESHAM,
    GREENWICH,
    MAIDSTONE,
    MEDWAY,
    SOUTHEND,
    SWALE,
    THURROCK,
    TONBRIDGE_MALLING,
    Place,
    Places,
)
from providers.demo.young_people import Person


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    kind: str
    base: str  # the authority most of its properties are in
    properties: int


# kind -> (service type, lot key). Lot keys name the lots of commissioning.frameworks().
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
# The provider the demo's provider account (demo.provider) works for: a framework provider of
# supported accommodation whose homes suit much of the demo's queue, so a broadcast reaches it.
DEMO_PROVIDER_STAFF_OF = "PRV02"
_UNREGISTERED = {"sa18", "st18", "bnb", "staying_put"}

# Invented names; any likeness to a real organisation is accidental.
PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec("Harbour Light Housing", "sa", MEDWAY, 4),
    ProviderSpec("Northgate Youth Homes", "sa", MEDWAY, 4),
    ProviderSpec("Kestrel Supported Living", "sa", MEDWAY, 3),
    ProviderSpec("Riverbend Pathways", "sa", MEDWAY, 3),
    ProviderSpec("Oakleaf Young People's Services", "sa", MAIDSTONE, 3),
    ProviderSpec("Lantern Row Supported Housing", "sa", SWALE, 3),
    ProviderSpec("Brightwater Homes for Young People", "sa", GRAVESHAM, 3),
    ProviderSpec("Cedar Court Support", "sa", TONBRIDGE_MALLING, 3),
    ProviderSpec("Tidewater Youth Accommodation", "sa", CANTERBURY, 3),
    ProviderSpec("Castleview Care and Support", "block", MEDWAY, 2),
    ProviderSpec("Meridian Young Futures", "sa_spot", GREENWICH, 3),
    ProviderSpec("Beacon Hill Transitions", "sa_spot", BROMLEY, 3),
    ProviderSpec("Estuary House Projects", "sa_spot", THURROCK, 2),
    ProviderSpec("Seafront Move-On Homes", "sa18", SOUTHEND, 2),
    ProviderSpec("Fernbank Housing Services", "sa18", DARTFORD, 3),
    ProviderSpec("Keystone Tenancies", "st", MEDWAY, 5),
    ProviderSpec("Flightpath Floating Support", "st", MEDWAY, 4),
    ProviderSpec("Weald Independent Living", "st", MAIDSTONE, 4),
    ProviderSpec("Thameside Tenancy Support", "st", BEXLEY, 3),
    ProviderSpec("Sheppey Move-On Flats", "st18", SWALE, 3),
    ProviderSpec("Medway Council Supported Lodgings", "lodgings", MEDWAY, 10),
    ProviderSpec("Medway Council Fostering Service", "staying_put", MEDWAY, 0),  # one per Staying Put young person
    ProviderSpec("Greenfields Fostering", "ifa", MEDWAY, 3),
    ProviderSpec("Orchard Family Placements", "ifa", MAIDSTONE, 3),
    ProviderSpec("Hillside Children's Homes", "home", GRAVESHAM, 2),
    ProviderSpec("Stonebridge Residential Care", "home", TONBRIDGE_MALLING, 2),
    ProviderSpec("Quayside Guest House", "bnb", MEDWAY, 1),
    ProviderSpec("Windmill Lodge B&B", "bnb", GRAVESHAM, 1),
)

# Chance that a home of each kind accepts each need.
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

# Chance that a home excludes each risk, by what kind of home it is.
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

# What a property is called after its town: "Chatham shared house".
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
class ProviderRow:
    """A provider before it becomes a row."""

    id: str
    spec: ProviderSpec
    grade: Optional[OfstedGrade]
    urn: Optional[str]
    rate: float  # the provider's hourly support rate, or its price position in the range (0-1)

    @property
    def in_house(self) -> bool:
        return self.spec.kind in ("lodgings", "staying_put")


@dataclass
class Home:
    """A property before it becomes rows: its place, terms, prices and who lives there."""

    id: str
    provider: ProviderRow
    pc: Place
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
    reserved_for: Optional[Person] = None  # Staying Put: the former foster child
    residents: list[Person] = field(default_factory=list)
    resident_risks: list[str] = field(default_factory=list)

    @property
    def tiers(self) -> list[Tier]:
        return sorted(self.prices, key=lambda t: t.rank)

    @property
    def shared(self) -> bool:
        return self.setting.is_shared


def _grades(rng: random.Random) -> dict[str, Optional[OfstedGrade]]:
    """Mostly good or outstanding; three requires improvement and one inadequate, among the
    registered independent providers (never the block provider: the council would not have
    block-bought from them). Unregistered 18+ providers have no grade; the council's own
    services are good."""
    out: dict[str, Optional[OfstedGrade]] = {p.name: None for p in PROVIDERS if p.kind in _UNREGISTERED}
    out.update({p.name: OfstedGrade.good for p in PROVIDERS if p.kind in ("lodgings", "staying_put")})
    graded = [p.name for p in PROVIDERS if p.kind not in _UNREGISTERED | {"lodgings"}]
    weak = rng.sample([p.name for p in PROVIDERS if p.kind in ("sa", "sa_spot", "st")], 4)
    out[weak[0]] = OfstedGrade.inadequate
    for n in weak[1:]:
        out[n] = OfstedGrade.requires_improvement
    rest = [n for n in graded if n not in out]
    for n in rng.sample(rest, 5):
        out[n] = OfstedGrade.outstanding
    for n in rest:
        out.setdefault(n, OfstedGrade.good)
    return out


def _area_for(rng: random.Random, base: str) -> str:
    """Mostly the provider's base authority, sometimes anywhere in the market."""
    if chance(rng, 0.7):
        return base
    return weighted(rng, [(a.code, a.supply) for a in AREAS])


def _offer(rng: random.Random, probs: dict[str, float]) -> list[str]:
    return [k for k, p in probs.items() if chance(rng, p)]


def _sa_tiers(rng: random.Random, kind: str) -> list[Tier]:
    S, E, I = Tier.standard, Tier.enhanced, Tier.intensive
    if kind == "block":
        return [E, I]
    if kind == "sa18":
        return weighted(rng, [([S], 0.5), ([S, E], 0.5)])
    return weighted(rng, [([S], 0.25), ([S, E], 0.40), ([E], 0.10), ([E, I], 0.15), ([S, E, I], 0.10)])


def supply(rng: random.Random, places: Places, staying_put: list[Person]) -> tuple[list[ProviderRow], list[Home]]:
    """Every provider and its homes; the in-house fostering service has one Staying Put carer
    per young person about to Stay Put, and one more."""
    grades = _grades(rng)
    providers: list[ProviderRow] = []
    homes: list[Home] = []
    for i, spec in enumerate(PROVIDERS, start=1):
        service, lot = _KINDS[spec.kind]
        rate = float(rng.randint(*HOURLY_RATE)) if service == ServiceType.supported_tenancy else rng.random()
        urn = f"DEMO{7000 + i}" if spec.kind not in _UNREGISTERED else None
        prov = ProviderRow(f"PRV{i:02d}", spec, grades[spec.name], urn, rate)
        providers.append(prov)
        count = len(staying_put) + 1 if spec.kind == "staying_put" else spec.properties
        for k in range(count):
            homes.append(_home(rng, places, prov, service, lot, k, staying_put))
    for n, h in enumerate(homes, start=1):
        h.id = f"P{n:03d}"
        h.name = f"{h.pc.town or default_authorities().name(h.pc.la_code)} {_LABELS[h.service_type]}"
    return providers, homes


def _home(rng: random.Random, places: Places, prov: ProviderRow, service: ServiceType, lot: str, k: int,
          staying_put: list[Person]) -> Home:
    """The ``k``-th property of ``prov``."""
    kind = prov.spec.kind
    registered = kind not in _UNREGISTERED
    sex, reserved = Sex.any, None
    if kind in ("sa", "sa_spot", "block", "sa18"):
        tiers = _sa_tiers(rng, kind)
        if kind == "block":
            setting = Setting.shared_care_experienced
        elif kind == "sa18":
            setting = weighted(rng, [(Setting.shared_mixed, 0.5), (Setting.shared_care_experienced, 0.3), (Setting.self_contained, 0.2)])
        else:
            setting = weighted(rng, [(Setting.shared_care_experienced, 0.65), (Setting.shared_mixed, 0.15), (Setting.self_contained, 0.2)])
        beds = rng.randint(4, 8) if setting == Setting.self_contained else rng.randint(4, 6)
        ages = (18, 25) if kind == "sa18" else (16, 21) if kind == "block" else weighted(
            rng, [((16, 21), 0.45), ((16, 25), 0.35), ((16, 19), 0.2)])
        sex = weighted(rng, [(Sex.any, 0.8), (Sex.female, 0.12), (Sex.male, 0.08)])
        risk_key = "intensive" if Tier.intensive in tiers else "self_contained" if setting == Setting.self_contained else "shared"
    elif kind in ("st", "st18"):
        tiers = [Tier.standard] if kind == "st18" else weighted(
            rng, [([Tier.standard], 0.5), ([Tier.standard, Tier.enhanced], 0.4), ([Tier.standard, Tier.enhanced, Tier.intensive], 0.1)])
        setting = weighted(rng, [(Setting.self_contained, 0.6), (Setting.shared_care_experienced, 0.4)])
        beds = 1 if setting == Setting.self_contained else rng.randint(2, 3)
        ages = (18, 25) if kind == "st18" else weighted(rng, [((16, 25), 0.5), ((17, 25), 0.3), ((18, 25), 0.2)])
        risk_key = "st"
    elif kind == "lodgings":
        tiers = weighted(rng, [([Tier.standard], 0.7), ([Tier.standard, Tier.enhanced], 0.3)])
        setting, beds, ages = Setting.private_residence, rng.choice([1, 1, 2]), (16, 21)
        sex = weighted(rng, [(Sex.any, 0.6), (Sex.female, 0.25), (Sex.male, 0.15)])
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
    return Home(
        id="", provider=prov, pc=pc, service_type=service, setting=setting, registered=registered, sex=sex,
        age_min=ages[0], age_max=ages[1], beds=beds, prices=weekly_prices(rng, kind, service, tiers, prov.rate),
        accepts_needs=[n.value for n in Need if n.value in accepts],
        excludes_risks=sorted(excludes), lot=lot, reserved_for=reserved,
    )
