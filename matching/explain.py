"""Why the engine proposed what it did, and why some young people have no proposal.

For a panel a proposal is only as good as its reasons. From a :class:`MatchResult` this builds
three plain tables (the interchange files ``matches.csv``, ``unplaced.csv`` and
``alternatives.csv``):

* each proposal with its distances, area, adjoining or at a distance, tier, weekly cost, the
  approvals it will need, and its score broken down by objective term;
* each young person left unplaced with the rule funnel (how many vacancies each hard rule
  removed), the side constraints that ruled out the rest, and the proposals that took the
  beds they could have had;
* the next best options for every young person, with the difference from their proposal and
  who holds that bed in the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.approvals import ApprovalPolicy, approvals_required
from matching.engine import MatchResult
from matching.instance import Instance
from matching.policy import Policy
from matching.scoring import PENALTY_TERMS, POUND_TERMS, score

# How the objective's terms group into the three scores a panel reads.
NEED_TERMS = ["pen_over_provision", "pen_not_preferred", "pen_outside_preferred", "pen_emergency"]
DISTANCE_TERMS = [
    "pen_home_miles", "pen_education_miles", "pen_over_20_miles", "pen_out_of_area", "pen_at_a_distance",
]

MATCH_COLUMNS = [
    "referral_id", "vacancy_id", "property_id", "tier", "weekly_cost", "miles_from_home",
    "miles_from_education", "out_of_area", "at_a_distance", "approvals_required",
    "score_need", "score_distance", "score_cost",
]
UNPLACED_COLUMNS = ["referral_id", "reason", "eligible_options", "excluded_by", "taken_by"]
# Plain words for the panel; the codes stay in excluded_by for filtering and audit.
REASON_WORDS = {
    "banned_by_panel": "banned by the panel",
    "beyond_distance_cap": "too far from home",
    "not_available_in_time": "not free in time",
    "tier_not_offered": "no support at the tier needed",
    "age_out_of_range": "outside the home's age range",
    "under_16_in_supported_accommodation": "under 16",
    "unregistered_for_under_18": "not Ofsted-registered for an under-18",
    "sex_restricted": "the home is for the other sex",
    "need_not_met": "a need the home cannot meet",
    "risk_excluded": "a risk the home cannot manage",
    "type_unsuitable": "a type marked unsuitable",
    "dol_in_registered_supported_accommodation": "a DoL order (not in registered supported accommodation)",
    "inside_exclusion_zone": "inside an area to keep away from",
    "grade_below_good": "provider graded below good",
    "emergency_for_under_18": "emergency accommodation for an under-18",
    "staying_put_not_reserved": "a Staying Put bed kept for another young person",
    "solo_needs_self_contained": "needs to live alone (self-contained only)",
    "resident_risk_clash": "a current resident's risks clash with theirs",
    "intensive_cap_full": "the home already has its most intensive-support residents",
    "sibling_no_common_property": "no home can take the sibling group together",
    "locked_elsewhere": "the bed is locked for someone else",
}


def words(code: str) -> str:
    return REASON_WORDS.get(code, code.replace("_", " "))


ALTERNATIVE_COLUMNS = [
    "referral_id", "rank", "vacancy_id", "property_id", "tier", "weekly_cost", "miles_from_home",
    "out_of_area", "at_a_distance", "penalty", "cost", "penalty_vs_proposal", "cost_vs_proposal",
    "held_by",
]


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
    result: MatchResult, instance: Instance, policy: Policy, approvals: ApprovalPolicy | None = None
) -> Explanation:
    approvals = approvals or ApprovalPolicy()
    matches = _matches(result.matches, instance, policy, approvals)
    scored = score(result.eligibility.pairs, policy)
    if len(result.side_excluded):  # options a side constraint ruled out are no alternative
        out = set(zip(result.side_excluded["referral_id"], result.side_excluded["vacancy_id"], strict=True))
        keys = zip(scored["referral_id"], scored["vacancy_id"], strict=True)
        scored = scored[[k not in out for k in keys]]
    return Explanation(
        matches=matches,
        unplaced=_unplaced(result, instance, scored),
        alternatives=_alternatives(scored, result.matches, instance, policy),
    )


def _matches(chosen: pd.DataFrame, instance: Instance, policy: Policy, approvals: ApprovalPolicy) -> pd.DataFrame:
    legal = instance.referrals.set_index("referral_id")["legal_status"]
    registered = instance.vacancies.set_index("vacancy_id")["ofsted_registered"]
    frame = chosen.copy()
    frame["legal_status"] = frame["referral_id"].map(legal)
    frame["ofsted_registered"] = frame["vacancy_id"].map(registered).astype(bool)
    frame["approvals_required"] = approvals_required(frame, approvals) if len(frame) else []
    frame["score_need"] = frame[_terms(policy, NEED_TERMS)].sum(axis=1) if len(frame) else []
    frame["score_distance"] = frame[_terms(policy, DISTANCE_TERMS)].sum(axis=1) if len(frame) else []
    frame["score_cost"] = frame["cost"] if len(frame) else []
    terms = list(PENALTY_TERMS) if policy.mode != "weighted" else list(POUND_TERMS)
    extra = ["adjoining", "legal_status", "ofsted_registered", *terms]
    return frame[MATCH_COLUMNS + extra].reset_index(drop=True)


def _unplaced(result: MatchResult, instance: Instance, scored: pd.DataFrame) -> pd.DataFrame:
    funnel = result.eligibility.funnel
    rules = [c for c in funnel.columns if c not in ("considered", "eligible")]
    side = result.side_excluded
    side_counts = (
        side.groupby(["referral_id", "reason"]).size() if len(side) else pd.Series(dtype=int)
    )
    holders = _holders(result.matches, instance)
    options = scored.groupby("referral_id")["vacancy_id"].apply(list) if len(scored) else pd.Series(dtype=object)
    rows = []
    for rid in result.unplaced:
        counts = {r: int(funnel.at[rid, r]) for r in rules if funnel.at[rid, r] > 0}
        if rid in side_counts.index.get_level_values(0):
            for why, n in side_counts.loc[rid].items():
                counts[f"side:{why}"] = int(n)
        excluded_by = ";".join(f"{k}={v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        left = options.get(rid, [])
        taken = sorted({h for v in left for h in holders.get(v, [])})
        rows.append({
            "referral_id": rid,
            "reason": _reason(int(funnel.at[rid, "eligible"]), counts, left, taken, rules),
            "eligible_options": int(funnel.at[rid, "eligible"]),
            "excluded_by": excluded_by,
            "taken_by": ";".join(taken),
        })
    return pd.DataFrame(rows, columns=UNPLACED_COLUMNS)


def _reason(eligible: int, counts: dict[str, int], left: list[str], taken: list[str], rules: list[str]) -> str:
    if eligible == 0:
        top = [k for k in sorted(counts, key=lambda k: (-counts[k], rules.index(k) if k in rules else 99))][:3]
        return "no eligible vacancy: " + "; ".join(words(k) for k in top) if top else "no vacancies to consider"
    if not left:
        sides = sorted(k.removeprefix("side:") for k in counts if k.startswith("side:"))
        return "every eligible vacancy is ruled out: " + "; ".join(words(k) for k in sides)
    if taken:
        return (f"all {len(left)} remaining option(s) went to proposals for others that together "
                "place more young people or score better")
    return "not placed: the remaining options would break a side constraint (siblings, budget or co-residency)"


def _holders(chosen: pd.DataFrame, instance: Instance) -> dict[str, list[str]]:
    """For each vacancy whose free beds the proposal fills, the young people proposed there."""
    if not len(chosen):
        return {}
    beds = instance.vacancies.set_index("vacancy_id")["beds"]
    taken = chosen.groupby("vacancy_id")["referral_id"].apply(sorted)
    full = taken[taken.map(len) >= taken.index.map(beds)]
    return full.to_dict()


def _alternatives(scored: pd.DataFrame, chosen: pd.DataFrame, instance: Instance, policy: Policy) -> pd.DataFrame:
    k = policy.alternatives
    if k == 0 or not len(scored):
        return pd.DataFrame(columns=ALTERNATIVE_COLUMNS)
    proposal = set(zip(chosen["referral_id"], chosen["vacancy_id"], strict=True))
    keys = list(zip(scored["referral_id"], scored["vacancy_id"], strict=True))
    others = scored[[key not in proposal for key in keys]]
    # The policy's own order: lexicographic by penalty then cost, or pounds in weighted mode.
    order = ["referral_id", "pounds", "vacancy_id"] if policy.mode == "weighted" else [
        "referral_id", "penalty", "cost", "vacancy_id"]
    top = others.sort_values(order, kind="stable").groupby("referral_id", sort=False).head(k).copy()
    top["rank"] = top.groupby("referral_id", sort=False).cumcount() + 1
    base = chosen.set_index("referral_id")
    top["penalty_vs_proposal"] = top["penalty"] - top["referral_id"].map(base["penalty"]) if len(base) else np.nan
    top["cost_vs_proposal"] = top["cost"] - top["referral_id"].map(base["cost"]) if len(base) else np.nan
    holders = _holders(chosen, instance)
    top["held_by"] = top["vacancy_id"].map(lambda v: ";".join(holders.get(v, [])))
    return top[ALTERNATIVE_COLUMNS].sort_values(["referral_id", "rank"], kind="stable").reset_index(drop=True)
