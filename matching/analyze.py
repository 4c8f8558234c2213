"""Score any set of placements, for example the panel's own choice, and list every rule it
breaks: the ``analyze`` of the matching issue.

Everything here is the product's own reading, so the panel sees exactly what the engine would
say: the pairs' facts from the eligibility tables (a pair the engine would never propose, say
one that breaks a hard rule, still gets its distances, tier and price), each hard rule's verdict
from ``eligibility.broken_rules``, the side constraints from the constraint modules' own
checks, and the score from the engine's scoring. The independent checker
(``matching.checker``) stays out of product code: it is the tests' and benchmarks' oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from matching import constraints
from matching.constraints import side_data
from matching.eligibility import UNKNOWN_REFERRAL, broken_rules, pair_facts
from matching.instance import Instance
from matching.policy import Policy
from matching.scoring import levels, score

# A side constraint's name -> the code a person's page looks up in the glossary.
SIDE_CODES = {
    "one_per_referral": "placed_twice",
    "beds": "beds_exceeded",
    "intensive_cap": "intensive_cap",
    "co_residency": "co_residency",
    "siblings": "siblings_split",
    "locks": "lock_not_honoured",
    "bans": "banned_by_panel",
    "budget": "over_budget",
    "support_hours": "support_hours_exceeded",
}


@dataclass
class Violation:
    code: str
    referral_id: str | None
    vacancy_id: str | None
    detail: str


@dataclass
class Analysis:
    placements: pd.DataFrame  # one row per placement: facts, score terms, and `broken` rule codes
    violations: list[Violation]  # every rule and side constraint the set breaks
    objective: dict[str, int]  # per level of the policy's mode (pairs without a price excluded)

    @property
    def allowed(self) -> bool:
        return not self.violations


def _detail(code: str, fact: dict | None, vacancy_id: str, policy: Policy, instance: Instance | None = None) -> str:
    """The specifics a manager reads after the rule's words (the words come from the glossary)."""
    if fact is None:
        return f"{vacancy_id} is not in this run"
    if code == "beyond_distance_cap":
        return f"{fact['miles_from_home']:.1f} miles from home; the limit is {policy.distance_cap_miles:g}"
    if code == "tier_not_offered":
        return f"needs {fact['need_tier']} support, which {vacancy_id} does not offer"
    if code == "not_available_in_time":
        return f"{vacancy_id} is free from {pd.Timestamp(fact['start_date']):%d %B %Y}"
    if code == "need_not_met" and instance is not None:
        unmet = sorted(set(_listed(instance.referrals, "referral_id", fact["referral_id"], "needs"))
                       - set(_listed(instance.vacancies, "vacancy_id", vacancy_id, "accepts_needs")))
        if unmet:
            return f"{vacancy_id} does not meet: {', '.join(n.replace('_', ' ') for n in unmet)}"
    if code == "grade_below_good" and instance is not None:
        grade = _listed(instance.vacancies, "vacancy_id", vacancy_id, "ofsted_grade")
        if grade:
            return f"{vacancy_id}'s provider is graded {str(grade[0]).replace('_', ' ')}"
    return f"at {vacancy_id}"


def _listed(frame: pd.DataFrame, key: str, value: str, column: str) -> list:
    """One row's cell as a list (a list cell, or a single value), for the details above."""
    rows = frame.loc[frame[key].astype(str) == str(value), column]
    if rows.empty:
        return []
    cell = rows.iloc[0]
    if isinstance(cell, (list, tuple, set, frozenset)):
        return list(cell)
    return [] if cell is None or (isinstance(cell, float) and cell != cell) else [cell]


def analyze(assignment: list[tuple[str, str]], instance: Instance, policy: Policy) -> Analysis:
    pairs = [(str(r), str(v)) for r, v in assignment]
    rules = broken_rules(instance, policy, pairs)
    facts = pair_facts(instance, policy, pairs)
    facts["broken"] = [rules[(r, v)] for r, v in zip(facts["referral_id"].astype(str), facts["vacancy_id"].astype(str))]
    priced = facts[facts["weekly_cost"].notna()]
    scored = score(priced, policy) if len(priced) else priced
    objective = {name: int(scored[name].sum()) if len(scored) else 0 for name, _ in levels(policy)}
    placements = pd.concat([scored, facts[facts["weekly_cost"].isna()]], ignore_index=True) \
        if len(priced) < len(facts) else scored.reset_index(drop=True)

    known = {(str(f["referral_id"]), str(f["vacancy_id"])): f for f in facts.to_dict(orient="records")}
    violations = [Violation(code, r, None if code == UNKNOWN_REFERRAL else v, _detail(code, known.get((r, v)), v, policy, instance))
                  for (r, v), codes in rules.items() for code in codes]
    # Side constraints: the pairs as the engine would hold them (a ban is already a rule above).
    side = side_data(instance, policy)
    checked = scored.reset_index(drop=True)
    for breach in constraints.breaches(checked, side):
        code = SIDE_CODES.get(breach.constraint, breach.constraint)
        if code == "banned_by_panel":
            continue
        referral = breach.referral_ids[0] if len(breach.referral_ids) == 1 else None
        violations.append(Violation(code, referral, None, breach.detail))
    return Analysis(placements=placements.reset_index(drop=True), violations=violations, objective=objective)
