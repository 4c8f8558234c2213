"""The regional demo (issue 17): the South East's councils as one Regional Care Co-operative,
each with its own queue, on one shared market. ``placematch demo --region south-east``.

Who: every children's services council of the South East the shipped authorities know (17: Kent,
Medway, Surrey, East and West Sussex, Brighton and Hove, Buckinghamshire, Milton Keynes, the six
Berkshire unitaries, Portsmouth, Southampton and the Isle of Wight; Hampshire and Oxfordshire are
not shipped yet), all members of one co-operative.

How big each council is: the package data holds no looked-after or care-leaver counts by
council, so each council's share of the region's young people, and of its homes, is its share of
the region's live postcodes in the ONS directory (a stand-in for population: Kent about a fifth,
Slough under 2%). A young person lives at a random live postcode of their council's area; a home
stands at a random live postcode of the region.

What: about ``REFERRALS`` open referrals with the matching benchmarks' needs mix
(``scenarios.synthetic``), and ``ROWS`` vacancy rows at homes drawn as a provider would list
them (one service, setting, grade and set of rules per home, one grade per provider), with the
DOMAIN.md prices. Intensive support is offered at fewer homes than the other tiers, as
sufficiency strategies report. About a third of the homes are one council's own (the council
whose area they are in: its block and in-house beds); the rest are the region's, bought under the
co-operative's framework, one lot per service. Nobody is placed yet.

Every row passes the importer's schemas (``ReferralIn``, ``VacancyIn``) and is stored through
the importer's own column mapping; all of it is written in the caller's one transaction. Seeded:
the same seed and day give the same region.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.enums import FrameworkKind, Need, ReferralStatus, ServiceType, Tier
from models.orm import Framework, Lot, Property, Provider, Referral, TierPrice, Vacancy
from models.schemas import ReferralIn, VacancyIn
from models.tenancy import Council
from providers.authorities import default_authorities, load_authorities
from providers.demo.errors import DemoError
from providers.geography import Location, postcodes_in
from providers.interchange import ReferralRow, VacancyRow, property_values, referral_values
from scenarios.synthetic import PRICES, SERVICE_MIX, synthetic_referrals

REGIONS = {"south-east": "South East"}  # the --region name -> the ONS region
RCC_NAME = "South East Regional Care Co-operative"
# First letters of the postcode areas covering the South East's councils (BN, CT, DA, GU, HP, KT,
# ME, MK, OX, PO, RG, RH, SL, SO, TN, ...); the directory is read by first letter.
LETTERS = "BCDGHKMOPRST"
REFERRALS, ROWS = 1_000, 3_000
OWN_SHARE = 1 / 3  # homes that are one council's own
INTENSIVE_SHARE = 0.15  # homes offering intensive support, where the service can
LEAD_COUNCIL = "E10000016"  # Kent lets the co-operative's framework on the members' behalf
# Id prefixes: ids are one namespace across a service's councils (README: begin them with your
# council's own letters).
TAGS = {
    "E06000035": "MDW", "E06000036": "BRK", "E06000037": "WBK", "E06000038": "RDG", "E06000039": "SLO",
    "E06000040": "RBWM", "E06000041": "WOK", "E06000042": "MK", "E06000043": "BH", "E06000044": "PTS",
    "E06000045": "SOT", "E06000046": "IOW", "E06000060": "BUCKS", "E10000011": "ESX", "E10000016": "KCC",
    "E10000030": "SCC", "E10000032": "WSX",
}
LOCATION = ["postcode", "easting", "northing", "la_code"]
_PROVIDER_WORDS = ("Pathways", "Horizons", "Futures", "Bridges", "Foundations", "Next Steps", "Keystone", "Compass",
                   "Harbour", "Anchor", "Lighthouse", "Springboard")
_PROVIDER_KINDS = ("Support", "Housing", "Care", "Living", "Homes")


@dataclass(frozen=True)
class CouncilFigures:
    code: str
    name: str
    postcode_share: float  # its share of the region's live postcodes: how it is sized
    referrals: int
    own_rows: int  # vacancy rows only it may use
    region_rows: int  # the region's vacancy rows in its area


@dataclass(frozen=True)
class RegionDemo:
    rcc: str
    councils: list[CouncilFigures]
    providers: int
    homes: int
    rows: int
    beds: int

    def rows_for_print(self) -> list[tuple]:
        return [(c.name, c.code, TAGS[c.code], f"{c.postcode_share:.1%}", c.referrals, c.own_rows, c.region_rows)
                for c in self.councils]


def members(region: str) -> list[str]:
    """The councils of the region the demo is built for, by ONS code."""
    return [c for c in default_authorities().councils_in(region) if c in TAGS]


def region_places(region: str) -> pd.DataFrame:
    """Every live postcode of the members' areas, with the council it belongs to, sorted by
    postcode (so picks by position are stable)."""
    authorities = default_authorities()
    council_of = {area: c for c in members(region) for area in authorities.areas_of(c)}
    places = postcodes_in(list(council_of), LETTERS)
    missing = sorted(set(council_of.values()) - set(places["la_code"].map(council_of)))
    if missing:
        raise DemoError(f"no postcodes found for {', '.join(missing)}")
    places["council"] = places["la_code"].map(council_of)
    return places.sort_values("postcode", kind="stable").reset_index(drop=True)


def build_region_demo(session: Session, region: str = "south-east", *, seed: int = 2026, as_of: dt.date,
                      referrals: int = REFERRALS, rows: int = ROWS) -> RegionDemo:
    """Add the region's councils, queues and market to ``session`` (the caller commits); refuses
    a database that already holds referrals, providers or frameworks."""
    if region not in REGIONS:
        raise DemoError(f"no regional demo called {region!r}: choose {', '.join(REGIONS)}")
    for model in (Referral, Provider, Property, Framework):
        if session.scalar(select(func.count()).select_from(model)):
            raise DemoError(f"the database already holds {model.__tablename__} rows; the demo needs an empty one")
    load_authorities(session)
    authorities = default_authorities()
    places = region_places(REGIONS[region])
    codes = members(REGIONS[region])
    for code in codes:
        session.add(Council(code=code, name=authorities.name(code), rcc=RCC_NAME))
    session.flush()

    queue = _queue(np.random.default_rng([seed, 1]), places, codes, referrals, as_of)
    for _, person in queue.iterrows():
        session.add(_referral(person))
    market = _market(np.random.default_rng([seed, 2]), places, rows, as_of)
    lots = _framework(session, as_of)
    _write_market(session, market, lots)
    session.flush()

    share = places["council"].value_counts(normalize=True)
    asked = queue["council"].value_counts()
    own = market[market["owner"].notna()]["owner"].value_counts()
    regional = market[market["owner"].isna()]["council"].value_counts()
    figures = [CouncilFigures(c, authorities.name(c), float(share.get(c, 0.0)), int(asked.get(c, 0)),
                              int(own.get(c, 0)), int(regional.get(c, 0))) for c in codes]
    return RegionDemo(RCC_NAME, figures, market["provider_id"].nunique(), market["property_id"].nunique(),
                      len(market), int(market["beds"].sum()))


# --- the queues ----------------------------------------------------------------------------------


def _queue(rng: np.random.Generator, places: pd.DataFrame, codes: list[str], n: int, as_of: dt.date) -> pd.DataFrame:
    """``n`` young people shared between the councils by their postcode shares, each living at a
    random postcode of their council's area; ids begin with the council's letters."""
    in_council = places.groupby("council").indices
    weights = np.array([len(in_council[c]) for c in codes], dtype=float)
    counts = rng.multinomial(n, weights / weights.sum())
    picks = np.concatenate([rng.choice(in_council[c], k) for c, k in zip(codes, counts)])
    homes = places.iloc[picks].reset_index(drop=True)
    people = synthetic_referrals(rng, n, homes=homes, panel_date=as_of)
    people["council"] = homes["council"].to_numpy()
    # Half go to school or college: somewhere in their own district.
    in_district = places.groupby("la_code").indices
    people["education"] = [Location(*places.loc[int(rng.choice(in_district[la])), LOCATION].tolist())
                           if rng.random() < 0.5 else None for la in homes["la_code"]]
    people = people.sort_values(["council", "referred_on", "referral_id"], kind="stable").reset_index(drop=True)
    people["referral_id"] = [f"{TAGS[c]}-R{k:04d}" for c, k in
                             zip(people["council"], people.groupby("council").cumcount() + 1)]
    # A sibling pair stays together only where both are one council's (a group is the council's).
    group = people["council"] + ":" + people["sibling_group"].fillna("")
    sizes = group.map(group.value_counts())
    people["sibling_group"] = np.where(people["sibling_group"].notna() & (sizes > 1),
                                       people["council"].map(TAGS) + "-" + people["sibling_group"].fillna(""), None)
    return people


def _referral(person: pd.Series) -> Referral:
    suitability, education = person["type_suitability"], person["education"]
    ref = ReferralIn(
        id=person["referral_id"], date_of_birth=person["date_of_birth"].date(), sex=person["sex"],
        legal_status=person["legal_status"], home_postcode=person["home_postcode"],
        education_postcode=education.postcode if education else None, tier=person["tier"], urgency=person["urgency"],
        needs=person["needs"], risks_to_self=person["risks_to_self"], risks_to_others=person["risks_to_others"],
        living_with=person["living_with"],
        suitable_types=[t for t, v in suitability.items() if v == "preferred"],
        unsuitable_types=[t for t, v in suitability.items() if v == "unsuitable"],
        sibling_group=_text(person["sibling_group"]), referred_on=person["referred_on"].date(),
    )
    home = Location(person["home_postcode"], float(person["home_e"]), float(person["home_n"]), person["home_la"])
    values = referral_values(ReferralRow(0, ref, home, education))
    return Referral(id=ref.id, council_code=person["council"], status=ReferralStatus.open, **values)


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


# --- the market ----------------------------------------------------------------------------------


_NEEDS = (Need.mental_health, Need.learning_disability, Need.autism_adhd, Need.esol, Need.pregnant_or_parenting)
_EXCLUDABLE = ("to_others:sexual", "to_others:fire_setting", "drugs_alcohol")


def _market(rng: np.random.Generator, places: pd.DataFrame, rows: int, as_of: dt.date) -> pd.DataFrame:
    """``rows`` vacancy rows as providers list them: homes at random postcodes of the region, each
    with one service, setting, price list and set of rules, one grade per provider; a shared home
    lists its free beds in one to three rows (free on different days), any other home one."""
    out: list[dict] = []
    home = 0
    provider_grades: dict[int, str] = {}
    while len(out) < rows:
        at = places.iloc[int(rng.integers(len(places)))]
        service, setting, _ = SERVICE_MIX[int(rng.choice(len(SERVICE_MIX), p=[s[2] for s in SERVICE_MIX]))]
        provider = int(rng.integers(max(1, rows // 12)))
        grade = provider_grades.setdefault(provider, str(rng.choice(
            ["outstanding", "good", "good", "good", "requires_improvement"])))
        offered = PRICES[service]
        top = 2 if rng.random() < INTENSIVE_SHARE else int(rng.integers(0, 2))
        prices = {t: float(rng.integers(lo // 5, hi // 5) * 5) for t, (lo, hi) in zip(Tier, offered)
                  if lo is not None and t.rank <= top}
        owner = at["council"] if rng.random() < OWN_SHARE else None
        home_rows = int(rng.integers(1, 4)) if setting.is_shared else 1
        rules = dict(
            service_type=service.value, setting=setting.value, ofsted_grade=grade,
            ofsted_registered=bool(service != ServiceType.emergency and rng.random() < 0.9),
            sex=str(rng.choice(["any", "any", "any", "male", "female"])),
            age_min=16 if rng.random() < 0.7 else 18, age_max=25,
            accepts_needs=sorted(x.value for x in _NEEDS if rng.random() < 0.7),
            excludes_risks=sorted(x for x in _EXCLUDABLE if rng.random() < 0.3),
        )
        for _ in range(min(home_rows, rows - len(out))):
            out.append({
                "vacancy_id": f"V{len(out) + 1:05d}", "property_id": f"P{home + 1:05d}",
                "provider_id": f"PRV{provider + 1:03d}", "postcode": at["postcode"],
                "easting": float(at["easting"]), "northing": float(at["northing"]), "la_code": at["la_code"],
                "council": at["council"], "owner": owner, "prices": prices,
                "beds": int(rng.integers(1, 3)) if setting.is_shared else 1,
                "available_from": as_of + dt.timedelta(days=int(rng.choice([0, 0, 3, 10, 21, 40]))), **rules,
            })
        home += 1
    return pd.DataFrame(out)


def _framework(session: Session, as_of: dt.date) -> dict[str, Lot]:
    """The co-operative's framework (the region's, let by the lead council): one lot per service."""
    framework = Framework(name=f"{RCC_NAME} 16-25 Accommodation Framework", kind=FrameworkKind.framework,
                          placing_authority_code=LEAD_COUNCIL, council_code=None, starts_on=as_of - dt.timedelta(days=365),
                          ends_on=as_of + dt.timedelta(days=3 * 365), price_weight=0.6, quality_weight=0.4)
    names = {ServiceType.supported_accommodation: "Supported accommodation",
             ServiceType.supported_tenancy: "Supported tenancies with floating support",
             ServiceType.supported_lodgings: "Supported lodgings", ServiceType.emergency: "Emergency beds"}
    lots = {s.value: Lot(framework=framework, number=k, name=name, service_type=s)
            for k, (s, name) in enumerate(names.items(), start=1)}
    session.add(framework)
    return lots


def _write_market(session: Session, market: pd.DataFrame, lots: dict[str, Lot]) -> None:
    names = _provider_names(market)
    for provider_id, grade in market.groupby("provider_id", sort=True)["ofsted_grade"].first().items():
        session.add(Provider(id=provider_id, name=names[provider_id], ofsted_grade=grade))
    for property_id, rows in market.groupby("property_id", sort=True):
        first = rows.iloc[0]
        checked = [_vacancy_in(r, names) for _, r in rows.iterrows()]
        location = Location(first["postcode"], first["easting"], first["northing"], first["la_code"])
        values = property_values(VacancyRow(0, checked[0], location, []))
        prop = Property(id=property_id, name=f"{names[first['provider_id']]}, {first['postcode']}",
                        total_beds=int(rows["beds"].sum()), resident_risks=[], **values)
        owner = _text(first["owner"])
        lot = None if owner else lots[first["service_type"]]  # a council's own home: its own contract
        prop.prices = [TierPrice(tier=t, weekly_price=checked[0].price(t), lot=lot) for t in checked[0].tiers]
        prop.vacancies = [Vacancy(id=v.id, beds=v.beds, available_from=v.available_from,
                                  council_code=owner) for v in checked]
        session.add(prop)


def _vacancy_in(row: pd.Series, names: dict[str, str]) -> VacancyIn:
    prices = row["prices"]
    return VacancyIn(
        id=row["vacancy_id"], provider_id=row["provider_id"], provider_name=names[row["provider_id"]],
        property_id=row["property_id"], postcode=row["postcode"], service_type=row["service_type"],
        setting=row["setting"], ofsted_registered=row["ofsted_registered"], ofsted_grade=row["ofsted_grade"],
        beds=row["beds"], available_from=row["available_from"], age_min=row["age_min"], age_max=row["age_max"],
        sex=row["sex"], tiers=list(prices), price_standard=prices.get(Tier.standard),
        price_enhanced=prices.get(Tier.enhanced), price_intensive=prices.get(Tier.intensive),
        accepts_needs=row["accepts_needs"], excludes_risks=row["excludes_risks"],
    )


def _provider_names(market: pd.DataFrame) -> dict[str, str]:
    """An invented name per provider, from where most of its homes are."""
    authorities = default_authorities()
    names, seen = {}, Counter()
    for k, (provider_id, where) in enumerate(market.groupby("provider_id", sort=True)["council"]):
        base = (f"{authorities.name(where.mode().iloc[0])} {_PROVIDER_WORDS[k % len(_PROVIDER_WORDS)]} "
                f"{_PROVIDER_KINDS[(k // len(_PROVIDER_WORDS)) % len(_PROVIDER_KINDS)]}")
        seen[base] += 1
        names[provider_id] = base if seen[base] == 1 else f"{base} ({seen[base]})"
    return names
