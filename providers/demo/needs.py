"""Who is in the demo's referral queue: tier, age and urgency in the proportions councils
report, the special cases a panel must handle (Staying Put, sibling pairs, deprivation of
liberty), and needs and risks by tier.

A ``Slot`` is one open referral being drawn up, before it has a home postcode, dates or wishes
(``young_people`` adds those).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from models.enums import LegalStatus, Need, Sex, Tier, Urgency
from providers.demo._draw import chance, quota, weighted

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


def legal_status(rng: random.Random, age: int, uasc: bool) -> LegalStatus:
    if age >= 18:
        return LegalStatus.former_relevant
    if uasc:
        return LegalStatus.looked_after  # accommodated under s.20
    return weighted(rng, [(LegalStatus.looked_after, 0.45), (LegalStatus.eligible, 0.45), (LegalStatus.relevant, 0.10)])


@dataclass
class Slot:
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


def open_slots(rng: random.Random, n: int) -> list[Slot]:
    """Tier, age and urgency for ``n`` referrals in the chosen proportions, with the special
    cases (Staying Put, sibling pairs, deprivation of liberty) placed first."""
    special = [
        Slot(Tier.standard, 17, Urgency.over_5_days, "staying_put", birthday_in_days=rng.randint(4, 12)),
        Slot(Tier.standard, 17, Urgency.over_5_days, "staying_put", birthday_in_days=rng.randint(13, 24)),
        Slot(Tier.standard, 18, Urgency.within_5_days, "staying_put", birthday_in_days=-rng.randint(10, 90)),
        Slot(Tier.standard, 16, Urgency.over_5_days, "sibling", Sex.male, "SG1"),
        Slot(Tier.standard, 17, Urgency.over_5_days, "sibling", Sex.male, "SG1"),
        Slot(Tier.enhanced, 17, Urgency.within_5_days, "sibling", Sex.female, "SG2"),
        Slot(Tier.enhanced, 19, Urgency.within_5_days, "sibling", Sex.female, "SG2"),
        Slot(Tier.intensive, 16, Urgency.today, "dol"),
        Slot(Tier.intensive, 17, Urgency.within_5_days, "dol"),
    ]
    rest = n - len(special)

    def remaining(weights, taken):
        # The whole queue's quota less what the special cases already take (removing at most
        # one per special case, so at least ``rest`` are left).
        pool = quota(n, weights)
        for t in taken:
            if t in pool:
                pool.remove(t)
        pool = pool[:rest]
        rng.shuffle(pool)
        return pool

    tiers = remaining(_TIERS, [s.tier for s in special])
    ages = remaining(_AGES, [s.age for s in special])
    urgencies = remaining(_URGENCIES, [s.urgency for s in special])
    generic = [Slot(t, a, u) for t, a, u in zip(tiers, ages, urgencies)]
    slots = special + generic
    rng.shuffle(slots)
    return slots


def assign_needs(rng: random.Random, slots: list[Slot]) -> None:
    """Needs and risks: exact counts for the rare ones, prevalences by tier for the rest."""
    generic = [s for s in slots if s.role == "generic"]

    # Unaccompanied asylum-seeking children: mostly 16-17 young men, ESOL and cultural needs.
    young = [s for s in generic if s.age <= 17 and s.tier != Tier.intensive]
    older = [s for s in generic if 18 <= s.age <= 19 and s.tier != Tier.intensive]
    n_uasc = round(UASC_SHARE * len(slots))
    n_young = min(len(young), round(n_uasc * 0.75))
    for s in rng.sample(young, n_young) + rng.sample(older, min(len(older), n_uasc - n_young)):
        s.uasc = True
        s.sex = Sex.male if chance(rng, 0.9) else Sex.female
        s.needs += ["uasc"] + (["esol"] if chance(rng, 0.9) else []) + (["cultural"] if chance(rng, 0.6) else [])

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
            s.sex = Sex.male if chance(rng, 0.5) else Sex.female
        t = s.tier.rank
        for need, p in _NEED_P.items():
            if need.value not in s.needs and chance(rng, p[t] + (0.25 if s.uasc and need == Need.mental_health else 0)):
                s.needs.append(need.value)
        for risk, p in _SELF_P.items():
            scale = 0.3 if risk == "sexual_exploitation" and s.sex == Sex.male else 1.0
            if s.role != "staying_put" and chance(rng, p[t] * scale):
                s.risks_to_self.append(risk)
        for risk, p in _OTHERS_P.items():
            if s.role != "staying_put" and chance(rng, p[t]):
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
