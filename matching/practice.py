"""Never worse than practice: the one-at-a-time panel as the floor every proposal must clear.

Every run computes what a panel placing one young person at a time would propose
(:func:`matching.baselines.greedy`: most urgent first, each to the nearest bed that keeps the
rules) and compares the engine's proposal with it on the headline measures
(:mod:`matching.measures`). When the proposal is worse on some measure, the engine re-solves
with that measure held (:mod:`matching.constraints.dominance`); only what cannot be held is
left worse, and :class:`Comparison` says in words which measure got worse and what that bought.

Placing young people is never traded away: the young people placed (weighted by urgency) are
held at the engine's own maximum, so a measure that counts totals (miles, weekly cost) can
rise only because more young people have a home, and the words say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from matching import measures
from matching.baselines import greedy
from matching.instance import Instance
from matching.policy import Policy

# The order in which measures are let go when not all can be held: the last listed goes first.
HOLD_ORDER = ("over_20_miles", "at_a_distance", "out_of_area", "total_miles", "weekly_cost")


@dataclass
class Comparison:
    """The proposal against one-at-a-time practice, measure by measure."""

    proposal: dict[str, int]
    practice: dict[str, int]
    held: list[str] = field(default_factory=list)  # measures the engine held no worse (re-solved)
    let_go: list[str] = field(default_factory=list)  # measures no proposal could hold with the rest
    note: str = ""  # how the re-solve went, in words ("" when none was needed)
    limits: tuple[tuple[str, int], ...] = ()  # what the proposal was held to (empty: none)

    @property
    def worse(self) -> list[str]:
        return measures.worse(self.proposal, self.practice)

    def better(self) -> list[str]:
        return measures.worse(self.practice, self.proposal)

    def words(self) -> list[str]:
        """What a panel reads: each measure that got worse and what it bought, or that none did."""
        if not self.worse:
            return ["No worse than placing one young person at a time on any measure."] + (
                [self.note] if self.note else [])
        bought = [f"{measures.difference(n, self.proposal[n], self.practice[n])} {measures.BY_NAME[n].words}"
                  for n in self.better()]
        lines = [
            f"{measures.BY_NAME[n].words.capitalize()}: {measures.written(n, self.proposal[n])} against "
            f"{measures.written(n, self.practice[n])} placing one at a time "
            f"({measures.difference(n, self.proposal[n], self.practice[n])})."
            for n in self.worse
        ]
        lines.append("What it bought: " + ("; ".join(bought) if bought else "a better fit of needs and wishes")
                     + ".")
        if self.note:
            lines.append(self.note)
        return lines

    def table(self) -> list[dict]:
        """One row per measure: the proposal, practice and which is better, for summary.json."""
        out = []
        for m in measures.MEASURES:
            mine, theirs = self.proposal[m.name], self.practice[m.name]
            out.append({
                "measure": m.words, "proposal": measures.written(m.name, mine),
                "one_at_a_time": measures.written(m.name, theirs),
                "verdict": "worse" if m.name in self.worse else "better" if m.name in self.better() else "same",
            })
        return out


def practice(pairs: pd.DataFrame, instance: Instance, policy: Policy) -> pd.DataFrame:
    """The pairs (scored, labels of ``pairs``) a one-at-a-time panel would choose."""
    chosen, _ = greedy(pairs, instance, policy)
    return chosen


def limits(comparison: Comparison, hold: list[str]) -> tuple[tuple[str, int], ...]:
    """The side constraint's limits: placed held at the proposal's own (its maximum), and each
    measure in ``hold`` at practice's value."""
    return (("placed", comparison.proposal["placed"]),
            *((name, comparison.practice[name]) for name in hold))
