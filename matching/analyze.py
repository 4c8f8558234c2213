"""Score any set of placements, for example the panel's own choice, and list every rule it
breaks: the ``analyze`` of the matching issue.

The pairs' facts come from the independent checker's row-by-row reading (so a pair the
engine would never propose, say one that breaks a hard rule, still gets its distances, tier
and price), are scored with the engine's own scoring (so the breakdown is the one panels see
on proposals) and are judged by the checker against every hard rule and side constraint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from matching import checker
from matching.instance import Instance
from matching.policy import Policy
from matching.scoring import levels, score


@dataclass
class Analysis:
    placements: pd.DataFrame  # one row per placement: facts, score terms, and `broken` rule codes
    violations: list[checker.Violation]  # every rule and side constraint the set breaks
    objective: dict[str, int]  # per level of the policy's mode (pairs without a price excluded)

    @property
    def allowed(self) -> bool:
        return not self.violations


def analyze(assignment: list[tuple[str, str]], instance: Instance, policy: Policy) -> Analysis:
    referrals = {r["referral_id"]: r for r in instance.referrals.to_dict(orient="records")}
    vacancies = {v["vacancy_id"]: v for v in instance.vacancies.to_dict(orient="records")}
    facts = []
    for r, v in assignment:
        if r in referrals and v in vacancies:
            d = checker.derive(instance, policy, referrals[r], vacancies[v])
            d["broken"] = [code for code, _ in d.pop("faults")]
            facts.append(d)
    frame = pd.DataFrame(facts)
    priced = frame[frame["tier"].notna()] if len(frame) else frame
    scored = score(priced.drop(columns=["broken", "home_tenths", "education_tenths", "age"]), policy) if len(priced) else priced
    if len(scored):
        scored["broken"] = priced["broken"].to_numpy()
    objective = {name: int(scored[name].sum()) if len(scored) else 0 for name, _ in levels(policy)}
    unpriced = frame[frame["tier"].isna()] if len(frame) else frame
    placements = pd.concat([scored, unpriced[["referral_id", "vacancy_id", "property_id", "broken"]]],
                           ignore_index=True) if len(unpriced) else scored
    return Analysis(
        placements=placements.reset_index(drop=True),
        violations=checker.check(assignment, instance, policy),
        objective=objective,
    )
