"""How panels place young people today, as a baseline the engine must beat.

``greedy``: one young person at a time, the most urgent first and then the longest waiting;
each takes the nearest eligible vacancy that still has a bed (cheaper first on a tie), and a
sibling group takes the nearest home with room for all of them. It keeps every rule the panel
would (the same eligible pairs, beds, the intensive cap and who may share a home) but never
revisits an earlier choice, which is exactly why an early choice can take the only bed that
suited someone later in the queue.

The other baseline, the bare min-cost flow, is ``matching.flow.solve_flow``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.instance import Instance, risk_tokens
from matching.policy import Policy
from models.enums import RISK_TO_OTHERS_PREFIX, Urgency

_URGENCY_ORDER = {u.value: u.rank for u in Urgency}


@dataclass
class _Homes:
    """What the greedy panel knows about each home as it fills it."""

    policy: Policy
    beds: dict[str, int]
    risks: dict[str, set[str]] = field(default_factory=dict)
    intensive: dict[str, int] = field(default_factory=dict)

    def clashes(self, prop: str, tokens: set[str]) -> bool:
        present = self.risks.get(prop, set())
        for to_others, to_self in self.policy.incompatible:
            other = RISK_TO_OTHERS_PREFIX + str(to_others)
            if (other in tokens and str(to_self) in present) or (str(to_self) in tokens and other in present):
                return True
        return False

    def intensive_full(self, prop: str, extra: int) -> bool:
        cap = self.policy.max_intensive_per_shared_home
        return cap is not None and self.intensive.get(prop, 0) + extra > cap

    def take(self, vacancy: str, prop: str, tokens: set[str], shared: bool, intensive: bool) -> None:
        self.beds[vacancy] -= 1
        if shared:
            self.risks.setdefault(prop, set()).update(tokens)
            self.intensive[prop] = self.intensive.get(prop, 0) + int(intensive)


def queue_order(referrals: pd.DataFrame) -> list[str]:
    """Most urgent first, then the longest waiting, then by id (so the order is total)."""
    order = referrals.assign(_u=referrals["urgency"].map(_URGENCY_ORDER)).sort_values(
        ["_u", "referred_on", "referral_id"], kind="stable"
    )
    return order["referral_id"].tolist()


def greedy(pairs: pd.DataFrame, instance: Instance, policy: Policy) -> tuple[pd.DataFrame, float]:
    """The pairs a one-at-a-time panel would choose, and the seconds it took."""
    started = time.perf_counter()
    homes = _Homes(policy, dict(zip(instance.vacancies["vacancy_id"], instance.vacancies["beds"].astype(int))))
    for row in instance.residents.itertuples(index=False):
        homes.risks.setdefault(row.property_id, set()).update(row.risks or [])
        homes.intensive[row.property_id] = homes.intensive.get(row.property_id, 0) + int(row.tier == "intensive")
    tokens = {
        r.referral_id: set(risk_tokens(r.risks_to_self, r.risks_to_others))
        for r in instance.referrals.itertuples(index=False)
    }
    # Nearest first, then cheaper, then by id: each young person's options in preference order.
    ranked = pairs.sort_values(["referral_id", "miles_from_home", "weekly_cost", "vacancy_id"], kind="stable")
    options = {rid: grp for rid, grp in ranked.groupby("referral_id", sort=False)}
    groups = (
        instance.referrals.dropna(subset=["sibling_group"]).groupby("sibling_group")["referral_id"].apply(list)
    )
    group_of = {rid: g for g, members in groups.items() for rid in members}

    chosen: list[int] = []  # row labels of `pairs`
    done: set[str] = set()
    for rid in queue_order(instance.referrals):
        if rid in done:
            continue
        members = groups[group_of[rid]] if rid in group_of else [rid]
        done.update(members)
        if len(members) == 1:
            pick = _first_fit(options.get(rid), homes, tokens[rid])
            if pick is not None:
                chosen.append(pick)
        else:
            chosen.extend(_place_siblings(members, options, homes, tokens))
    result = pairs.loc[chosen].sort_values("referral_id", kind="stable")
    return result, time.perf_counter() - started


def _fits(row, homes: _Homes, tokens: set[str], extra_intensive: int = 0) -> bool:
    if homes.beds.get(row.vacancy_id, 0) <= 0:
        return False
    if not row.shared_home:
        return True
    intensive = int(row.tier == "intensive")
    return not homes.clashes(row.property_id, tokens) and not homes.intensive_full(
        row.property_id, intensive + extra_intensive
    )


def _first_fit(options: pd.DataFrame | None, homes: _Homes, tokens: set[str]) -> int | None:
    if options is None:
        return None
    for label, row in zip(options.index, options.itertuples(index=False)):
        if _fits(row, homes, tokens):
            homes.take(row.vacancy_id, row.property_id, tokens, bool(row.shared_home), row.tier == "intensive")
            return label
    return None


def _place_siblings(members, options, homes: _Homes, tokens) -> list[int]:
    """The nearest home (by the group's total miles) where every sibling fits, or nobody."""
    frames = [options.get(m) for m in members]
    if any(f is None for f in frames):
        return []
    common = set.intersection(*(set(f["property_id"]) for f in frames))
    distance = {p: sum(f.loc[f["property_id"] == p, "miles_from_home"].min() for f in frames) for p in common}
    for prop in sorted(common, key=lambda p: (distance[p], p)):
        trial = _Homes(homes.policy, dict(homes.beds), {k: set(v) for k, v in homes.risks.items()}, dict(homes.intensive))
        picks = []
        for member, frame in zip(members, frames):
            here = frame[frame["property_id"] == prop]
            pick = _first_fit(here, trial, tokens[member])
            if pick is None:
                break
            picks.append(pick)
        if len(picks) == len(members):
            homes.beds, homes.risks, homes.intensive = trial.beds, trial.risks, trial.intensive
            return picks
    return []


def summary_row(chosen: pd.DataFrame, total: int) -> dict[str, float]:
    """Placed, miles, placements over 20 miles and weekly cost: the figures panels compare."""
    miles = chosen["miles_from_home"].to_numpy(dtype=float)
    return {
        "placed": int(len(chosen)),
        "unplaced": int(total - len(chosen)),
        "total_miles": float(np.round(miles.sum(), 1)),
        "over_20_miles": int((miles > 20).sum()),
        "weekly_cost": float(chosen["weekly_cost"].sum()),
    }
