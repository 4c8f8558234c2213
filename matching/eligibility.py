"""Eligible pairs: every (referral, vacancy) pairing that passes all the hard rules, as one long
table, with a funnel that says, per young person, how many vacancies each rule removed.

Step 2 of a panel run (DESIGN.md). The solver only ever sees ``Eligibility.pairs``; the funnel
explains a young person with no option ("all 63 vacancies looked at: 40 beyond the distance cap,
12 tier not offered, ..."), and ``broken_rules`` says what a panel lock or override breaks.

How it stays fast at council-and-beyond scale (5,000 referrals x 8,000 vacancy rows): the
rules (``matching.rules``) are numpy expressions over index arrays, never a Python loop over
pairs. Referrals are judged in chunks against their candidate vacancies as a dense grid (a
column of referral indices against a row of vacancy indices: numpy broadcasting evaluates each
rule on all k x m pairs without materialising k x m index arrays), with chunks kept under
``max_pairs_per_chunk`` pairs. Each rule's verdict is ANDed with the pairs still alive, so a pair
is counted (per referral, one row sum) under the first rule that removes it. Only the survivors
become index lists, and only then are the output columns gathered.

With a distance cap, candidates are first pruned spatially: vacancies are bucketed in grid
squares a little wider than the cap, and referrals whose homes share a square are judged only
against the 3 x 3 squares around it. Every vacancy outside them is beyond the cap and the funnel
counts it there (after the panel's bans), so the counts are those of judging every pair.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.instance import Instance
from matching.pairs import (
    METRES_PER_PL_MILE,
    SUITABILITY_CODES,
    TIER_CODES,
    Pairs,
    Tables,
    compile_tables,
)
from matching.policy import Policy
from matching.rules import RULE_FUNCTIONS, RULES, evaluate
from models.enums import LegalStatus, ServiceType, Setting
from providers.authorities import default_authorities
from providers.geography import pl_distance_miles

__all__ = ["RULES", "Eligibility", "eligible_pairs", "broken_rules", "pair_facts", "PAIR_COLUMNS"]

PAIR_COLUMNS = [
    "referral_id", "vacancy_id", "property_id", "tier", "need_tier", "over_provision", "weekly_cost",
    "miles_from_home", "miles_from_education", "la_code", "in_area", "adjoining", "at_a_distance",
    "out_of_area", "service_type", "setting", "shared_home", "suitability", "outside_preferred",
    "emergency", "urgency", "sibling_group", "start_date", "looked_after",
]
UNKNOWN_REFERRAL = "unknown_referral"
UNKNOWN_VACANCY = "unknown_vacancy"
MAX_PAIRS_PER_CHUNK = 1_000_000


@dataclass
class Eligibility:
    pairs: pd.DataFrame  # one row per eligible pair, PAIR_COLUMNS, sorted by (referral_id, vacancy_id)
    funnel: pd.DataFrame  # index referral_id; RULES..., considered, eligible
    seconds: float

    def rule_totals(self) -> pd.Series:
        """Pairs removed by each rule (as the first rule that removed them), in funnel order."""
        return self.funnel[RULES].sum().astype(np.int64)


def eligible_pairs(
    instance: Instance, policy: Policy | None = None, *, max_pairs_per_chunk: int = MAX_PAIRS_PER_CHUNK
) -> Eligibility:
    """The eligible (referral, vacancy) pairs of ``instance`` under ``policy``, and the funnel.

    ``max_pairs_per_chunk`` bounds the referral x vacancy grid judged at once (memory); the
    answer does not depend on it.
    """
    started = time.perf_counter()
    policy = policy or Policy()
    t = compile_tables(instance, policy)
    n_ref, n_vac = t.n_referrals, t.n_vacancies
    rules = list(RULE_FUNCTIONS.values())

    removed = np.zeros((len(RULES), n_ref), dtype=np.int64)
    candidates = np.zeros(n_ref, dtype=np.int64)
    survivors: list[Pairs] = []
    for refs, vacs in _candidate_groups(t):
        candidates[refs] = len(vacs)
        if not len(vacs):
            continue
        step = max(1, max_pairs_per_chunk // len(vacs))
        for i in range(0, len(refs), step):
            rows = refs[i : i + step]
            p = Pairs.grid(t, rows, vacs)
            alive = np.ones(p.shape, dtype=bool)
            left = alive.size
            for k, rule in enumerate(rules):
                hit = evaluate(rule, p) & alive
                per_referral = np.count_nonzero(hit, axis=1)
                removed[k, rows] += per_referral
                alive &= ~hit
                left -= int(per_referral.sum())
                if not left:
                    break
            survivors.append(p.keep(alive, carry=()))

    # Pairs never judged (vacancies outside the squares around home) are beyond the cap,
    # unless the panel banned them first: bans are counted over every vacancy, the cap takes
    # the rest. Without a cap every pair was judged and this changes nothing.
    ban_k, cap_k = RULES.index("banned_by_panel"), RULES.index("beyond_distance_cap")
    banned = np.bincount(t.ban_keys // max(n_vac, 1), minlength=n_ref)
    within_cap = candidates - removed[ban_k] - removed[cap_k]
    removed[ban_k] = banned
    removed[cap_k] = n_vac - banned - within_cap

    r = np.concatenate([s.r for s in survivors]) if survivors else np.zeros(0, dtype=np.int64)
    v = np.concatenate([s.v for s in survivors]) if survivors else np.zeros(0, dtype=np.int64)
    if len(r) and np.any(r[1:] < r[:-1]):  # groups of referrals came in grid-square order
        order = np.argsort(r, kind="stable")  # keeps each referral's vacancies in id order
        r, v = r[order], v[order]
    pairs = _pairs_frame(t, instance, r, v)

    funnel = pd.DataFrame(removed.T, columns=RULES, index=pd.Index(t.ref.ids, name="referral_id", dtype=object))
    funnel["considered"] = n_vac
    funnel["eligible"] = np.bincount(r, minlength=n_ref)
    return Eligibility(pairs=pairs, funnel=funnel, seconds=time.perf_counter() - started)


def broken_rules(
    instance: Instance, policy: Policy | None, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """Every rule each (referral_id, vacancy_id) pair breaks, in funnel order ([] when the pair
    is eligible), for a panel lock or override. Unknown ids give ``unknown_referral`` /
    ``unknown_vacancy`` instead."""
    policy = policy or Policy()
    asked = [(r, v) for r, v in pairs]
    t = compile_tables(instance, policy)
    ref_index = {rid: i for i, rid in enumerate(t.ref.ids)}
    vac_index = {vid: i for i, vid in enumerate(t.vac.ids)}
    out: dict[tuple[str, str], list[str]] = {}
    known = []
    for rid, vid in asked:
        unknown = [UNKNOWN_REFERRAL] * (rid not in ref_index) + [UNKNOWN_VACANCY] * (vid not in vac_index)
        if unknown:
            out[(rid, vid)] = unknown
        else:
            known.append((rid, vid))
    if known:
        r = np.array([ref_index[rid] for rid, _ in known], dtype=np.int64)
        v = np.array([vac_index[vid] for _, vid in known], dtype=np.int64)
        p = Pairs(t, r, v)
        verdicts = {code: evaluate(rule, p) for code, rule in RULE_FUNCTIONS.items()}
        for i, key in enumerate(known):
            out[key] = [code for code in RULES if verdicts[code][i]]
    return {key: out[key] for key in asked}


def pair_facts(instance: Instance, policy: Policy | None, pairs: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """The pairs table's columns (PAIR_COLUMNS) for any (referral_id, vacancy_id) pairs, eligible
    or not, such as the panel's own choice: a pair whose home offers no tier for the need has no
    tier and no weekly cost (NaN). Unknown ids are left out."""
    policy = policy or Policy()
    t = compile_tables(instance, policy)
    ref_index = {rid: i for i, rid in enumerate(t.ref.ids)}
    vac_index = {vid: i for i, vid in enumerate(t.vac.ids)}
    known = [(ref_index[r], vac_index[v]) for r, v in pairs if r in ref_index and v in vac_index]
    r = np.array([a for a, _ in known], dtype=np.int64)
    v = np.array([b for _, b in known], dtype=np.int64)
    frame = _pairs_frame(t, instance, r, v)
    no_tier = t.vac.lowest_tier[v, t.ref.need_rank[r]] < 0 if len(r) else np.zeros(0, dtype=bool)
    if no_tier.any():
        frame["weekly_cost"] = frame["weekly_cost"].where(~no_tier)
        frame["tier"] = frame["tier"].where(~no_tier)
        frame["over_provision"] = frame["over_provision"].where(~no_tier, 0)
    return frame


# --- candidates ------------------------------------------------------------------------------


def _candidate_groups(t: Tables) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """Groups of referrals (ascending indices) with the vacancies (ascending) each is judged
    against: everyone against everything, or with a distance cap, the referrals whose homes
    share a grid square against the vacancies in the 3 x 3 squares around it. Squares are
    cap + 0.1 miles wide, because PL_DISTANCE rounds to 0.1 and a pair up to cap + 0.05 miles
    passes: so every vacancy that can pass the cap is in a neighbouring square. A home or a
    property without a grid reference is at an unknown distance, which the cap removes."""
    n_ref, n_vac = t.n_referrals, t.n_vacancies
    everyone, everything = np.arange(n_ref, dtype=np.int64), np.arange(n_vac, dtype=np.int64)
    cap = t.policy.distance_cap_miles
    if cap is None or not n_vac or not n_ref:
        yield everyone, everything
        return
    side = (cap + 0.1) * METRES_PER_PL_MILE
    vac, ref = t.vac, t.ref

    where = np.flatnonzero(np.isfinite(vac.easting) & np.isfinite(vac.northing))
    vx, vy = np.floor(vac.easting[where] / side), np.floor(vac.northing[where] / side)
    keys = _square(vx, vy)
    order = np.argsort(keys, kind="stable")  # within a square, vacancies stay ascending
    by_square = where[order]
    squares, first, size = np.unique(keys[order], return_index=True, return_counts=True)

    home = np.isfinite(ref.home_e) & np.isfinite(ref.home_n)
    hx = np.floor(ref.home_e[home] / side)
    hy = np.floor(ref.home_n[home] / side)
    home_keys = _square(hx, hy)
    refs = everyone[home]
    ref_order = np.argsort(home_keys, kind="stable")
    group_keys, group_first = np.unique(home_keys[ref_order], return_index=True)
    bounds = np.append(group_first, len(ref_order))
    for g in range(len(group_keys)):
        members = refs[ref_order[bounds[g] : bounds[g + 1]]]  # ascending: the argsort is stable
        cx, cy = hx[ref_order[bounds[g]]], hy[ref_order[bounds[g]]]
        around = _square(cx + _NEIGHBOURS[:, 0], cy + _NEIGHBOURS[:, 1])
        at = np.searchsorted(squares, around)
        hit = at < len(squares)
        hit[hit] = squares[at[hit]] == around[hit]
        parts = [by_square[first[i] : first[i] + size[i]] for i in at[hit]]
        yield members, np.sort(np.concatenate([*parts, np.zeros(0, dtype=np.int64)]))


_NEIGHBOURS = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=float)


def _square(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One int64 key per grid square (x, y are square numbers, non-negative on the OS grid)."""
    offset = 1 << 20
    return (x.astype(np.int64) + offset) * (1 << 22) + (y.astype(np.int64) + offset)


