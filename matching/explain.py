"""Why the engine proposed what it did, and why some young people have no proposal.

For a panel a proposal is only as good as its reasons. From a :class:`MatchResult` this builds
three plain tables (the interchange files ``matches.csv``, ``unplaced.csv`` and
``alternatives.csv``):

* each proposal with its distances, area, adjoining or at a distance, tier, weekly cost, the
  approvals it will need, its score broken down by objective term, and why this home in a
  sentence a panel can read out (matching.why);
* each young person left unplaced with the rule funnel (how many vacancies each hard rule
  removed), the side constraints that ruled out the rest, the proposals that took the
  beds they could have had, and the nearest miss: the one change (a bed, a rule a panel may
  set aside, the panel's own lock or ban, a side constraint) that would place them, checked
  by re-running the queue (:mod:`matching.nearest_miss`);
* the next best options for every young person, with the difference from their proposal,
  who holds that bed in the proposal, and in words why it was not proposed.

Everything here is computed per young person from the chosen solution, over integer codes:
at millions of eligible pairs no pair is re-scored when the engine passes its scored frame, no
Python object is made per pair, and no sort of every pair is needed (the top options per young
person come from k passes of a per-person minimum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.approvals import ApprovalPolicy, approvals_required
from matching.constraints import Side, side_data
from matching.engine import MatchResult
from matching.instance import Instance
from matching.nearest_miss import NearestMiss, nearest_misses
from matching.policy import Policy
from matching.scoring import PENALTY_TERMS, POUND_TERMS, SCORE_COLUMNS, score
from matching.why import Home, why_this_home
from models import glossary
from providers.authorities import default_authorities
from providers.offers import answers_in_words

# How the objective's terms group into the three scores a panel reads.
NEED_TERMS = ["pen_over_provision", "pen_not_preferred", "pen_outside_preferred", "pen_emergency"]
DISTANCE_TERMS = [
    "pen_home_miles", "pen_education_miles", "pen_over_20_miles", "pen_out_of_area", "pen_at_a_distance",
]

MATCH_COLUMNS = [
    "referral_id", "vacancy_id", "property_id", "tier", "weekly_cost", "miles_from_home",
    "miles_from_education", "out_of_area", "at_a_distance", "approvals_required",
    "score_need", "score_distance", "score_cost", "why",
]
UNPLACED_COLUMNS = [
    "referral_id", "reason", "eligible_options", "excluded_by", "taken_by",
    "nearest_miss", "nearest_miss_kind", "nearest_miss_checked", "providers_asked",
]
# Plain words for the panel (models.glossary); the codes stay in excluded_by for filtering and audit.
REASON_WORDS = glossary.RULES


def words(code: str) -> str:
    return REASON_WORDS.get(code, code.replace("_", " "))


ALTERNATIVE_COLUMNS = [
    "referral_id", "rank", "vacancy_id", "property_id", "tier", "weekly_cost", "miles_from_home",
    "out_of_area", "at_a_distance", "penalty", "cost", "penalty_vs_proposal", "cost_vs_proposal",
    "held_by", "why_not",
]

# Why an alternative was not proposed, in the panel's words. What stops it comes first (a bed
# another young person holds, a side constraint it would break); when the bed is free, what
# makes it worse than the proposal, in figures.
WHY_NOT_WORDS = {
    "held_by": "held by {} in this proposal",
    "intensive_cap": "the home would then have more young people needing intensive support than it allows",
    "siblings": "would separate the sibling group",
    "risk_clash": "shares a home with someone whose risks clash",
    "budget": "would take the week's total over the budget cap",
    "support_hours": "the support package would then be asked for more hours a week than it has free",
    "further_from_home": "{:.1f} miles further from home",
    "further_from_education": "{:.1f} miles further from school, college or work",
    "dearer": "£{} a week dearer",
    "out_of_area": "outside the council's area",
    "at_a_distance": "at a distance (not an adjoining authority)",
    "over_provision": "support tier above the assessed need",
    "not_preferred": "a suitable but not preferred type",
    "outside_preferred": "outside the preferred area",
    "emergency": "emergency accommodation",
    "as_good": "free and just as good as the proposal: either could be chosen",
    "better_not_proven": "free and no worse for them: the search stopped before moving them here",
    "free_unexplained": "free, but placing them here would break a rule of the whole proposal",
}


@dataclass
class Explanation:
    matches: pd.DataFrame  # MATCH_COLUMNS, then adjoining, legal_status and every score term
    unplaced: pd.DataFrame  # UNPLACED_COLUMNS
    alternatives: pd.DataFrame  # ALTERNATIVE_COLUMNS


def _terms(policy: Policy, names: list[str]) -> list[str]:
    """The columns that carry these terms in the policy's mode (points, or pounds a week)."""
    if policy.mode == "weighted":
        return [n.replace("pen_", "pounds_") for n in names]
    return names


