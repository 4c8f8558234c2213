"""Who a referral is sent to: every framework provider with a home that could meet the young
person's hard rules, judged by the engine's own eligibility (matching.eligibility), so a
provider is never asked for what the panel could not accept and never left out for what it
could offer.

Each of the provider's homes is judged as if it had a bed free today: a provider whose homes
are full may still free one (its staff update their vacancies), and the offer, not the
listing, is what the panel weighs. The residents already living there are counted, as in a
match run (who can live together). Framework providers are those with a price on a lot of a
framework, or a place awarded on one by a tender.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from matching.eligibility import broken_rules, eligible_pairs
from matching.instance import (
    PRICE_COLUMNS,
    Instance,
    home_columns,
    referrals_frame,
    residents_from_database,
    vacancies_frame,
)
from matching.policy import Policy
from models.enums import Tier
from models.people import Referral
from models.supply import Property, Provider, Vacancy
from providers.offers import framework_providers


@dataclass(frozen=True)
class Eligible:
    provider_id: str
    provider_name: str
    homes: int  # how many of its homes could meet the hard rules


def eligible_providers(session: Session, referral: Referral, on: dt.date, placing_authority: str,
                       policy: Policy | None = None) -> list[Eligible]:
    """The framework providers whose homes could take this young person, most homes first."""
    on_framework = framework_providers(session)
    if not on_framework:
        return []
    stmt = (select(Property, Provider).join(Provider, Property.provider_id == Provider.id)
            .where(Property.provider_id.in_(sorted(on_framework)))
            .options(selectinload(Property.prices)))
    homes, names = [], {}
    for prop, prov in session.execute(stmt):
        names[prov.id] = prov.name
        homes.append({"vacancy_id": f"HOME-{prop.id}", "beds": 1, "available_from": on, "reserved_for": None,
                      **home_columns(prop, prov)})
    if not homes:
        return []
    record = {c.key: getattr(referral, c.key) for c in Referral.__table__.columns}
    instance = Instance(panel_date=on, placing_authority=placing_authority, referrals=referrals_frame([record]),
                        vacancies=vacancies_frame(homes),
                        residents=residents_from_database(session, on, {h["property_id"] for h in homes}))
    pairs = eligible_pairs(instance, policy).pairs
    owner = {h["property_id"]: h["provider_id"] for h in homes}
    counts = pairs["property_id"].astype(str).map(owner).value_counts() if len(pairs) else {}
    return sorted((Eligible(p, names.get(p, p), int(n)) for p, n in dict(counts).items()),
                  key=lambda e: (-e.homes, e.provider_name.lower(), e.provider_id))


def offer_breaks(session: Session, referral: Referral, vacancy_id: str, tier: str, weekly_price: float,
                 start: dt.date, on: dt.date, placing_authority: str, policy: Policy | None = None) -> list[str]:
    """The hard rules a provider's offer (one of its vacancies, at a tier, price and start date)
    would break for this young person, as codes in funnel order ([] when the panel could accept
    it): refused before the bed is held, rather than offered and then never proposed."""
    vacancy = session.get(Vacancy, vacancy_id)
    prop = session.get(Property, vacancy.property_id) if vacancy is not None else None
    if prop is None:
        return []
    row = {"vacancy_id": vacancy.id, "beds": 1, "available_from": max(start, vacancy.available_from),
           "reserved_for": referral.id, **home_columns(prop, prop.provider)}
    row |= {c: float("nan") for c in PRICE_COLUMNS.values()} | {PRICE_COLUMNS[Tier(tier)]: float(weekly_price)}
    record = {c.key: getattr(referral, c.key) for c in Referral.__table__.columns}
    instance = Instance(panel_date=on, placing_authority=placing_authority, referrals=referrals_frame([record]),
                        vacancies=vacancies_frame([row]),
                        residents=residents_from_database(session, on, {prop.id}))
    return broken_rules(instance, policy, [(referral.id, vacancy.id)])[(referral.id, vacancy.id)]