# --- the output table ------------------------------------------------------------------------


def _pairs_frame(t: Tables, instance: Instance, r: np.ndarray, v: np.ndarray) -> pd.DataFrame:
    """Columns for the eligible pairs only, gathered from per-row arrays."""
    ref, vac = t.ref, t.vac
    refs = instance.referrals.iloc[ref.rows].reset_index(drop=True)
    vacs = instance.vacancies.iloc[vac.rows].reset_index(drop=True)

    where = default_authorities().classify(instance.placing_authority, vacs["la_code"].astype(object))
    in_area = where["in_area"].fillna(False).to_numpy(dtype=bool)
    adjoining = where["adjoining"].fillna(False).to_numpy(dtype=bool)
    at_a_distance = where["at_a_distance"].fillna(True).to_numpy(dtype=bool)  # unknown is not near

    need = ref.need_rank[r]
    tier = vac.lowest_tier[v, need].astype(np.int8)
    cost, start = vac.prices[v, tier], vac.start[v]
    if len(t.offer_keys):  # a provider's offer: the pair at the weekly price and start it offered
        keys = r.astype(np.int64) * t.n_vacancies + v
        at = np.minimum(np.searchsorted(t.offer_keys, keys), len(t.offer_keys) - 1)
        hit = t.offer_keys[at] == keys
        tier = np.where(hit, t.offer_tier[at], tier).astype(np.int8)  # a tier the home lists (providers.offers)
        cost = np.where(hit, t.offer_price[at], cost)
        start = np.where(hit, np.maximum(start, t.offer_start[at]), start)
    miles = pl_distance_miles(ref.home_e[r], ref.home_n[r], vac.easting[v], vac.northing[v])
    from_preferred = _miles_from(refs["pref_e"], refs["pref_n"], t, r, v)
    from_education = _miles_from(refs["edu_e"], refs["edu_n"], t, r, v)
    sibling = np.array([g if isinstance(g, str) and g else None for g in refs["sibling_group"]], dtype=object)
    shared = np.isin(vac.setting, (Setting.shared_care_experienced.value, Setting.shared_mixed.value))
    tiers = np.array(TIER_CODES, dtype=object)

    strings = _coded  # labels many pairs share: a category code per pair, not a string each

    frame = pd.DataFrame({
        "referral_id": strings(ref.ids, r),
        "vacancy_id": strings(vac.ids, v),
        "property_id": strings(vacs["property_id"].astype(object).to_numpy(dtype=object), v),
        "tier": strings(tiers, tier),
        "need_tier": strings(tiers, need),
        "over_provision": (tier - need).astype(np.int8),  # 0, 1 or 2 tiers above the need
        "weekly_cost": cost,
        "miles_from_home": miles,
        "miles_from_education": from_education,
        "la_code": strings(vacs["la_code"].astype(object).to_numpy(dtype=object), v),
        "in_area": in_area[v],
        "adjoining": adjoining[v],
        "at_a_distance": at_a_distance[v],
        "out_of_area": ~in_area[v],
        "service_type": strings(vac.service_type, v),
        "setting": strings(vac.setting, v),
        "shared_home": shared[v],
        "suitability": strings(np.array(SUITABILITY_CODES, dtype=object), ref.suitability[r, vac.service_code[v]]),
        "outside_preferred": from_preferred > t.policy.preferred_radius_miles,  # NaN (none given): False
        "emergency": (vac.service_type == ServiceType.emergency.value)[v],
        "urgency": strings(refs["urgency"].astype(object).to_numpy(dtype=object), r),
        "sibling_group": strings(sibling, r),
        "start_date": pd.Series(start.astype("datetime64[D]").astype("datetime64[s]")),
        # Looked after (looked after, eligible) or a care leaver: the policy weighs area by it.
        "looked_after": _looked_after(refs["legal_status"])[r],
    }, copy=False)
    assert list(frame.columns) == PAIR_COLUMNS
    return frame