def explain(
    result: MatchResult, instance: Instance, policy: Policy, approvals: ApprovalPolicy | None = None,
    *, scored: pd.DataFrame | None = None, check_nearest_miss: bool = True,
) -> Explanation:
    """The three tables of a panel run. ``scored``: the run's pairs already scored (the engine
    has them), so they are not scored again; by default the eligibility's pairs are scored
    here, sharing their columns. ``check_nearest_miss=False`` reports each nearest miss
    without the re-runs that check it (marked not checked)."""
    approvals = approvals or ApprovalPolicy()
    matches = _matches(result.matches, instance, policy, approvals)
    if scored is None:  # the engine keeps the pairs it scored (side exclusions already out)
        scored = getattr(result, "scored", None)
    pairs = scored if scored is not None else _scored(result.eligibility.pairs, policy)
    options = _Options.of(pairs, result)
    holders = _holders(result.matches, instance)
    misses = nearest_misses(result, instance, policy, pairs=pairs, check=check_nearest_miss)
    alternatives = _alternatives(options, result, instance, policy, holders)
    matches["why"] = _why(matches, alternatives, instance)
    return Explanation(
        matches=matches,
        unplaced=_unplaced(result, options, holders, misses, instance.provider_answers),
        alternatives=alternatives,
    )


