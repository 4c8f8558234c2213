"""What giving a young person another home would do: the counterfactual behind an alternative.

A panel asks of an alternative that looks better on some count ("3.4 miles from home, in area,
£1,145 a week cheaper: why not that one?"). The answer is a re-run of the same queue with that
pair locked: who else moves, who loses their placement, and what happens to placements, miles
and weekly cost for everyone. The re-run starts from the same eligible pairs and policy, so the
only difference is the lock; with deterministic limits the answer is the same each time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from matching import measures
from matching.engine import MatchError, MatchResult, match
from matching.instance import Instance
from matching.policy import Policy


@dataclass
class Counterfactual:
    referral_id: str
    vacancy_id: str
    possible: bool  # False: no proposal can honour it (``reason`` says why)
    reason: str = ""
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # (young person, from, to)
    lose_placement: list[str] = field(default_factory=list)  # placed before, not after
    gain_placement: list[str] = field(default_factory=list)
    change: dict[str, int] = field(default_factory=dict)  # measure -> after minus before

    def words(self) -> str:
        if not self.possible:
            return f"Giving {self.vacancy_id} to {self.referral_id} is not possible: {self.reason}"
        parts = [f"{measures.difference(n, d, 0)} {measures.BY_NAME[n].words}"
                 for n, d in self.change.items() if d]
        who = []
        if self.lose_placement:
            who.append(f"{', '.join(self.lose_placement)} would lose their placement")
        others = [r for r, _, _ in self.moved if r != self.referral_id]
        if others:
            who.append(f"{', '.join(others)} would move to another home")
        return (f"Giving {self.vacancy_id} to {self.referral_id}: " + ("; ".join(who + parts) or "no other change")
                + ".")


def _plain(message: str) -> str:
    """The engine's refusal with rule codes in the glossary's words."""
    from matching.explain import REASON_WORDS

    for code in sorted(REASON_WORDS, key=len, reverse=True):
        message = message.replace(code, REASON_WORDS[code])
    return message


def _placements(result: MatchResult) -> dict[str, str]:
    return dict(zip(result.matches["referral_id"].astype(str), result.matches["vacancy_id"].astype(str)))


def what_if(instance: Instance, policy: Policy, result: MatchResult, referral_id: str,
            vacancy_id: str) -> Counterfactual:
    """Re-run ``instance`` with (``referral_id``, ``vacancy_id``) locked on top of the panel's
    own locks, and compare with ``result``."""
    locked = dataclasses.replace(instance, locks=[*instance.locks, (referral_id, vacancy_id)])
    try:
        after = match(locked, policy, eligibility=result.eligibility)
    except MatchError as exc:
        return Counterfactual(referral_id, vacancy_id, False, _plain(str(exc)))
    before, now = _placements(result), _placements(after)
    return Counterfactual(
        referral_id, vacancy_id, True,
        moved=[(r, before[r], now[r]) for r in sorted(before) if r in now and now[r] != before[r]],
        lose_placement=sorted(set(before) - set(now)),
        gain_placement=sorted(set(now) - set(before)),
        change={n: after_v - before_v for n, (before_v, after_v) in
                ((n, (measures.of(result.matches)[n], measures.of(after.matches)[n])) for n in measures.BY_NAME)},
    )
