"""The hard rules of a panel run, one small function per reason code.

Every rule answers one question for a batch of (referral, vacancy) pairs: *which of these pairs
does the rule forbid?* It takes a :class:`~matching.pairs.Pairs` (index arrays into the
per-row arrays compiled once by :func:`~matching.pairs.compile_tables`) and returns a boolean
array, True where the pair breaks the rule. Nothing here loops over pairs: a rule is a few
gathers and comparisons, and numpy broadcasting lets the same function judge a dense grid of
referrals x vacancies (``eligible_pairs``, millions of pairs applied as a funnel) or a short
list of pairs (``broken_rules``: a panel's locks, every rule at once).

``RULES`` lists the reason codes in funnel order: cheap and selective first. In the funnel a
pair is counted under the first rule that removes it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matching.pairs import SUITABILITY_CODES, Pairs
from models.enums import OfstedGrade, ServiceType, Setting, Suitability
from providers.geography import pl_distance_miles

CHILDREN_ONLY_TYPES = (ServiceType.foster_care.value, ServiceType.childrens_home.value)
SUPPORTED_ACCOMMODATION_TYPES = (  # the settings the 2023 regulations register
    ServiceType.supported_accommodation.value,
    ServiceType.supported_tenancy.value,
    ServiceType.supported_lodgings.value,
)
POOR_GRADES = (OfstedGrade.requires_improvement.value, OfstedGrade.inadequate.value)
UNSUITABLE = SUITABILITY_CODES.index(Suitability.unsuitable.value)


# --- the rules, in funnel order --------------------------------------------------------------
# Each takes Pairs and returns a boolean array broadcastable to pairs.shape: True = forbidden.


def banned_by_panel(p: Pairs) -> np.ndarray:
    """The panel has ruled this pairing out (a ban recorded with its decision)."""
    return p.matches(p.t.ban_keys)


def declined_by_provider(p: Pairs) -> np.ndarray:
    """The referral was sent to the home's provider, who declined it (providers.offers): none of
    its homes is proposed for that young person. (An offer rules nothing out: the provider's
    other homes stay at their framework prices; matching.pairs puts the offered bed at its price.)"""
    return p.matches(p.t.declined_keys)


def beyond_distance_cap(p: Pairs) -> np.ndarray:
    """Further from home than the council's cap (PL_DISTANCE, the SSDA903 measure, to 0.1
    mile), or at an unknown distance. Sufficiency guidance 2010: live near home, family,
    community and school."""
    cap = p.policy.distance_cap_miles
    if cap is None:
        return p.none()
    return p.further_from_home_than(cap)  # i.e. p.miles_from_home > cap, computed faster


def not_available_in_time(p: Pairs) -> np.ndarray:
    """The bed is free only after the referral's urgency allows (panel date plus
    policy.available_within_days)."""
    return p.vac.available[p.v] > p.ref.deadline[p.r]


def tier_not_offered(p: Pairs) -> np.ndarray:
    """The property offers no support tier at or above the assessed need (a higher tier may
    serve a lower need: over-provision, penalised by the objective)."""
    return p.tier < 0


def age_out_of_range(p: Pairs) -> np.ndarray:
    """Outside the property's registered/declared age range at the start date."""
    age = p.age
    return (age < p.vac.age_min[p.v]) | (age > p.vac.age_max[p.v])


def under_16_in_supported_accommodation(p: Pairs) -> np.ndarray:
    """Supported Accommodation (England) Regulations 2023: no child under 16 may be placed in
    supported accommodation; under-16s go to foster care or a children's home."""
    not_for_children = ~np.isin(p.vac.service_type, CHILDREN_ONLY_TYPES)
    return (p.age < 16) & not_for_children[p.v]


def unregistered_for_under_18(p: Pairs) -> np.ndarray:
    """Since 28 October 2023 a setting housing looked-after 16-17 year olds or 16-17 year old
    care leavers must be registered with Ofsted (Supported Accommodation Regulations 2023)."""
    return (p.age < 18) & ~p.vac.ofsted_registered[p.v]


def sex_restricted(p: Pairs) -> np.ndarray:
    """A single-sex property and a young person of the other sex."""
    restricted = p.vac.sex[p.v]
    return (restricted >= 0) & (restricted != p.ref.sex[p.r])


def _any_bits(referral_words, vacancy_words, p: Pairs, *, complement: bool) -> np.ndarray:
    out = None
    for rw, vw in zip(referral_words, vacancy_words):
        other = ~vw if complement else vw
        hit = (rw[p.r] & other[p.v]) != 0
        out = hit if out is None else out | hit
    return out


