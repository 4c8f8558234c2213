"""How panels place young people today, as a baseline the engine must beat.

``greedy``: the panel's locks first, then one young person at a time, the most urgent first and
then the longest waiting;
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
    budget_left: float = float("inf")  # a panel with a weekly budget cap keeps to it too
    hours: dict[str, int] = field(default_factory=dict)  # support package -> free hours a week

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

    def take(self, vacancy: str, prop: str, tokens: set[str], shared: bool, intensive: bool,
             cost: float = 0.0, hours: int = 0) -> None:
        self.beds[vacancy] -= 1
        self.budget_left -= cost
        if vacancy in self.hours:
            self.hours[vacancy] -= hours
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
    homes = _Homes(policy, dict(zip(instance.vacancies["vacancy_id"], instance.vacancies["beds"].astype(int))),
                   budget_left=float("inf") if policy.weekly_budget_cap is None else float(policy.weekly_budget_cap),
                   hours={str(v): int(h) for v, h in zip(instance.vacancies["vacancy_id"], instance.vacancies["support_hours"])
                          if int(h) > 0})
    for row in instance.residents.itertuples(index=False):
        homes.risks.setdefault(row.property_id, set()).update(row.risks or [])
        homes.intensive[row.property_id] = homes.intensive.get(row.property_id, 0) + int(row.tier == "intensive")
    tokens = {
        r.referral_id: set(risk_tokens(r.risks_to_self, r.risks_to_others))
        for r in instance.referrals.itertuples(index=False)
    }
    # Nearest first, then cheaper, then by id: each young person's options in preference order.
    options = _Options(pairs, policy)
    groups = (
        instance.referrals.dropna(subset=["sibling_group"]).groupby("sibling_group")["referral_id"].apply(list)
    )
    group_of = {rid: g for g, members in groups.items() for rid in members}

    chosen: list[int] = []  # row labels of `pairs`
    done: set[str] = set()
    # The panel's locks are placed before anyone else, as a panel would honour its own choices.
    for rid, vid in instance.locks:
        at = [i for i in options.of(rid) if options.vacancy[i] == vid]
        if at:
            options.take(at[0], homes, tokens[rid])
            chosen.append(options.label[at[0]])
            done.add(rid)
    for rid in queue_order(instance.referrals):
        if rid in done:
            continue
        members = [m for m in (groups[group_of[rid]] if rid in group_of else [rid]) if m not in done]
        done.update(members)
        if len(members) == 1:
            pick = _first_fit(options, options.of(rid), homes, tokens[rid])
            if pick is not None:
                chosen.append(pick)
        else:
            chosen.extend(_place_siblings(members, options, homes, tokens))
    result = pairs.loc[chosen].sort_values("referral_id", kind="stable")
    return result, time.perf_counter() - started


class _Options:
    """Every young person's options in preference order, as arrays (a panel reads down its
    list until a bed fits; building a row object per option would cost more than the choice)."""

    def __init__(self, pairs: pd.DataFrame, policy: Policy) -> None:
        ranked = pairs.sort_values(["referral_id", "miles_from_home", "weekly_cost", "vacancy_id"], kind="stable")
        needed = {str(t.value): h for t, h in policy.support_hours_needed.items()}
        self.hours = ranked["tier"].astype(str).map(needed).fillna(0).to_numpy(dtype=np.int64)
        self.label = ranked.index.to_numpy()
        self.vacancy = ranked["vacancy_id"].astype(str).to_numpy(dtype=object)
        self.home = ranked["property_id"].astype(str).to_numpy(dtype=object)
        self.shared = ranked["shared_home"].astype(bool).to_numpy()
        self.intensive = (ranked["tier"].astype(str) == "intensive").to_numpy()
        self.cost = ranked["weekly_cost"].to_numpy(dtype=float)
        self.miles = ranked["miles_from_home"].to_numpy(dtype=float)
        ids = ranked["referral_id"].astype(str).to_numpy(dtype=object)
        firsts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, dtype=np.int64)
        ends = np.r_[firsts[1:], len(ids)]
        self._range = {str(ids[a]): (int(a), int(b)) for a, b in zip(firsts, ends)}

    def of(self, rid: str) -> range:
        return range(*self._range.get(rid, (0, 0)))

    def fits(self, i: int, homes: _Homes, tokens: set[str], extra_intensive: int = 0) -> bool:
        if homes.beds.get(self.vacancy[i], 0) <= 0 or self.cost[i] > homes.budget_left + 1e-9:
            return False
        if self.vacancy[i] in homes.hours and self.hours[i] > homes.hours[self.vacancy[i]]:
            return False
        if not self.shared[i]:
            return True
        return not homes.clashes(self.home[i], tokens) and not homes.intensive_full(
            self.home[i], int(self.intensive[i]) + extra_intensive)

    def take(self, i: int, homes: _Homes, tokens: set[str]) -> None:
        homes.take(self.vacancy[i], self.home[i], tokens, bool(self.shared[i]), bool(self.intensive[i]),
                   float(self.cost[i]), int(self.hours[i]))


def _first_fit(options: _Options, rows, homes: _Homes, tokens: set[str]) -> int | None:
    for i in rows:
        if options.fits(i, homes, tokens):
            options.take(i, homes, tokens)
            return options.label[i]
    return None


def _place_siblings(members, options: _Options, homes: _Homes, tokens) -> list[int]:
    """The nearest home (by the group's total miles) where every sibling fits, or nobody."""
    rows = [options.of(m) for m in members]
    if any(len(r) == 0 for r in rows):
        return []
    common = set.intersection(*({options.home[i] for i in r} for r in rows))
    distance = {p: sum(min(options.miles[i] for i in r if options.home[i] == p) for r in rows) for p in common}
    for prop in sorted(common, key=lambda p: (distance[p], p)):
        trial = _Homes(homes.policy, dict(homes.beds), {k: set(v) for k, v in homes.risks.items()}, dict(homes.intensive),
                       homes.budget_left, dict(homes.hours))
        picks = []
        for member, r in zip(members, rows):
            pick = _first_fit(options, [i for i in r if options.home[i] == prop], trial, tokens[member])
            if pick is None:
                break
            picks.append(pick)
        if len(picks) == len(members):
            homes.beds, homes.risks, homes.intensive = trial.beds, trial.risks, trial.intensive
            homes.budget_left, homes.hours = trial.budget_left, trial.hours
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
