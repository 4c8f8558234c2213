"""An independent checker: is a proposed set of placements allowed, and what does it score?

Written from the matching issue's text, not from the engine: it shares no code with
``matching.eligibility``, ``matching.scoring``, ``matching.model`` or ``matching.constraints``
and re-derives everything row by row in plain Python from the instance frames (distances by
the SSDA903 PL_DISTANCE formula, ages, tiers, prices, risks...). It is deliberately slow and
simple: tests run it against every solution the engine returns, and ``reference_pairs`` (every
pair it finds no fault with) is an oracle for the vectorised eligibility.

Readings of the issue it makes (where the text leaves room):

* a placement starts on max(panel date, available_from); ages are whole years on that day;
* the tier provided is the lowest tier the vacancy offers at or above the assessed need, at
  that tier's price; each tier above the need is one step of over-provision;
* distances are PL_DISTANCE rounded to 0.1 mile (half up); the distance cap, the 20-mile step,
  the exclusion radius (inside when the distance is at most the radius) and the preferred
  radius (outside when the distance is more than it) compare that rounded figure;
* "registered supported accommodation" is supported accommodation, supported tenancy or
  supported lodgings (the settings the 2023 regulations register) when Ofsted-registered;
* an under-16 may go only to foster care or a children's home; only a Staying Put vacancy is
  reserved (for the former foster child named on it, or nobody);
* a service type the referral does not judge is suitable, except floating support (support into
  a home the young person already has), which is for those whose referral asks for it;
* an ungraded provider is not "below good"; a vacancy whose authority is unknown counts as out
  of area and at a distance;
* the budget cap compares the summed weekly prices with the cap in pounds;
* a vacancy with support hours (a floating support or outreach package) is given no more than
  its free hours a week, each young person taking the policy's hours for the tier provided.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from matching.instance import Instance
from matching.policy import Policy
from providers.authorities import default_authorities

TIERS = ("standard", "enhanced", "intensive")  # in order of support
SUPPORTED_ACCOMMODATION = ("supported_accommodation", "supported_tenancy", "supported_lodgings")
SHARED = ("shared_care_experienced", "shared_mixed")
BELOW_GOOD = ("requires_improvement", "inadequate")
TO_OTHERS = "to_others:"
KM_PER_MILE = 1.6093


@dataclass(frozen=True)
class Violation:
    code: str
    referral_id: str | None
    vacancy_id: str | None
    detail: str


# --- small plain-Python helpers ----------------------------------------------------------------


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _day(value) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _age(born: dt.date, on: dt.date) -> int:
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def _tenths_of_a_mile(e1, n1, e2, n2) -> int | None:
    """PL_DISTANCE in tenths of a mile: sqrt(dE^2 + dN^2) / 1000 / 1.6093, half up."""
    if any(_missing(v) for v in (e1, n1, e2, n2)):
        return None
    miles = math.sqrt((float(e1) - float(e2)) ** 2 + (float(n1) - float(n2)) ** 2) / 1000 / KM_PER_MILE
    return int(math.floor(miles * 10 + 0.5 + 1e-9))


def _list(value) -> list:
    if value is None or (not isinstance(value, list | tuple | set | frozenset) and _missing(value)):
        return []
    return list(value)


def _risks_of(referral: dict) -> set[str]:
    return set(map(str, _list(referral["risks_to_self"]))) | {TO_OTHERS + str(r) for r in _list(referral["risks_to_others"])}


def _clashes(a: set[str], b: set[str], policy: Policy) -> list[str]:
    out = []
    for to_others, to_self in policy.incompatible:
        x, y = TO_OTHERS + str(to_others), str(to_self)
        if (x in a and y in b) or (x in b and y in a):
            out.append(f"{to_others} (to others) with {to_self}")
    return out


def _group_of(referral: dict) -> str | None:
    g = referral.get("sibling_group")
    return None if _missing(g) or g == "" else str(g)


# --- one pair ----------------------------------------------------------------------------------


def derive(instance: Instance, policy: Policy, referral: dict, vacancy: dict) -> dict:
    """Everything the issue says about one (referral, vacancy) pair: its facts and its faults.

    Returns a dict with the pair's attributes and ``faults``: [(rule code, detail), ...]."""
    faults: list[tuple[str, str]] = []
    rid, vid = str(referral["referral_id"]), str(vacancy["vacancy_id"])
    panel = _day(instance.panel_date)
    available = _day(vacancy["available_from"])
    start = max(panel, available)
    age = _age(_day(referral["date_of_birth"]), start)
    service, setting = str(vacancy["service_type"]), str(vacancy["setting"])
    urgency = str(referral["urgency"])

    if (rid, vid) in {(str(r), str(v)) for r, v in instance.bans}:
        faults.append(("banned_by_panel", "the panel banned this pair"))
    answers = [a for a in instance.answers if str(a["referral_id"]) == rid]
    provider = str(vacancy.get("provider_id"))
    if any(a["vacancy_id"] is None and str(a["provider_id"]) == provider for a in answers):
        faults.append(("declined_by_provider", f"{provider} declined them"))
    # A provider's offer of this bed: the pair at the offered tier, price and start (the rules
    # are judged on the bed as listed; the offer was checked against them when it was made).
    offer = next((a for a in answers if a["vacancy_id"] is not None and str(a["vacancy_id"]) == vid), None)

    home = _tenths_of_a_mile(referral["home_e"], referral["home_n"], vacancy["easting"], vacancy["northing"])
    cap = policy.distance_cap_miles
    if cap is not None and (home is None or home > round(cap * 10)):
        faults.append(("beyond_distance_cap", f"{'unknown' if home is None else home / 10} miles from home, cap {cap}"))

    days = {str(k): int(v) for k, v in policy.available_within_days.items()}[urgency]
    if available > panel + dt.timedelta(days=days):
        faults.append(("not_available_in_time", f"free from {available}, needed by {panel + dt.timedelta(days=days)}"))

    need = TIERS.index(str(referral["tier"]))
    offered = [t for t in TIERS if not _missing(vacancy.get(f"price_{t}"))]
    covering = [t for t in offered if TIERS.index(t) >= need]
    tier = covering[0] if covering else None
    weekly_cost = float(vacancy[f"price_{tier}"]) if tier else None
    if offer is not None and tier is not None:
        tier, weekly_cost = str(offer["tier"]), float(offer["weekly_price"])
    if tier is None:
        faults.append(("tier_not_offered", f"needs {referral['tier']}, offers {', '.join(offered) or 'nothing'}"))

    if not (int(vacancy["age_min"]) <= age <= int(vacancy["age_max"])):
        faults.append(("age_out_of_range", f"{age} on {start}, takes {vacancy['age_min']}-{vacancy['age_max']}"))
    # Under-16s may not be placed in supported accommodation at all (2023 regulations): of the
    # settings placematch matches, only foster care and children's homes can take them.
    if age < 16 and service not in ("foster_care", "childrens_home"):
        faults.append(("under_16_in_supported_accommodation", f"{age} on {start}"))
    if age < 18 and not bool(vacancy["ofsted_registered"]):
        faults.append(("unregistered_for_under_18", f"{age} on {start}, setting not registered"))
    sex = vacancy.get("sex")
    if not _missing(sex) and str(sex) not in ("any", "") and str(sex) != str(referral["sex"]):
        faults.append(("sex_restricted", f"{sex} only"))
    unmet = sorted(set(map(str, _list(referral["needs"]))) - set(map(str, _list(vacancy["accepts_needs"]))))
    if unmet:
        faults.append(("need_not_met", ", ".join(unmet)))
    excluded = sorted(_risks_of(referral) & set(map(str, _list(vacancy["excludes_risks"]))))
    if excluded:
        faults.append(("risk_excluded", ", ".join(excluded)))
    # A type not judged is suitable, except floating support: only for those who asked for it.
    suitability = dict(referral["type_suitability"] or {}).get(
        service, "unsuitable" if service == "floating_support" else "suitable")
    if suitability == "unsuitable":
        faults.append(("type_unsuitable", service))
    if bool(referral["deprivation_of_liberty"]) and bool(vacancy["ofsted_registered"]) and service in SUPPORTED_ACCOMMODATION:
        faults.append(("dol_in_registered_supported_accommodation", service))

    radius = referral.get("avoid_radius_miles")
    if not _missing(radius):
        for e, n in zip(_list(referral["avoid_e"]), _list(referral["avoid_n"]), strict=False):
            d = _tenths_of_a_mile(e, n, vacancy["easting"], vacancy["northing"])
            if d is not None and d <= round(float(radius) * 10):
                faults.append(("inside_exclusion_zone", f"{d / 10} miles from a place to avoid (radius {radius})"))
                break

    grade = vacancy.get("ofsted_grade")
    if policy.require_good_grade and not _missing(grade) and str(grade) in BELOW_GOOD:
        faults.append(("grade_below_good", str(grade)))
    if service == "emergency" and age < 18:
        faults.append(("emergency_for_under_18", f"{age} on {start}"))
    reserved = vacancy.get("reserved_for")
    reserved = None if _missing(reserved) or reserved == "" else str(reserved)
    if service == "staying_put" and reserved != rid:  # reserved_for exists only on Staying Put
        faults.append(("staying_put_not_reserved", f"reserved for {reserved or 'nobody'}"))
    if str(referral["living_with"]) == "solo" and setting != "self_contained":
        faults.append(("solo_needs_self_contained", setting))

    education = _tenths_of_a_mile(referral["edu_e"], referral["edu_n"], vacancy["easting"], vacancy["northing"])
    preferred = _tenths_of_a_mile(referral["pref_e"], referral["pref_n"], vacancy["easting"], vacancy["northing"])
    la = vacancy.get("la_code")
    authorities = default_authorities()
    if _missing(la) or not str(la):
        in_area, adjoining = None, None
    else:
        in_area = authorities.same_area(instance.placing_authority, str(la))
        adjoining = authorities.adjoins(instance.placing_authority, str(la))
    out_of_area = in_area is not True
    at_a_distance = out_of_area and adjoining is not True
    return {
        "referral_id": rid,
        "vacancy_id": vid,
        "property_id": str(vacancy["property_id"]),
        "tier": tier,
        "need_tier": str(referral["tier"]),
        "over_provision": (TIERS.index(tier) - need) if tier else None,
        "weekly_cost": weekly_cost,
        "home_tenths": home,
        "education_tenths": education,
        "miles_from_home": None if home is None else home / 10,
        "miles_from_education": math.nan if education is None else education / 10,
        "la_code": None if _missing(la) else str(la),
        "in_area": bool(in_area),
        "adjoining": bool(adjoining),
        "at_a_distance": at_a_distance,
        "out_of_area": out_of_area,
        "service_type": service,
        "setting": setting,
        "shared_home": setting in SHARED,
        "suitability": suitability,
        "outside_preferred": preferred is not None and preferred > round(policy.preferred_radius_miles * 10),
        "emergency": service == "emergency",
        "urgency": urgency,
        "looked_after": str(referral.get("legal_status") or "looked_after") in ("looked_after", "eligible"),
        "sibling_group": _group_of(referral),
        "start_date": max(start, _day(offer["start"])) if offer is not None else start,
        "age": age,
        "faults": faults,
    }


