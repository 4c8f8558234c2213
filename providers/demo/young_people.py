"""The demo's open referrals: each ``needs.Slot`` given a date of birth, a home (and often a
college) postcode, referral dates, the settings a social worker would prefer or rule out, who
they can live with, places to keep away from, and wishes in their own words.

A ``Person`` holds ``ReferralIn`` fields plus what the schema does not carry (the located
postcodes, the status); ``build`` validates it. Young people already placed are drawn in
``occupancy``, as residents of the homes.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Optional

from models.enums import LegalStatus, LivingWith, ReferralStatus, ServiceType, Tier, Urgency
from providers.demo._draw import birthday, chance, dob_for_age, weighted, years_before
from providers.demo.needs import Slot, assign_needs, legal_status, open_slots
from providers.demo.places import MEDWAY, TOWN_CENTRES, Place, Places, home_area
from providers.geography import grid_distance_miles

OPEN_REFERRALS = 64


@dataclass
class Person:
    """A young person before validation: ReferralIn fields plus what the schema does not carry."""

    key: int
    values: dict[str, Any]
    home: Place
    education: Optional[Place] = None
    status: ReferralStatus = ReferralStatus.open
    id: str = ""  # R0001...: given once everyone is drawn, in the order referrals arrived

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _living_with(rng: random.Random, s: Slot) -> LivingWith:
    if s.role in ("sibling", "staying_put"):
        return LivingWith.no_preference
    if s.role == "dol" or {"sexual", "fire_setting"} & set(s.risks_to_others):
        return LivingWith.solo
    p_solo = 0.35 if "physical" in s.risks_to_others else 0.15 if s.tier == Tier.intensive else 0.05
    return weighted(rng, [
        (LivingWith.solo, p_solo), (LivingWith.only_older, 0.06), (LivingWith.only_younger, 0.03),
        (LivingWith.with_others, 0.20), (LivingWith.no_preference, 0.71 - p_solo),
    ])


def _types(rng: random.Random, s: Slot, living_with: LivingWith) -> tuple[list[str], list[str]]:
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
    if under18 or s.tier != Tier.standard or s.risks_to_others or chance(rng, 0.5):
        unsuit.append(T.emergency)
    if not under18:
        unsuit += [T.foster_care, T.childrens_home]
    if s.tier == Tier.intensive:
        pref.append(T.supported_accommodation)
        if under18 and chance(rng, 0.4):
            pref.append(T.childrens_home)
        unsuit.append(T.supported_lodgings)
    elif s.tier == Tier.enhanced:
        pref.append(T.supported_accommodation)
        if s.age >= 17 and chance(rng, 0.35):
            pref.append(T.supported_tenancy)
        if s.age == 16 and chance(rng, 0.25):
            pref.append(T.foster_care)
    elif under18:
        for t, p in ((T.supported_accommodation, 0.7), (T.supported_lodgings, 0.35),
                     (T.supported_tenancy, 0.25 if s.age == 17 else 0.0), (T.foster_care, 0.2 if s.age == 16 else 0.0)):
            if chance(rng, p):
                pref.append(t)
    else:
        for t, p in ((T.supported_tenancy, 0.6), (T.supported_accommodation, 0.5), (T.supported_lodgings, 0.2)):
            if chance(rng, p):
                pref.append(t)
    if s.uasc and under18 and chance(rng, 0.4):
        pref.append(T.supported_lodgings)
    if living_with == LivingWith.solo or {"sexual", "fire_setting"} & set(s.risks_to_others):
        unsuit.append(T.supported_lodgings)
        if s.age >= 17 and s.tier != Tier.intensive:
            pref.append(T.supported_tenancy)
    pref = [t for t in dict.fromkeys(pref) if t not in unsuit] or [T.supported_accommodation]
    return [t.value for t in pref], [t.value for t in dict.fromkeys(unsuit)]


def _wishes(rng: random.Random, p: Person, avoid_town: Optional[str]) -> str:
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
    elif p.education is not None and chance(rng, 0.7):
        bits.append(f"Wants to keep going to college in {p.education.town or town}")
    elif chance(rng, 0.5):
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


def open_referrals(rng: random.Random, places: Places, as_of: dt.date, n: int) -> list[Person]:
    slots = open_slots(rng, n)
    assign_needs(rng, slots)
    centres = {name: places.nearest(code, e, n_) for name, code, e, n_ in TOWN_CENTRES}

    people: list[Person] = []
    siblings: dict[str, Person] = {}
    for key, s in enumerate(slots):
        if s.birthday_in_days is not None:
            dob = years_before(as_of + dt.timedelta(days=s.birthday_in_days), 18)
        else:
            dob = dob_for_age(rng, as_of, s.age)
        first = siblings.get(s.sibling_group) if s.sibling_group else None
        home = first.home if first else places.pick(rng, home_area(rng))
        education = first.education if first else None
        p_edu = 0.8 if s.age <= 18 else 0.55 if s.age <= 20 else 0.35
        if first is None and (chance(rng, p_edu) or s.uasc):
            education = places.near(rng, home, 4.0)

        if s.urgency == Urgency.today:
            referred = as_of - dt.timedelta(days=rng.randint(0, 2))
        elif s.urgency == Urgency.within_5_days:
            referred = as_of - dt.timedelta(days=rng.randint(0, 7))
        elif s.role == "staying_put":
            referred = as_of - dt.timedelta(days=rng.randint(28, 56))  # planned well ahead
        else:
            referred = as_of - dt.timedelta(days=rng.randint(3, 56))
        referred = max(referred, birthday(dob, 16))

        living_with = _living_with(rng, s)
        suitable, unsuitable = _types(rng, s, living_with)
        if s.role == "staying_put":
            duration = max(1, min(520, (birthday(dob, 21) - as_of).days // 7))
            step_down = None
        else:
            duration, step_down = _duration(rng, s.tier)
        values = dict(
            date_of_birth=dob,
            sex=s.sex.value,
            # A young person about to Stay Put is still in foster care: eligible until 18.
            legal_status=(LegalStatus.eligible if s.role == "staying_put" and s.age < 18
                          else legal_status(rng, s.age, s.uasc)).value,
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
        person = Person(key, values, home, education)
        if s.sibling_group and first is None:
            siblings[s.sibling_group] = person
        people.append(person)

    # Exploited young people keep away from the town centre where they were exploited
    # (DOMAIN: safety may require distance); usually the one nearest home.
    exploited = [p for p in people if {"criminal_exploitation", "sexual_exploitation"} & set(p["risks_to_self"])]
    avoiders = {p.key for p in rng.sample(exploited, min(5, len(exploited)))}
    for p in people:
        avoid_town = None
        if p.key in avoiders:
            dists = sorted(
                (float(grid_distance_miles(c.easting, c.northing, p.home.easting, p.home.northing)), name)
                for name, c in centres.items()
            )
            avoid_town = dists[0][1] if chance(rng, 0.7) else rng.choice(sorted(centres))
            p.values["avoid_postcodes"] = [centres[avoid_town].postcode]
            p.values["avoid_radius_miles"] = rng.choice([2.0, 2.5, 3.0, 4.0, 5.0])
        elif p["sibling_group"] is None and p.home.la_code == MEDWAY and chance(rng, 0.1):
            near = places.near(rng, p.home, 3.0)
            p.values["preferred_postcode"] = near.postcode if near else None
        p.values["wishes"] = _wishes(rng, p, avoid_town)
    return people
