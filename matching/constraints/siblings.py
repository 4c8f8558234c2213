"""Siblings to be placed together: all members of a group in the queue go to the same property,
or none of them is placed.

Only properties where every member has an option (and enough beds in all for the group) can
take the group; a group with no such property is left unplaced, which is a proposal, not an
error. Members are those in this run's queue."""

from __future__ import annotations

import pandas as pd
from ortools.sat.python import cp_model

from matching.constraints import Breach, Side, Vars, locked_rows


def _common_properties(pairs: pd.DataFrame, members: tuple[str, ...], side: Side) -> set[str]:
    mine = pairs[pairs["referral_id"].isin(members)]
    per_member = mine.groupby("referral_id")["property_id"].agg(lambda s: set(map(str, s)))
    if len(per_member) < len(members):
        return set()
    common = set.intersection(*per_member.tolist())
    beds_at: dict[str, int] = {}
    for vacancy in set(mine["vacancy_id"]):
        prop = side.property_of.get(str(vacancy))
        beds_at[prop] = beds_at.get(prop, 0) + side.beds.get(str(vacancy), 0)
    return {p for p in common if beds_at.get(p, 0) >= len(members)}


def excluded(pairs: pd.DataFrame, side: Side) -> pd.Series:
    reason = pd.Series("", index=pairs.index, dtype=object)
    if not side.sibling_groups or pairs.empty:
        return reason
    for members in side.sibling_groups.values():
        common = _common_properties(pairs, members, side)
        rows = pairs["referral_id"].isin(members) & ~pairs["property_id"].astype(str).isin(common)
        reason[rows] = "sibling_no_common_property"
    return reason


def build(vars: Vars, side: Side) -> None:
    if not side.sibling_groups or vars.pairs.empty:
        return
    by_member_property = vars.rows_by("referral_id", "property_id")
    by_member = vars.rows_by("referral_id")
    for group, members in side.sibling_groups.items():
        props = sorted({p for (r, p) in by_member_property if r in members})
        for prop in props:
            together = vars.model.new_bool_var(f"siblings_{group}_at_{prop}")
            for member in members:
                rows = by_member_property.get((member, prop), ())
                vars.model.add(cp_model.LinearExpr.sum([vars.x[i] for i in rows]) == together)
            first = frozenset(by_member_property.get((members[0], prop), ()))
            vars.aux.append((together, lambda chosen, first=first: int(bool(first & chosen))))
        # A member with options at no property of the group: nobody in the group can be placed.
        for member in members:
            if member not in by_member:
                for other in members:
                    for i in by_member.get(other, ()):
                        vars.model.add(vars.x[i] == 0)


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    out = []
    if not side.sibling_groups or chosen.empty:
        return out
    # One pass over the placements (not a filter of every placement per group): checks run
    # after every solve, and a council has many small groups.
    group_of = {m: g for g, ms in side.sibling_groups.items() for m in ms}
    referrals = chosen["referral_id"].astype(str)
    mine = referrals.isin(group_of).to_numpy()
    placed: dict[str, list[tuple[int, str]]] = {}
    for label, r, home in zip(chosen.index[mine], referrals[mine], chosen["property_id"].astype(str)[mine],
                              strict=True):
        placed.setdefault(group_of[r], []).append((label, home))
    locked = None
    for group, members in side.sibling_groups.items():
        here = placed.get(group)
        if not here:
            continue
        props = sorted({home for _, home in here})
        if len(here) < len(members) or len(props) > 1:
            locked = locked_rows(chosen, side) if locked is None else locked
            out.append(Breach(
                "siblings",
                f"sibling group {group}: {len(here)} of {len(members)} placed, at {', '.join(props)}",
                members,
                tuple(int(i) for i, _ in here if i not in locked),
            ))
    return out