def need_not_met(p: Pairs) -> np.ndarray:
    """Some assessed need (mental health, disability, ESOL, parenting, ...) is not among the
    needs the property says it can meet: providers must evidence they can meet each need."""
    return _any_bits(p.ref.needs, p.vac.accepts_needs, p, complement=True)


def risk_excluded(p: Pairs) -> np.ndarray:
    """The property excludes one of the young person's risks (to self, or to others written
    ``to_others:<code>``) in its statement of purpose."""
    return _any_bits(p.ref.risks, p.vac.excludes_risks, p, complement=False)


def type_unsuitable(p: Pairs) -> np.ndarray:
    """The social worker judged this service type unsuitable (Placements Data Standard
    suitability: Preferred / Suitable but not preferred / Unsuitable)."""
    return p.ref.suitability[p.r, p.vac.service_code[p.v]] == UNSUITABLE


def dol_in_registered_supported_accommodation(p: Pairs) -> np.ndarray:
    """A child under a deprivation of liberty order may not be placed in registered supported
    accommodation (SSDA903 validation rule 710)."""
    registered_supported = p.vac.ofsted_registered & np.isin(p.vac.service_type, SUPPORTED_ACCOMMODATION_TYPES)
    return p.ref.deprivation_of_liberty[p.r] & registered_supported[p.v]


def inside_exclusion_zone(p: Pairs) -> np.ndarray:
    """Within avoid_radius_miles (PL_DISTANCE to 0.1 mile, inclusive) of a place the young
    person must keep away from, e.g. where they were exploited (safety may require distance)."""
    out = p.none()
    ref = p.ref
    at, r, v = p.where(ref.avoid_count[p.r] > 0)  # only the few pairs whose referral has points
    if not len(r):
        return out
    count = ref.avoid_count[r]
    pair = np.repeat(np.arange(len(r)), count)  # one row per (pair, avoid point)
    point = np.repeat(ref.avoid_start[r] - (np.cumsum(count) - count), count) + np.arange(len(pair))
    miles = pl_distance_miles(ref.avoid_e[point], ref.avoid_n[point], p.vac.easting[v[pair]], p.vac.northing[v[pair]])
    inside = miles <= ref.avoid_radius[r[pair]]  # a NaN radius draws no zone
    hit = np.zeros(len(r), dtype=bool)
    hit[pair[inside]] = True
    out[at] = hit
    return out


def grade_below_good(p: Pairs) -> np.ndarray:
    """Medway's rule (policy.require_good_grade): only providers Ofsted grades good or
    outstanding. Ungraded providers (in-house hosts, B&Bs) pass."""
    if not p.policy.require_good_grade:
        return p.none()
    poor = np.isin(p.vac.ofsted_grade, POOR_GRADES)
    return poor[p.v]


def emergency_for_under_18(p: Pairs) -> np.ndarray:
    """B&B / emergency accommodation is never used for under-18s (Keep on Caring 2016; the
    Southwark judgment makes homeless 16-17 year olds looked after)."""
    emergency = p.vac.service_type == ServiceType.emergency.value
    return emergency[p.v] & (p.age < 18)


def staying_put_not_reserved(p: Pairs) -> np.ndarray:
    """A Staying Put vacancy is the former foster carer's home, open only to the former foster
    child named on it (Children Act 1989 s.23CZA); with nobody named it is open to nobody."""
    staying_put = p.vac.service_type == ServiceType.staying_put.value
    return staying_put[p.v] & (p.vac.reserved_for[p.v] != p.r)


def solo_needs_self_contained(p: Pairs) -> np.ndarray:
    """A young person for whom a solo placement is recommended only goes to a self-contained
    setting (Placements Data Standard livingCompanions)."""
    not_self_contained = p.vac.setting != Setting.self_contained.value
    return p.ref.solo[p.r] & not_self_contained[p.v]


Rule = Callable[[Pairs], np.ndarray]
RULE_FUNCTIONS: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        banned_by_panel,
        beyond_distance_cap,
        declined_by_provider,
        not_available_in_time,
        tier_not_offered,
        age_out_of_range,
        under_16_in_supported_accommodation,
        unregistered_for_under_18,
        sex_restricted,
        need_not_met,
        risk_excluded,
        type_unsuitable,
        dol_in_registered_supported_accommodation,
        inside_exclusion_zone,
        grade_below_good,
        emergency_for_under_18,
        staying_put_not_reserved,
        solo_needs_self_contained,
    )
}
RULES: list[str] = list(RULE_FUNCTIONS)


def evaluate(rule: Rule, p: Pairs) -> np.ndarray:
    """A rule's verdict at the full shape of the pairs (some rules answer per vacancy)."""
    return np.broadcast_to(rule(p), p.shape)
