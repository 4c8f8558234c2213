"""Who can share a home: a risk to others (say, sexual) never lives with a matching risk to self
(sexual exploitation), per the policy's incompatibility table, in shared homes only.

Against residents already living there it is a pair rule: the young person cannot go there at
all. Between two young people in this run it is a choice: not both in the same shared home.
For one incompatible pair (X, Y) at one home, with A the candidates carrying X and B those
carrying Y (A and B disjoint), one Boolean ``h`` says which side may move in: every option of
A implies h, every option of B implies not h. That is linear in the candidates rather than
quadratic. Someone carrying both X and Y clashes with everyone else in A or B, so they get
pairwise at-most-one constraints instead.
"""

from __future__ import annotations

import itertools

import pandas as pd

from matching.constraints import Breach, Side, Vars, locked_rows, worst_first


def resident_clashes(side: Side, referral_id: str, property_id: str) -> list[tuple[str, str]]:
    if property_id not in side.shared:
        return []
    mine = side.risks.get(referral_id, frozenset())
    return [c for resident in side.resident_risks.get(property_id, ()) for c in side.clash(mine, resident)]


def excluded(pairs: pd.DataFrame, side: Side) -> pd.Series:
    reason = pd.Series("", index=pairs.index, dtype=object)
    if not side.incompatible or not side.resident_risks or pairs.empty:
        return reason
    homes = pairs["property_id"].astype(str)
    candidates = pairs[homes.isin(side.shared) & homes.isin(set(side.resident_risks))]
    for label, r, p in zip(candidates.index, candidates["referral_id"], candidates["property_id"], strict=True):
        if resident_clashes(side, str(r), str(p)):
            reason.at[label] = "resident_risk_clash"
    return reason


def build(vars: Vars, side: Side) -> None:
    if not side.incompatible or vars.pairs.empty:
        return
    model, x = vars.model, vars.x
    # Residents: normally removed up front (``excluded``); the model holds the rule on its own too.
    for i in excluded(vars.pairs, side).to_numpy().nonzero()[0]:
        model.add(x[int(i)] == 0)
    shared_rows = vars.pairs["property_id"].astype(str).isin(side.shared).to_numpy()
    by_home_referral: dict[str, dict[str, list[int]]] = {}
    for (r, p), rows in vars.rows_by("referral_id", "property_id").items():
        rows = [int(i) for i in rows if shared_rows[i]]
        if rows:
            by_home_referral.setdefault(str(p), {})[str(r)] = rows
    for home, options in sorted(by_home_referral.items()):
        for k, (to_others, to_self) in enumerate(side.incompatible):
            a = sorted(r for r in options if to_others in side.risks.get(r, ()))
            b = sorted(r for r in options if to_self in side.risks.get(r, ()))
            if not a or not b or (len(a) == 1 and a == b):
                continue
            both = set(a) & set(b)
            only_a, only_b = [r for r in a if r not in both], [r for r in b if r not in both]
            if only_a and only_b:
                h = model.new_bool_var(f"co_residency_{home}_{k}")
                for r in only_a:
                    for i in options[r]:
                        model.add_implication(x[i], h)
                for r in only_b:
                    for i in options[r]:
                        model.add_implication(x[i], ~h)
                rows_a = frozenset(i for r in only_a for i in options[r])
                vars.aux.append((h, lambda chosen, rows_a=rows_a: int(bool(rows_a & chosen))))
            for r in sorted(both):
                for other in sorted((set(a) | set(b)) - {r}):
                    model.add_at_most_one([x[i] for i in options[r] + options[other]])


def breaches(chosen: pd.DataFrame, side: Side) -> list[Breach]:
    out = []
    if not side.incompatible or chosen.empty:
        return out
    homes = chosen["property_id"].astype(str)
    in_shared = chosen[homes.isin(side.shared)]
    # Only homes with residents or with two or more newcomers can hold a clash.
    crowded = in_shared["property_id"].duplicated(keep=False) | in_shared["property_id"].astype(str).isin(
        set(side.resident_risks))
    in_shared = in_shared[crowded]
    if in_shared.empty:
        return out
    # Which placements are locked and which are worth least: sorted once, and only when a clash
    # is found (most checks find none, and the sort of every placement dominated their cost).
    memo: dict[str, object] = {}

    def locked() -> set[int]:
        if "locked" not in memo:
            memo["locked"] = locked_rows(chosen, side)
        return memo["locked"]

    def position() -> dict[int, int]:
        if "position" not in memo:
            memo["position"] = {label: k for k, label in enumerate(worst_first(chosen, side))}
        return memo["position"]

    # Plain lists per home: a pandas group per home cost more than the checks themselves.
    by_home: dict[str, list[tuple[str, int]]] = {}
    for home, r, label in zip(in_shared["property_id"].astype(str), in_shared["referral_id"].astype(str),
                              in_shared.index, strict=True):
        by_home.setdefault(home, []).append((r, label))
    for home in sorted(by_home):
        people = sorted(by_home[home], key=lambda t: t[0])
        dropped: set[int] = set()
        for r, label in people:
            found = resident_clashes(side, r, home)
            if found:
                out.append(Breach("co_residency", f"{r} at {home} clashes with a resident ({found[0][0]} / {found[0][1]})",
                                  (r,), () if label in locked() else (int(label),)))
                dropped.add(label)
        for (r1, l1), (r2, l2) in itertools.combinations(people, 2):
            if l1 in dropped or l2 in dropped:
                continue
            found = side.clash(side.risks.get(r1, frozenset()), side.risks.get(r2, frozenset()))
            if found:
                # Drop the less valuable of the two, never a locked one.
                candidates = [lab for lab in (l1, l2) if lab not in locked()]
                drop = min(candidates, key=lambda lab: position()[lab]) if candidates else None
                if drop is not None:
                    dropped.add(drop)
                out.append(Breach("co_residency", f"{r1} and {r2} at {home} ({found[0][0]} / {found[0][1]})",
                                  (r1, r2), () if drop is None else (int(drop),)))
    return out