def _looked_after(legal_status: pd.Series) -> np.ndarray:
    # Unknown counts as looked after, so the statutory area terms apply rather than none.
    known = {s.value: s.is_looked_after for s in LegalStatus}
    return np.array([known.get(str(s), True) for s in legal_status], dtype=bool)


def _coded(labels: np.ndarray, index: np.ndarray) -> pd.Series:
    """``labels[index]`` as a categorical: one small integer per pair instead of a string (ids,
    codes and tiers repeat across thousands of pairs). Categories are in sorted order, so
    sorting by the column sorts by the label; a missing label is a missing value."""
    values = pd.Series(labels, dtype=object)
    missing = values.isna().to_numpy()
    categories, inverse = np.unique(values[~missing].astype(str).to_numpy(dtype=object), return_inverse=True)
    width = np.int8 if len(categories) < 2**7 else np.int16 if len(categories) < 2**15 else np.int32
    per_label = np.full(len(values), -1, dtype=width)
    per_label[~missing] = inverse
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype="str"))
    return pd.Series(pd.Categorical.from_codes(per_label[index], dtype=dtype), copy=False)


def _miles_from(east: pd.Series, north: pd.Series, t: Tables, r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """PL_DISTANCE from a referral's optional place (education, preferred area) to each
    property; NaN where the referral gave none (computed only where one is given)."""
    e, n = east.to_numpy(dtype=float), north.to_numpy(dtype=float)
    out = np.full(len(r), np.nan)
    given = np.flatnonzero(np.isfinite(e[r]) & np.isfinite(n[r]))
    rg, vg = r[given], v[given]
    out[given] = pl_distance_miles(e[rg], n[rg], t.vac.easting[vg], t.vac.northing[vg])
    return out
