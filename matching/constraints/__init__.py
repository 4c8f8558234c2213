"""The CP-SAT model's side constraints, one module per family (CP-SAT primer style).

Every module has the same three functions, so the engine can treat them alike:

* ``excluded(pairs, side) -> pd.Series`` (optional): pairs the constraint rules out on its own,
  before any solver runs (a reason code per row, "" to keep). Removing them up front keeps the
  min-cost flow's relaxation as tight as it can be and tells the panel why.
* ``build(vars, side)``: add the constraint to the CP-SAT model over the pairs' Booleans.
* ``breaches(chosen, side) -> list[Breach]``: the model's own quick test of a chosen set of
  pairs (a min-cost flow solution, a hint), with the rows to drop to repair it.

Modules run in :data:`MODULES` order; siblings come after everything that can remove a
sibling's option, since a property stops being common when any sibling loses it there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching.instance import Instance, risk_tokens
from matching.policy import Policy
from models.enums import RISK_TO_OTHERS_PREFIX, Setting

SHARED_SETTINGS = frozenset(s.value for s in Setting if s.is_shared)


@dataclass(frozen=True)
class Side:
    """What the side constraints need to know about one panel run, compiled once."""

    mode: str  # the policy's objective mode, for ranking which placement to drop in a repair
    beds: dict[str, int]  # vacancy_id -> free beds
    property_of: dict[str, str]  # vacancy_id -> property_id
    shared: frozenset[str]  # property ids of shared homes
    intensive_cap: int | None
    intensive_residents: dict[str, int]  # property_id -> residents already at intensive tier
    sibling_groups: dict[str, tuple[str, ...]]  # group -> its members in the queue (2 or more)
    risks: dict[str, frozenset[str]]  # referral_id -> risk tokens (to_others: prefixed)
    resident_risks: dict[str, tuple[frozenset[str], ...]]  # property_id -> each resident's risks
    incompatible: tuple[tuple[str, str], ...]  # (to_others:X, Y): never in one shared home
    locks: tuple[tuple[str, str], ...]
    bans: frozenset[tuple[str, str]]
    budget_pence: int | None
    # Floating support / outreach packages: vacancy_id -> free support hours a week (only the
    # packages; a home counted in beds alone is not here), and the hours each tier takes.
    hours: dict[str, int] = field(default_factory=dict)
    hours_needed: dict[str, int] = field(default_factory=dict)
    # Headline measures held no worse than practice: ((measure name, limit), ...), see
    # :mod:`matching.constraints.dominance`; empty unless the engine sets them.
    limits: tuple[tuple[str, int], ...] = ()
    # A region's run (matching.region): each young person's council, and for each member council
    # the least it must place (urgency-weighted, as the "placed" measure counts) so that it places
    # no fewer than matching alone on its own share of the market. Empty for one council's run.
    council_of: dict[str, str] = field(default_factory=dict)
    council_floors: tuple[tuple[str, int], ...] = ()

    def clash(self, a: frozenset[str], b: frozenset[str]) -> list[tuple[str, str]]:
        """The incompatible (risk to others, risk to self) pairs between two people."""
        return [(x, y) for x, y in self.incompatible if (x in a and y in b) or (x in b and y in a)]


def side_data(instance: Instance, policy: Policy) -> Side:
    vac = instance.vacancies
    referrals = instance.referrals
    groups: dict[str, list[str]] = {}
    for rid, group in zip(referrals["referral_id"], referrals["sibling_group"], strict=True):
        if isinstance(group, str) and group:
            groups.setdefault(group, []).append(str(rid))
    residents = instance.residents
    intensive = Counter(
        str(p) for p, t in zip(residents["property_id"], residents["tier"], strict=True) if t == "intensive"
    )
    resident_risks: dict[str, list[frozenset[str]]] = {}
    for p, risks in zip(residents["property_id"], residents["risks"], strict=True):
        resident_risks.setdefault(str(p), []).append(frozenset(risks if isinstance(risks, list | tuple) else []))
    cap = policy.weekly_budget_cap
    return Side(
        mode=policy.mode,
        beds={str(v): int(b) for v, b in zip(vac["vacancy_id"], vac["beds"], strict=True)},
        property_of={str(v): str(p) for v, p in zip(vac["vacancy_id"], vac["property_id"], strict=True)},
        shared=frozenset(str(p) for p, s in zip(vac["property_id"], vac["setting"], strict=True) if str(s) in SHARED_SETTINGS),
        intensive_cap=policy.max_intensive_per_shared_home,
        intensive_residents=dict(intensive),
        sibling_groups={g: tuple(sorted(m)) for g, m in sorted(groups.items()) if len(m) >= 2},
        risks={
            str(r): frozenset(risk_tokens(s, o))
            for r, s, o in zip(referrals["referral_id"], referrals["risks_to_self"], referrals["risks_to_others"], strict=True)
        },
        resident_risks={p: tuple(r) for p, r in resident_risks.items()},
        incompatible=tuple((RISK_TO_OTHERS_PREFIX + str(x), str(y)) for x, y in policy.incompatible),
        locks=tuple((str(r), str(v)) for r, v in instance.locks),
        bans=frozenset((str(r), str(v)) for r, v in instance.bans),
        budget_pence=None if cap is None else int(cap) * 100,
        hours={str(v): int(h) for v, h in zip(vac["vacancy_id"], vac["support_hours"], strict=True) if int(h) > 0},
        hours_needed={str(t.value): int(h) for t, h in policy.support_hours_needed.items()},
    )


@dataclass
class Breach:
    constraint: str  # module name: beds, intensive_cap, siblings, co_residency, locks, budget...
    detail: str
    referral_ids: tuple[str, ...] = ()
    drop: tuple[int, ...] = ()  # row labels of the chosen pairs whose removal repairs it


@dataclass
class Vars:
    """The CP-SAT model and one Boolean per pair row (row i of ``pairs`` is ``x[i]``)."""

    model: cp_model.CpModel
    pairs: pd.DataFrame  # scored, index 0..n-1
    x: list
    # Auxiliary variables with how to hint them from a set of chosen rows.
    aux: list[tuple[object, Callable[[set[int]], int]]] = field(default_factory=list)

    def rows_by(self, *columns: str) -> dict:
        """Row positions grouped by the given column(s)."""
        if not len(self.pairs):
            return {}
        key = list(columns) if len(columns) > 1 else columns[0]
        return {k: np.asarray(v) for k, v in self.pairs.groupby(key, sort=True).indices.items()}


def pence(weekly_cost: pd.Series) -> np.ndarray:
    values = pd.to_numeric(weekly_cost).to_numpy(dtype=float)
    return np.floor(values * 100 + 0.5 + 1e-9).astype(np.int64)


def worst_first(chosen: pd.DataFrame, side: Side) -> list[int]:
    """Row labels of chosen pairs from the least to the most valuable placement."""
    if side.mode == "weighted":
        order = chosen.sort_values(["pounds", "referral_id"], ascending=[False, False], kind="stable")
    else:
        order = chosen.sort_values(
            ["reward", "penalty", "cost", "referral_id"], ascending=[True, False, False, False], kind="stable"
        )
    return [int(i) for i in order.index]


def locked_rows(chosen: pd.DataFrame, side: Side) -> set[int]:
    if not side.locks or chosen.empty:
        return set()
    locks = set(side.locks)
    keys = zip(chosen["referral_id"], chosen["vacancy_id"], strict=True)
    return {int(i) for i, key in zip(chosen.index, keys, strict=True) if key in locks}


from matching.constraints import (  # noqa: E402  (modules use the helpers above)
    assignment,
    budget,
    coresidency,
    councils,
    dominance,
    intensive,
    panel,
    siblings,
    support_hours,
)

MODULES = (panel, assignment, support_hours, coresidency, intensive, siblings, budget, dominance, councils)


def exclusions(pairs: pd.DataFrame, side: Side) -> pd.Series:
    """Why each pair is ruled out by a side constraint on its own ("" = kept), in module order."""
    reason = pd.Series("", index=pairs.index, dtype=object)
    for module in MODULES:
        find = getattr(module, "excluded", None)
        if find is None:
            continue
        ruled_out = reason != ""
        kept = pairs.loc[~ruled_out] if ruled_out.any() else pairs  # no copy until something is out
        found = find(kept, side)
        hit = found[found != ""]
        reason.loc[hit.index] = hit
    return reason


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    """Every side constraint the chosen pairs break (empty: the set is feasible)."""
    out: list[Breach] = []
    for module in MODULES:
        out.extend(module.breaches(chosen, side))
    return out


def repair(chosen: pd.DataFrame, side: Side, *, rounds: int = 20) -> pd.DataFrame:
    """Drop placements until no side constraint is broken (locked rows are never dropped;
    a breach only a locked row could mend is left in place)."""
    for _ in range(rounds):
        found = breaches(chosen, side)
        drop = {i for b in found for i in b.drop}
        if not drop:
            return chosen
        chosen = chosen.drop(index=sorted(drop))
    return chosen