def _tables(instance: Instance) -> tuple[dict[str, dict], dict[str, dict]]:
    referrals = {str(r["referral_id"]): r for r in instance.referrals.to_dict("records")}
    vacancies = {str(v["vacancy_id"]): v for v in instance.vacancies.to_dict("records")}
    return referrals, vacancies


def broken_rules(
    instance: Instance, policy: Policy, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """Every hard rule each pair breaks (the checker's reading; unknown ids are reported too)."""
    referrals, vacancies = _tables(instance)
    out = {}
    for r, v in pairs:
        if str(r) not in referrals or str(v) not in vacancies:
            out[(r, v)] = [c for c, ok in (("unknown_referral", str(r) in referrals),
                                           ("unknown_vacancy", str(v) in vacancies)) if not ok]
            continue
        out[(r, v)] = [code for code, _ in derive(instance, policy, referrals[str(r)], vacancies[str(v)])["faults"]]
    return out


PAIR_COLUMNS = [
    "referral_id", "vacancy_id", "property_id", "tier", "need_tier", "over_provision", "weekly_cost",
    "miles_from_home", "miles_from_education", "la_code", "in_area", "adjoining", "at_a_distance",
    "out_of_area", "service_type", "setting", "shared_home", "suitability", "outside_preferred",
    "emergency", "urgency", "sibling_group", "start_date", "looked_after",
]


def reference_pairs(instance: Instance, policy: Policy) -> pd.DataFrame:
    """Every pair the checker finds no hard-rule fault with, with the columns of
    ``matching.eligibility``'s pairs. Slow (a Python loop over all pairs): for tests."""
    referrals, vacancies = _tables(instance)
    rows = []
    for rid in sorted(referrals):
        for vid in sorted(vacancies):
            d = derive(instance, policy, referrals[rid], vacancies[vid])
            if not d["faults"]:
                rows.append({c: d[c] for c in PAIR_COLUMNS})
    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    frame["over_provision"] = frame["over_provision"].astype(int)
    for col in ("weekly_cost", "miles_from_home", "miles_from_education"):
        frame[col] = frame[col].astype(float)
    for col in ("in_area", "adjoining", "at_a_distance", "out_of_area", "shared_home", "outside_preferred", "emergency"):
        frame[col] = frame[col].astype(bool)
    return frame


# --- a whole proposal --------------------------------------------------------------------------


def _pairs_of(assignment) -> list[tuple[str, str]]:
    if isinstance(assignment, pd.DataFrame):
        return [(str(r), str(v)) for r, v in zip(assignment["referral_id"], assignment["vacancy_id"], strict=True)]
    return [(str(r), str(v)) for r, v in assignment]


def check(assignment, instance: Instance, policy: Policy) -> list[Violation]:
    """Every rule the proposed placements break; an empty list means the proposal is allowed."""
    pairs = _pairs_of(assignment)
    referrals, vacancies = _tables(instance)
    out: list[Violation] = []
    facts: dict[tuple[str, str], dict] = {}
    for r, v in pairs:
        if r not in referrals:
            out.append(Violation("unknown_referral", r, v, "no such young person in the queue"))
            continue
        if v not in vacancies:
            out.append(Violation("unknown_vacancy", r, v, "no such vacancy"))
            continue
        d = derive(instance, policy, referrals[r], vacancies[v])
        facts[(r, v)] = d
        out.extend(Violation(code, r, v, detail) for code, detail in d["faults"])

    # One placement per young person, and no more than the free beds.
    for r, n in sorted(Counter(r for r, _ in pairs).items()):
        if n > 1:
            out.append(Violation("placed_twice", r, None, f"{n} placements"))
    for v, n in sorted(Counter(v for _, v in pairs).items()):
        if v in vacancies and n > int(vacancies[v]["beds"]):
            out.append(Violation("beds_exceeded", None, v, f"{n} placed in {vacancies[v]['beds']} beds"))
    hours_taken: dict[str, int] = defaultdict(int)
    for (r, v), d in facts.items():
        if int(vacancies[v].get("support_hours") or 0) > 0:
            hours_taken[v] += policy.hours_needed(d["tier"])
    for v, taken in sorted(hours_taken.items()):
        free = int(vacancies[v]["support_hours"])
        if taken > free:
            out.append(Violation("support_hours_exceeded", None, v, f"{taken} support hours a week given, {free} free"))

    # Who lives in each shared home already.
    residents: dict[str, list[dict]] = defaultdict(list)
    for row in instance.residents.to_dict("records"):
        residents[str(row["property_id"])].append(row)
    new_by_home: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    for (r, v), d in facts.items():
        if d["shared_home"]:
            new_by_home[d["property_id"]].append((r, v, d))

    cap = policy.max_intensive_per_shared_home
    for home, new in sorted(new_by_home.items()):
        new_intensive = [(r, v) for r, v, d in new if d["tier"] == "intensive"]
        there = sum(1 for row in residents[home] if row.get("tier") == "intensive")
        if cap is not None and new_intensive and there + len(new_intensive) > cap:
            for r, v in new_intensive:
                out.append(Violation("intensive_cap", r, v,
                                     f"{home}: {there} intensive living there + {len(new_intensive)} new > {cap}"))
        for r, v, _ in new:
            mine = _risks_of(referrals[r])
            for row in residents[home]:
                found = _clashes(mine, set(map(str, _list(row.get("risks")))), policy)
                if found:
                    out.append(Violation("co_residency", r, v, f"{home}: with a resident, {found[0]}"))
                    break
        for i, (r1, v1, _) in enumerate(new):
            for r2, v2, _ in new[i + 1:]:
                found = _clashes(_risks_of(referrals[r1]), _risks_of(referrals[r2]), policy)
                if found:
                    out.append(Violation("co_residency", r1, v1, f"{home}: with {r2}, {found[0]}"))

    # Siblings: every member of a group in the queue at one property, or none of them.
    groups: dict[str, list[str]] = defaultdict(list)
    for r, row in referrals.items():
        g = _group_of(row)
        if g is not None:
            groups[g].append(r)
    placed_at = {r: facts[(r, v)]["property_id"] for r, v in facts}
    for g, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        placed = [m for m in members if m in placed_at]
        homes = {placed_at[m] for m in placed}
        if placed and (len(placed) < len(members) or len(homes) > 1):
            out.append(Violation("siblings_split", None, None,
                                 f"group {g}: {len(placed)} of {len(members)} placed, at {', '.join(sorted(homes))}"))

    # The panel's locks, and the budget.
    chosen = set(pairs)
    for r, v in instance.locks:
        if (str(r), str(v)) not in chosen:
            out.append(Violation("lock_not_honoured", str(r), str(v), "locked by the panel"))
    if policy.weekly_budget_cap is not None:
        total = sum(d["weekly_cost"] for d in facts.values() if d["weekly_cost"] is not None)
        if total > policy.weekly_budget_cap + 1e-6:
            out.append(Violation("over_budget", None, None, f"£{total:,.2f} a week, cap £{policy.weekly_budget_cap:,}"))
    return out


# --- the objective -----------------------------------------------------------------------------


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


def pair_terms(d: dict, policy: Policy) -> dict[str, int]:
    """One placement's contribution to every level, from the policy's coefficients."""
    pen, pounds = policy.penalties, policy.pounds
    urgency = d["urgency"]
    home = d["home_tenths"] or 0
    education = d["education_tenths"] or 0
    over_20 = home > 200
    suitable_only = d["suitability"] == "suitable"
    # Reg. 11's area rules are for looked-after children (looked after, eligible) only.
    looked_after = d.get("looked_after", True)
    penalty = (
        home * pen.per_tenth_mile_home
        + education * pen.per_tenth_mile_education
        + (pen.over_20_miles if over_20 else 0)
        + ((pen.out_of_area if looked_after else pen.care_leaver_out_of_area) if d["out_of_area"] else 0)
        + ((pen.at_a_distance if looked_after else pen.care_leaver_at_a_distance) if d["at_a_distance"] else 0)
        + d["over_provision"] * pen.over_provision_per_tier
        + (pen.suitable_not_preferred if suitable_only else 0)
        + (pen.outside_preferred_area if d["outside_preferred"] else 0)
        + (pen.emergency if d["emergency"] else 0)
    )
    cost = _half_up(d["weekly_cost"])
    if pen.pounds_a_week_per_point is not None:
        penalty += cost // pen.pounds_a_week_per_point
    in_pounds = (
        cost
        + (home * pounds.per_mile_home + 5) // 10
        + (education * pounds.per_mile_education + 5) // 10
        + (pounds.over_20_miles if over_20 else 0)
        + ((pounds.out_of_area if looked_after else pounds.care_leaver_out_of_area) if d["out_of_area"] else 0)
        + ((pounds.at_a_distance if looked_after else pounds.care_leaver_at_a_distance) if d["at_a_distance"] else 0)
        + d["over_provision"] * pounds.over_provision_per_tier
        + (pounds.suitable_not_preferred if suitable_only else 0)
        + (pounds.outside_preferred_area if d["outside_preferred"] else 0)
        + (pounds.emergency if d["emergency"] else 0)
        - {str(k): int(v) for k, v in pounds.placement_value.items()}[urgency]
    )
    reward = {str(k): int(v) for k, v in policy.urgency_weights.items()}[urgency]
    return {"reward": reward, "penalty": penalty, "cost": cost, "pounds": in_pounds}


def objective(assignment, instance: Instance, policy: Policy) -> dict[str, int]:
    """The proposal's objective per level of the policy's mode, computed row by row."""
    referrals, vacancies = _tables(instance)
    names = ("reward", "penalty", "cost") if policy.mode == "lexicographic" else ("pounds",)
    total = dict.fromkeys(names, 0)
    for r, v in _pairs_of(assignment):
        if r not in referrals or v not in vacancies:
            raise ValueError(f"unknown pair {r} -> {v}")
        d = derive(instance, policy, referrals[r], vacancies[v])
        if d["tier"] is None:
            raise ValueError(f"{r} -> {v}: the vacancy offers no tier for this need, so it has no price")
        terms = pair_terms(d, policy)
        for name in names:
            total[name] += terms[name]
    return total