def _scored(pairs: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    if set(SCORE_COLUMNS) <= set(pairs.columns):
        return pairs
    return score(pairs, policy)


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """An integer code per row and the labels they stand for (sorted): free for the pairs'
    categorical ids, a factorisation otherwise (a frame built by hand)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), pd.Index(column.cat.categories.astype(str))
    codes, labels = pd.factorize(column.astype(str), sort=True)
    return codes, pd.Index(labels.astype(str))


def _rows_with(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which rows' keys are among ``wanted`` (few): a binary search when the keys are sorted,
    as the eligibility's pairs are."""
    if not len(wanted) or not len(keys):
        return np.zeros(len(keys), dtype=bool)
    if np.all(keys[1:] >= keys[:-1]):
        at = np.searchsorted(keys, wanted)
        inside = at < len(keys)
        at, wanted = at[inside], wanted[inside]
        out = np.zeros(len(keys), dtype=bool)
        out[at[keys[at] == wanted]] = True
        return out
    return np.isin(keys, wanted)


@dataclass
class _Options:
    """The run's scored pairs as codes: who (referral code), where (vacancy code), whether a
    side constraint ruled the pair out, and whether it is the young person's proposal."""

    pairs: pd.DataFrame
    ref: np.ndarray
    vac: np.ndarray
    referrals: pd.Index
    vacancies: pd.Index
    open: np.ndarray  # not ruled out by a side constraint
    proposed: np.ndarray  # the pair is the proposal

    @classmethod
    def of(cls, pairs: pd.DataFrame, result: MatchResult) -> "_Options":
        ref, referrals = _codes(pairs["referral_id"])
        vac, vacancies = _codes(pairs["vacancy_id"])
        n_vac = max(1, len(vacancies))
        keys = ref.astype(np.int64) * n_vac + vac
        side = result.side_excluded
        ruled_out = np.zeros(len(pairs), dtype=bool)
        if len(side):
            r = referrals.get_indexer(side["referral_id"].astype(str))
            v = vacancies.get_indexer(side["vacancy_id"].astype(str))
            known = (r >= 0) & (v >= 0)
            ruled_out = _rows_with(keys, np.unique(r[known].astype(np.int64) * n_vac + v[known]))
        proposal = np.full(len(referrals), -1, dtype=np.int64)
        chosen = result.matches
        if len(chosen):
            r = referrals.get_indexer(chosen["referral_id"].astype(str))
            v = vacancies.get_indexer(chosen["vacancy_id"].astype(str))
            proposal[r[r >= 0]] = v[r >= 0]
        proposed = proposal[ref] == vac if len(pairs) else np.zeros(0, dtype=bool)
        return cls(pairs, ref, vac, referrals, vacancies, ~ruled_out, proposed)

    def top(self, k: int, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of each young person's ``k`` best open options other than the
        proposal, in the policy's order, and their ranks: k passes of a per-person minimum
        over one integer key, never a sort of every pair."""
        key = self._order_key(policy)
        none = np.iinfo(np.int64).max
        key = np.where(self.open & ~self.proposed, key, none)
        best = np.empty(len(self.referrals), dtype=np.int64)
        rows, ranks = [], []
        for rank in range(1, k + 1):
            best.fill(none)
            np.minimum.at(best, self.ref, key)
            hit = np.flatnonzero((key == best[self.ref]) & (key != none))
            if not len(hit):
                break
            rows.append(hit)
            ranks.append(np.full(len(hit), rank))
            key[hit] = none
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(ranks)

    def _order_key(self, policy: Policy) -> np.ndarray:
        """One int64 per pair ordering a young person's options as the policy does:
        lexicographic by penalty, then cost, or by pounds in weighted mode; then vacancy id
        (so every key is unique within a young person)."""
        columns = ["pounds"] if policy.mode == "weighted" else ["penalty", "cost"]
        key = np.zeros(len(self.pairs), dtype=np.int64)
        span = 1
        for name in reversed([*columns, None]):
            values = self.vac if name is None else self.pairs[name].to_numpy()
            low = int(values.min()) if len(values) else 0
            width = (int(values.max()) - low + 1) if len(values) else 1
            if span * width >= 2**62:  # beyond int64: ranks instead of values (never in practice)
                values, low = np.unique(values, return_inverse=True)[1], 0
                width = int(values.max()) + 1
                if span * width >= 2**62:
                    raise ValueError("too many distinct scores to rank the alternatives")
            key += (values.astype(np.int64) - low) * span
            span *= width
        return key


def _matches(chosen: pd.DataFrame, instance: Instance, policy: Policy, approvals: ApprovalPolicy) -> pd.DataFrame:
    legal = instance.referrals.set_index("referral_id")["legal_status"]
    registered = instance.vacancies.set_index("vacancy_id")["ofsted_registered"]
    frame = chosen.copy()
    frame["legal_status"] = frame["referral_id"].astype(str).map(legal)
    frame["ofsted_registered"] = frame["vacancy_id"].astype(str).map(registered).astype(bool)
    frame["approvals_required"] = approvals_required(frame, approvals) if len(frame) else []
    frame["score_need"] = frame[_terms(policy, NEED_TERMS)].sum(axis=1) if len(frame) else []
    frame["score_distance"] = frame[_terms(policy, DISTANCE_TERMS)].sum(axis=1) if len(frame) else []
    frame["score_cost"] = frame["cost"] if len(frame) else []
    frame["why"] = ""  # filled in by _why once the alternatives are known
    terms = list(PENALTY_TERMS) if policy.mode != "weighted" else list(POUND_TERMS)
    extra = ["adjoining", "legal_status", "ofsted_registered", *terms]
    return frame[MATCH_COLUMNS + extra].reset_index(drop=True)


def _why(matches: pd.DataFrame, alternatives: pd.DataFrame, instance: Instance) -> list[str]:
    """Each proposal's "why this home" sentence (matching.why), from its row, its home and the
    other homes listed for the young person: one per proposal, never per pair."""
    if not len(matches):
        return []
    homes = instance.vacancies.drop_duplicates("vacancy_id").set_index("vacancy_id")
    names = (homes["property_name"].fillna(homes["property_id"]) if "property_name" in homes else homes["property_id"])
    assessed = instance.referrals.set_index("referral_id")["tier"].astype(str)
    others: dict[str, list[Home]] = {}
    for alt in alternatives.to_dict(orient="records"):
        others.setdefault(str(alt["referral_id"]), []).append(
            Home(str(names.get(alt["vacancy_id"], alt["property_id"])), float(alt["miles_from_home"]),
                 str(alt["why_not"] or "")))
    area_name = default_authorities().name
    offered = {(a["referral_id"], a["vacancy_id"]): a for a in instance.answers if a["vacancy_id"] is not None}
    out = []
    for row in matches.to_dict(orient="records"):
        vacancy, referral = str(row["vacancy_id"]), str(row["referral_id"])
        education = row["miles_from_education"]
        offer = offered.get((referral, vacancy))
        # A panel defends a proposal resting on a provider's offer by the offer itself.
        said = (f" Its provider offered this bed for them, at £{offer['weekly_price']:,.0f} a week from "
                f"{offer['start']:%-d %B %Y}." if offer else "")
        out.append(why_this_home(
            Home(str(names.get(vacancy, row["property_id"])), float(row["miles_from_home"])),
            service_type=str(homes.at[vacancy, "service_type"]), tier=str(row["tier"]),
            assessed_tier=str(assessed.get(referral, row["tier"])), out_of_area=bool(row["out_of_area"]),
            at_a_distance=bool(row["at_a_distance"]), la_code=str(homes.at[vacancy, "la_code"]),
            miles_from_education=None if pd.isna(education) else float(education),
            others=others.get(referral, []), area_name=area_name) + said)
    return out


def _unplaced(result: MatchResult, options: _Options, holders: dict[str, list[str]],
              misses: dict[str, NearestMiss], answers: dict[str, dict]) -> pd.DataFrame:
    funnel = result.eligibility.funnel
    rules = [c for c in funnel.columns if c not in ("considered", "eligible")]
    side = result.side_excluded
    side_counts = (
        side.groupby([side["referral_id"].astype(str), "reason"]).size() if len(side) else pd.Series(dtype=int)
    )
    left_options, taken_by = _left_and_taken(result.unplaced, options, holders)
    rows = []
    for rid in result.unplaced:
        counts = {r: int(funnel.at[rid, r]) for r in rules if funnel.at[rid, r] > 0}
        if rid in side_counts.index.get_level_values(0):
            for why, n in side_counts.loc[rid].items():
                counts[f"side:{why}"] = int(n)
        got = answers.get(rid)
        # The providers' own reasons, counted beside the rules' (the reason in words stays the rules').
        declined = {f"declined:{why}": int(n) for why, n in (got or {}).get("declined", {}).items()}
        excluded_by = ";".join(f"{k}={v}" for k, v in sorted((counts | declined).items(),
                                                             key=lambda kv: (-kv[1], kv[0])))
        left, taken = left_options.get(rid, 0), taken_by.get(rid, [])
        rows.append({
            "referral_id": rid,
            "reason": _reason(int(funnel.at[rid, "eligible"]), counts, left, taken, rules),
            "eligible_options": int(funnel.at[rid, "eligible"]),
            "excluded_by": excluded_by,
            "taken_by": ";".join(taken),
            **_miss_columns(misses.get(rid)),
            "providers_asked": answers_in_words(got) if got else "",
        })
    return pd.DataFrame(rows, columns=UNPLACED_COLUMNS)


def _miss_columns(miss: NearestMiss | None) -> dict[str, str]:
    if miss is None:
        return {"nearest_miss": "", "nearest_miss_kind": "", "nearest_miss_checked": ""}
    return {"nearest_miss": miss.words, "nearest_miss_kind": miss.kind,
            "nearest_miss_checked": "yes" if miss.checked else "no"}


def _left_and_taken(unplaced: list[str], options: _Options, holders: dict[str, list[str]]):
    """For each young person left unplaced: how many options no side constraint ruled out,
    and who is proposed into the full vacancies among them. Only their own pairs are read."""
    who = options.referrals.get_indexer(pd.Index(unplaced, dtype=object))
    mine = np.zeros(len(options.referrals), dtype=bool)
    mine[who[who >= 0]] = True
    rows = np.flatnonzero(mine[options.ref] & options.open) if len(options.ref) else np.zeros(0, dtype=np.int64)
    refs = options.referrals[options.ref[rows]]
    vacs = options.vacancies[options.vac[rows]]
    left = pd.Series(refs).value_counts().to_dict()
    taken: dict[str, list[str]] = {}
    held = np.isin(vacs, list(holders)) if holders else np.zeros(len(rows), dtype=bool)
    for rid, vid in zip(refs[held], vacs[held], strict=True):
        taken.setdefault(str(rid), []).extend(holders[vid])
    return left, {r: sorted(set(h)) for r, h in taken.items()}


def _reason(eligible: int, counts: dict[str, int], left: int, taken: list[str], rules: list[str]) -> str:
    if eligible == 0:
        top = [k for k in sorted(counts, key=lambda k: (-counts[k], rules.index(k) if k in rules else 99))][:3]
        return "no eligible vacancy: " + "; ".join(words(k) for k in top) if top else "no vacancies to consider"
    if not left:
        sides = sorted(k.removeprefix("side:") for k in counts if k.startswith("side:"))
        return "every eligible vacancy is ruled out: " + "; ".join(words(k) for k in sides)
    if taken:
        homes = "its one remaining home went" if left == 1 else f"all {left} remaining homes went"
        return (f"{homes} to other young people: the proposal as a whole places more young people, "
                "or places them better, that way")
    return ("not placed: each remaining home would break a rule of the whole proposal (keeping siblings "
            "together, the budget, or who can live together)")


def _holders(chosen: pd.DataFrame, instance: Instance) -> dict[str, list[str]]:
    """For each vacancy row whose free beds the proposal fills, the young people proposed there."""
    if not len(chosen):
        return {}
    beds = instance.vacancies.set_index(instance.vacancies["vacancy_id"].astype(str))["beds"]
    taken = chosen["referral_id"].astype(str).groupby(chosen["vacancy_id"].astype(str)).agg(sorted)
    full = taken[taken.map(len).to_numpy() >= taken.index.map(beds).to_numpy()]
    return full.to_dict()


def _alternatives(
    options: _Options, result: MatchResult, instance: Instance, policy: Policy, holders: dict[str, list[str]]
) -> pd.DataFrame:
    k = policy.alternatives
    if k == 0 or not len(options.pairs):
        return pd.DataFrame(columns=ALTERNATIVE_COLUMNS)
    rows, ranks = options.top(k, policy)
    top = options.pairs.iloc[rows].reset_index(drop=True)
    for col in ("referral_id", "vacancy_id", "property_id", "tier"):
        top[col] = top[col].astype(str).astype(object)  # a small table: plain labels for every reader
    top["rank"] = ranks
    chosen = result.matches
    base = chosen.set_index(chosen["referral_id"].astype(str)) if len(chosen) else None
    if base is not None:
        top["penalty_vs_proposal"] = top["penalty"] - top["referral_id"].map(base["penalty"])
        top["cost_vs_proposal"] = top["cost"] - top["referral_id"].map(base["cost"])
    else:
        top["penalty_vs_proposal"] = np.nan
        top["cost_vs_proposal"] = np.nan
    top["held_by"] = top["vacancy_id"].map(lambda v: ";".join(holders.get(v, [])))
    top["why_not"] = _why_not(top, chosen, side_data(instance, policy), holders, result.status == "OPTIMAL")
    return top[ALTERNATIVE_COLUMNS].sort_values(["referral_id", "rank"], kind="stable").reset_index(drop=True)


def _why_not(top: pd.DataFrame, chosen: pd.DataFrame, side: Side, holders: dict[str, list[str]],
             proven: bool) -> list[str]:
    """For each listed alternative, in words, why the proposal does not use it."""
    home = _Proposal(chosen, side)
    out = []
    for alt in top.to_dict(orient="records"):
        stops = _what_stops(alt, home, side, holders)
        if stops:
            out.append("; ".join(stops))
            continue
        mine = home.row_of.get(alt["referral_id"])
        worse = _what_is_worse(alt, mine) if mine is not None else []
        if worse:
            out.append("; ".join(worse))
        elif mine is not None and (alt["penalty"], alt["cost"]) == (mine["penalty"], mine["cost"]):
            out.append(WHY_NOT_WORDS["as_good"])
        else:
            out.append(WHY_NOT_WORDS["free_unexplained" if proven else "better_not_proven"])
    return out


class _Proposal:
    """Who the proposal puts where, as the why-not checks need it (small: one row a placement)."""

    def __init__(self, chosen: pd.DataFrame, side: Side):
        rows = chosen.to_dict(orient="records") if len(chosen) else []
        self.row_of = {str(r["referral_id"]): r for r in rows}
        self.property_of = {rid: str(r["property_id"]) for rid, r in self.row_of.items()}
        self.at_property: dict[str, list[dict]] = {}
        for rid, r in self.row_of.items():
            self.at_property.setdefault(str(r["property_id"]), []).append(r)
        self.group_of = {m: g for g, members in side.sibling_groups.items() for m in members}
        self.total_pence = sum(_pence(r["weekly_cost"]) for r in rows)
        self.hours_at: dict[str, int] = {}  # support package -> hours the proposal gives there
        for r in rows:
            if str(r["vacancy_id"]) in side.hours:
                key = str(r["vacancy_id"])
                self.hours_at[key] = self.hours_at.get(key, 0) + side.hours_needed.get(str(r["tier"]), 0)


def _pence(pounds: float) -> int:
    return int(np.floor(float(pounds) * 100 + 0.5 + 1e-9))


def _what_stops(alt: dict, home: _Proposal, side: Side, holders: dict[str, list[str]]) -> list[str]:
    rid, prop = str(alt["referral_id"]), str(alt["property_id"])
    others = [r for r in home.at_property.get(prop, []) if str(r["referral_id"]) != rid]
    stops = []
    if alt["vacancy_id"] in holders:
        stops.append(WHY_NOT_WORDS["held_by"].format(" and ".join(holders[alt["vacancy_id"]])))
    if side.intensive_cap is not None and alt["tier"] == "intensive" and prop in side.shared:
        intensive = side.intensive_residents.get(prop, 0) + sum(r["tier"] == "intensive" for r in others)
        if intensive + 1 > side.intensive_cap:
            stops.append(WHY_NOT_WORDS["intensive_cap"])
    group = home.group_of.get(rid)
    if group is not None and any(home.property_of.get(m) != prop for m in side.sibling_groups[group] if m != rid):
        stops.append(WHY_NOT_WORDS["siblings"])
    if prop in side.shared:
        mine = side.risks.get(rid, frozenset())
        living = [*side.resident_risks.get(prop, ()), *(side.risks.get(str(r["referral_id"]), frozenset()) for r in others)]
        if any(side.clash(mine, theirs) for theirs in living):
            stops.append(WHY_NOT_WORDS["risk_clash"])
    if side.budget_pence is not None:
        now = home.row_of.get(rid)
        total = home.total_pence - (_pence(now["weekly_cost"]) if now is not None else 0) + _pence(alt["weekly_cost"])
        if total > side.budget_pence:
            stops.append(WHY_NOT_WORDS["budget"])
    package = str(alt["vacancy_id"])
    if package in side.hours and package not in holders:
        now = home.row_of.get(rid)
        given = home.hours_at.get(package, 0) - (side.hours_needed.get(str(now["tier"]), 0)
                                                  if now is not None and str(now["vacancy_id"]) == package else 0)
        if given + side.hours_needed.get(str(alt["tier"]), 0) > side.hours[package]:
            stops.append(WHY_NOT_WORDS["support_hours"])
    return stops


def _what_is_worse(alt: dict, mine: dict) -> list[str]:
    """What makes a free alternative worse than the proposal for this young person, in figures."""
    worse = []
    further = round(float(alt["miles_from_home"]) - float(mine["miles_from_home"]), 1)
    if further > 0:
        worse.append(WHY_NOT_WORDS["further_from_home"].format(further))
    a, b = alt.get("miles_from_education"), mine.get("miles_from_education")
    if a is not None and b is not None and not (pd.isna(a) or pd.isna(b)) and round(float(a) - float(b), 1) > 0:
        worse.append(WHY_NOT_WORDS["further_from_education"].format(round(float(a) - float(b), 1)))
    dearer = (_pence(alt["weekly_cost"]) - _pence(mine["weekly_cost"])) / 100
    if dearer > 0:
        worse.append(WHY_NOT_WORDS["dearer"].format(f"{dearer:,.0f}" if dearer == int(dearer) else f"{dearer:,.2f}"))
    flags = (("out_of_area", "out_of_area"), ("at_a_distance", "at_a_distance"),
             ("outside_preferred", "outside_preferred"), ("emergency", "emergency"))
    for column, word in flags:
        if bool(alt.get(column)) and not bool(mine.get(column)):
            worse.append(WHY_NOT_WORDS[word])
    if int(alt.get("over_provision", 0)) > int(mine.get("over_provision", 0)):
        worse.append(WHY_NOT_WORDS["over_provision"])
    if str(alt.get("suitability")) == "suitable" and str(mine.get("suitability")) == "preferred":
        worse.append(WHY_NOT_WORDS["not_preferred"])
    return worse
