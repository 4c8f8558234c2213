"""Who is in the demo's homes today and which beds are free.

Free beds are scarce at intensive on purpose, with a floor for needs an ordinary shared house
cannot meet; occupied beds hold Medway young people already placed (each with a placement and a
support plan, which placematch holds) or other councils' young people, known only by the risks
recorded on the property. Free beds become vacancies, some today and some coming free.
"""

from __future__ import annotations

import datetime as dt
import random

from models.enums import RISK_TO_OTHERS_PREFIX, LivingWith, Need, ReferralStatus, ServiceType, Setting, Sex, Tier, Urgency
from models.orm import age_on
from providers.demo._draw import birthday, chance, dob_for_age
from providers.demo.errors import DemoError
from providers.demo.needs import legal_status
from providers.demo.places import Places, home_area
from providers.demo.supply import Home
from providers.demo.young_people import Person

_O = RISK_TO_OTHERS_PREFIX


def free_beds(rng: random.Random, homes: list[Home], intensive_referrals: int) -> None:
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
            free = sum(chance(rng, p) for _ in range(h.beds))
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


def _specialist(h: Home, what: str) -> bool:
    if what == "self_contained":
        return h.setting == Setting.self_contained
    if what == "self_contained_enhanced":
        return h.setting == Setting.self_contained and Tier.enhanced in h.prices
    return what in h.accepts_needs


def _ensure_specialist_free(rng: random.Random, homes: list[Home]) -> None:
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


def _resident(rng: random.Random, places: Places, home: Home, as_of: dt.date, key: int) -> tuple[Person, dict]:
    """One Medway young person living at ``home`` now, with a placement and a support plan."""
    tier = home.tiers[-1] if home.service_type == ServiceType.childrens_home else rng.choice(home.tiers)
    if home.service_type == ServiceType.staying_put:
        age_hi, age_lo = 20, 19
    else:
        age_lo, age_hi = max(home.age_min, 16), min(home.age_max, 22)
    for _ in range(200):
        age = rng.randint(age_lo, age_hi)
        dob = dob_for_age(rng, as_of, age)
        if home.service_type == ServiceType.staying_put:
            start = birthday(dob, 18)
        else:
            start = as_of - dt.timedelta(weeks=rng.randint(2, 70))
        if age_on(dob, start) >= home.age_min and start <= as_of - dt.timedelta(days=7):
            break
    else:  # pragma: no cover - the ranges above always allow a fit
        raise DemoError(f"could not fit a resident into {home.id}")
    sex = home.sex if home.sex != Sex.any else rng.choice([Sex.male, Sex.female])
    needs = [n for n in home.accepts_needs if n not in ("pregnant_or_parenting", "uasc", "bsl", "makaton", "physical_disability")
             and chance(rng, 0.25)]
    if "uasc" in home.accepts_needs and chance(rng, 0.12):
        needs += ["uasc", "esol"] if "esol" in home.accepts_needs else []
    self_risks = [r for r in ("self_harm", "going_missing", "drugs_alcohol", "criminal_exploitation")
                  if r not in home.excludes_risks and chance(rng, 0.12 + 0.1 * tier.rank)]
    other_risks = [r for r in ("physical", "criminal") if _O + r not in home.excludes_risks and chance(rng, 0.05 * (1 + tier.rank))]
    weeks_in = (as_of - start).days // 7
    step_down = None
    lower = [t for t in home.tiers if t.rank == tier.rank - 1]
    if lower:
        step_down = max(4, weeks_in + rng.randint(-8, 16))
    duration = max(weeks_in + rng.randint(8, 52), (step_down or 0) + 8)
    home_pc = places.pick(rng, home_area(rng))
    values = dict(
        date_of_birth=dob, sex=sex.value, legal_status=legal_status(rng, age, "uasc" in needs).value,
        home_postcode=home_pc.postcode, education_postcode=None, tier=tier.value,
        urgency=rng.choice([u.value for u in Urgency]), needs=[n.value for n in Need if n.value in needs],
        risks_to_self=self_risks, risks_to_others=other_risks,
        living_with=(LivingWith.solo if home.setting == Setting.self_contained and chance(rng, 0.3) else LivingWith.no_preference).value,
        suitable_types=[home.service_type.value],
        unsuitable_types=[] if home.service_type == ServiceType.emergency else [ServiceType.emergency.value],
        referred_on=max(start - dt.timedelta(days=rng.randint(3, 21)), birthday(dob, 16)),
        duration_weeks=min(duration, 520), step_down_weeks=step_down,
        wishes=rng.choice(["Settled and wants to stay", "Wants to move on to their own tenancy in time",
                           "Doing well at college and wants to stay put", "Wants more independence"]) + ".",
    )
    person = Person(key, values, home_pc, status=ReferralStatus.placed)
    plan = dict(start=start, tier=tier, step_down=(lower[0], start + dt.timedelta(weeks=step_down)) if lower else None)
    return person, plan


def occupy(rng: random.Random, places: Places, homes: list[Home], as_of: dt.date, first_key: int) -> list[tuple[Person, Home, dict]]:
    """Fill the occupied beds: a share with Medway young people (placements placematch holds;
    every shared home has at least one), the rest with other councils' young people whose risks
    are recorded on the property. Returns (resident, home, placement plan) for ours."""
    placed: list[tuple[Person, Home, dict]] = []
    key = first_key
    other_risks = ["going_missing", "drugs_alcohol", "self_harm", _O + "physical", "criminal_exploitation"]
    for h in homes:
        occupied = h.beds - h.free
        for bed in range(occupied):
            ours = h.service_type != ServiceType.emergency and (
                (bed == 0 and (h.shared or h.service_type == ServiceType.staying_put)) or chance(rng, 0.35))
            if ours:
                person, plan = _resident(rng, places, h, as_of, key)
                key += 1
                h.residents.append(person)
                placed.append((person, h, plan))
            elif h.shared and chance(rng, 0.4):
                allowed = [r for r in other_risks if r not in h.excludes_risks]
                if allowed:
                    h.resident_risks.append(rng.choice(allowed))
        if h.service_type == ServiceType.emergency and not h.resident_risks:
            h.resident_risks.append("drugs_alcohol")  # other guests: the public, not care leavers
        h.resident_risks = sorted(set(h.resident_risks))
    return placed


def vacancy_dates(rng: random.Random, homes: list[Home], as_of: dt.date) -> list[tuple[Home, int, dt.date]]:
    """Free beds as (home, beds, available from): 40% free today, a quarter within five days,
    the rest over the next five weeks (panels see beds coming free as young people move on); a
    home with several free beds sometimes has them on two dates. A Staying Put carer's bed is
    free from the young person's 18th birthday."""
    rows = []
    for h in homes:
        if h.free == 0:
            continue
        if h.reserved_for is not None:
            rows.append((h, 1, max(as_of, birthday(h.reserved_for["date_of_birth"], 18))))
            continue

        def when():
            roll = rng.random()
            if roll < 0.4:
                return as_of
            return as_of + dt.timedelta(days=rng.randint(1, 5) if roll < 0.65 else rng.randint(6, 35))

        if h.free >= 2 and chance(rng, 0.5):
            first = rng.randint(1, h.free - 1)
            rows += [(h, first, when()), (h, h.free - first, when())]
        else:
            rows.append((h, h.free, when()))
    return rows
