"""Building the demo council into a database: draw the plan (referrals, market, occupancy) and
turn it into ORM rows.

Referrals go through ``ReferralIn``, every property through ``VacancyIn`` and every placement
through ``PlacementIn``: the schemas the CSV importer uses, so the demo passes the same
validation as an imported file.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.enums import PlacementStatus, Tier
from models.orm import Framework, Placement, Property, Provider, Referral, SupportPlanStep, TierPrice, Vacancy
from models.schemas import PlacementIn, ReferralIn, SupportPlanStepIn, VacancyIn
from providers.authorities import load_authorities
from providers.demo.commissioning import frameworks
from providers.demo.errors import DemoError
from providers.demo.occupancy import free_beds, occupy, vacancy_dates
from providers.demo.places import DEMO_AUTHORITY, Places
from providers.demo.summary import DemoSummary, summarise
from providers.demo.supply import Home, supply
from providers.demo.young_people import OPEN_REFERRALS, Person, open_referrals


def build_demo(session: Session, *, seed: int = 2026, as_of: dt.date) -> DemoSummary:
    """Add the demo council to ``session`` (the caller commits) and return its summary.

    The same (seed, as_of) always gives the same council. Refuses a database that already holds
    providers or referrals, so a demo is never mixed with real or imported data.
    """
    for model in (Referral, Provider, Property, Framework):
        if session.scalar(select(func.count()).select_from(model)):
            raise DemoError(f"the database already holds {model.__tablename__} rows; the demo needs an empty one")

    def rng(concern: str) -> random.Random:
        # One stream per concern, so a change to one stage does not reshuffle the others.
        return random.Random(f"placematch-demo:{seed}:{concern}")

    load_authorities(session)
    places = Places()

    people = open_referrals(rng("referrals"), places, as_of, OPEN_REFERRALS)
    staying_put = [p for p in people if "staying_put" in p["suitable_types"]]
    providers, homes = supply(rng("supply"), places, staying_put)
    intensive_open = sum(p["tier"] == Tier.intensive.value for p in people)
    free_beds(rng("free"), homes, intensive_open)
    placed = occupy(rng("residents"), places, homes, as_of, first_key=len(people))

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

    lots = frameworks(as_of)
    session.add_all(sorted({id(l.framework): l.framework for l in lots.values()}.values(), key=lambda f: f.name))
    for p in providers:
        session.add(Provider(id=p.id, name=p.spec.name, ofsted_urn=p.urn, ofsted_grade=p.grade, in_house=p.in_house))

    by_home: dict[str, list[tuple[str, int, dt.date]]] = {}
    for n, (h, beds, when) in enumerate(vacancy_dates(rng("vacancies"), homes, as_of), start=1):
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
    # The block contract buys all its homes' beds; an empty one costs about its intensive price.
    block = lots["block"]
    block.block_beds = block_beds
    intensive = [h.prices[Tier.intensive] for h in homes if h.lot == "block"]
    block.void_weekly_cost = float(round(sum(intensive) / len(intensive)))

    for person, h, plan in sorted(placed, key=lambda x: x[0].id):
        session.add(_placement(person, h, plan, referrals[person.id].duration_weeks))
    session.flush()
    return summarise(session, DEMO_AUTHORITY)


def _validated_referral(p: Person) -> Referral:
    r = ReferralIn(id=p.id, **p.values)
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


def _vacancy_in(h: Home, vid: str, beds: int, available_from: dt.date) -> VacancyIn:
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


def _placement(person: Person, h: Home, plan: dict, duration_weeks: int) -> Placement:
    """A resident's active placement and support plan (a planned step down when the home
    offers the tier below), validated as ``PlacementIn``."""
    tier: Tier = plan["tier"]
    steps = [SupportPlanStepIn(starts_on=plan["start"], tier=tier, weekly_cost=h.prices[tier],
                               note="Placement starts")]
    if plan["step_down"]:
        lower, on = plan["step_down"]
        steps.append(SupportPlanStepIn(starts_on=on, tier=lower, weekly_cost=h.prices[lower],
                                       note=f"Planned step down from {tier.value} to {lower.value}"))
    p_in = PlacementIn(
        referral_id=person.id, property_id=h.id, starts_on=plan["start"],
        planned_end_on=plan["start"] + dt.timedelta(weeks=duration_weeks),
        support_plan=steps,
    )
    placement = Placement(
        referral_id=p_in.referral_id, property_id=p_in.property_id, tier=tier, weekly_cost=steps[0].weekly_cost,
        starts_on=p_in.starts_on, planned_end_on=p_in.planned_end_on, status=PlacementStatus.active,
    )
    placement.support_plan = [SupportPlanStep(**step.model_dump()) for step in p_in.support_plan]
    return placement
