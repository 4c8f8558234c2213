"""The nearest miss for each young person left unplaced: the one change that would place them.

A panel reading "not placed" asks what it would take. The answer is one change, of one of four
kinds, each checked by re-running the whole queue with that change alone:

* **bed**: their best home (in the policy's own order: most reward, then least penalty, then
  least cost) is full because others hold its beds: one more bed there;
* **rule**: a home that one hard rule alone removed, where that rule is one a panel may set
  aside for one young person (:data:`RELAXABLE`): a home a few miles beyond the distance limit,
  a bed free a few days too late, a home one tier short of the support they need. Rules that
  protect young people (:data:`NOT_RELAXED`) are never suggested;
* **panel**: the panel's own ban on this young person, or its lock of someone else on the bed
  they need;
* **side constraint**: the cap on young people needing intensive support in a shared home, or
  the weekly budget cap. A clash of risks with someone living there and a sibling group with no
  common home are named, never relaxed.

A change counts only if the re-run places them and nobody placed before loses their
placement. The candidates are tried nearest first (bed, rule, panel, side constraint; within a
rule, fewest miles over, fewest days late, fewest tiers short), three times over
(:data:`HOLD_MODES`): with everyone else held where the proposal puts them (so the first that
places them moves nobody; a quick reading of what the pair touches skips the changes that
cannot), then with only those placed near that home free to move, then with everyone free. In
the first two the other young people left unplaced stay unplaced (the question is this young
person's: one more bed may place either of two, and each is told so); the third is the
engine's own answer for the whole queue. The first that places them is the nearest miss, and
its sentence names who would move. When none does, the answer is "no single change would
place them", with what stands in the way.

Re-runs are bounded, so the explanation stage stays short beside the solve: at most
:data:`MAX_CHECKS_PER_PERSON` candidate changes per young person, :data:`MAX_RERUNS_PER_RUN`
re-runs and :data:`MAX_RERUN_PAIRS` pairs re-run per run (the most urgent young people first;
the same change is re-run once), re-runs with everyone free only on queues up to
:data:`FREE_CHECK_PAIRS` pairs and at most :data:`MAX_FREE_RERUNS_PER_RUN` of them, and none
on queues above :data:`CHECK_PAIRS` eligible pairs (the engine's ``FULL_MODEL_PAIRS``, where
it solves the whole model at once). Beyond them the nearest candidate is still reported,
marked as not checked by a re-run. Each re-run uses the run's eligible pairs and policy with
the deterministic time limit :data:`CHECK_TIME_LIMIT`, and leaves out the comparison with
one-at-a-time practice (which never places fewer), so the answer is the same each time.
Measured on the demo council (64 young people, 18 left unplaced): 20 re-runs, 3-5 seconds in
all (each re-run costs the engine's fixed 0.1-0.3 s); on 400 young people for 300 beds (208
left unplaced, 6,100 pairs) 8 s.

Candidates are found per young person from the chosen solution and their own pairs: rules
are judged only for the young people left unplaced, and no sort of every pair is made.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching import constraints
from matching.constraints import Side, coresidency, intensive, side_data
from matching.engine import FULL_MODEL_PAIRS, MatchError, MatchResult, match
from matching.instance import Instance
from matching.policy import Policy
from matching.scoring import SCORE_COLUMNS, score

KINDS = ("bed", "rule", "panel", "side constraint", "none")

# Bounds on the re-runs that check a candidate change (see the module's docstring).
MAX_CHECKS_PER_PERSON = 3  # candidate changes checked per young person (each tried in HOLD_MODES order)
HOLD_MODES = ("held", "near", "free")  # who else may move in a re-run, in the order tried
MAX_RERUNS_PER_RUN = 24  # re-runs of the queue per panel run, the most urgent young people first
MAX_RERUN_PAIRS = 200_000  # and at most this many pairs re-run in all
# With everyone free to move, a re-run is the whole search again (measured: 0.3 s at 537 pairs,
# 0.9 s at 6,100, 6 s at 12,700, against 0.4 s at 12,700 with all but a few held): only on
# queues up to this size, and at most this many per run.
FREE_CHECK_PAIRS = 5_000
MAX_FREE_RERUNS_PER_RUN = 8
CHECK_PAIRS = FULL_MODEL_PAIRS
CHECK_TIME_LIMIT = 2.0  # deterministic seconds per re-run, at most the policy's own limit

# The hard rules a panel may set aside for one young person, and why. Kept in this one place:
# a rule is suggested as a nearest miss only if it is here.
RELAXABLE = {
    "beyond_distance_cap": "the council's own limit on distance: a placement further away can be made "
                           "with the approvals it needs (reg. 11: the Director for a looked-after child)",
    "not_available_in_time": "the date the bed is needed by: waiting a few days for a bed is the panel's call",
    "tier_not_offered": "what a provider offers: the provider can be asked to offer the support needed",
}
# Every other rule, and why it is never suggested.
NOT_RELAXED = {
    "banned_by_panel": "the panel's own decision: suggested as lifting the ban (kind panel), not as a rule",
    "declined_by_provider": "the provider's own answer: it was asked and said no",
    "age_out_of_range": "the home's registered age range",
    "under_16_in_supported_accommodation": "the law: no child under 16 in supported accommodation (2023 regulations)",
    "unregistered_for_under_18": "the law: a setting for 16-17 year olds must be registered with Ofsted",
    "sex_restricted": "safeguarding: a single-sex home",
    "need_not_met": "safeguarding: the provider must be able to meet every assessed need",
    "risk_excluded": "safeguarding: a risk the home cannot manage",
    "type_unsuitable": "the social worker's assessment of the young person",
    "dol_in_registered_supported_accommodation": "the law: a DoL order rules out registered supported accommodation",
    "inside_exclusion_zone": "safety: a place the young person must keep away from",
    "grade_below_good": "quality of care: the council uses only providers graded good or above",
    "emergency_for_under_18": "statutory guidance: no emergency accommodation for under-18s",
    "staying_put_not_reserved": "another young person's former foster carer",
    "solo_needs_self_contained": "the assessment that they should live alone",
}
# Side constraints that are named but never relaxed.
SAFEGUARDS = {
    "resident_risk_clash": "a current resident's risks clash with theirs",
    "sibling_no_common_property": "no home can take their sibling group together",
}


@dataclass
class NearestMiss:
    referral_id: str
    kind: str  # one of KINDS
    words: str  # the sentence a panel reads
    checked: bool  # True when re-runs of the queue back the answer (the change places them, or none does)
    vacancy_id: str | None = None
    moved: list[str] = field(default_factory=list)  # others the change moves to another home


@dataclass
class _Change:
    kind: str
    key: tuple  # the same change for several young people is re-run once
    what: str  # "One more bed at home P3 (vacancy V3)": the sentence ends "would place them"
    vacancy_id: str | None
    # -> (instance, policy, eligibility) of the re-run
    apply: Callable[[], tuple[Instance, Policy, object]]
    accept: Callable[[MatchResult], bool] = lambda after: True  # an extra check on the re-run
    frees: str | None = None  # the young person whose lock the change lifts (free to move)
    # The pair it would place them in (scored) and the side constraints after it: with them a
    # quick reading says whether it could place them with everyone else held, before any
    # re-run (``_Finder.held_possible``). None: not known without a re-run.
    row: pd.Series | None = None
    side_after: Callable[[Side], Side] | None = None


@dataclass
class _Eligibility:
    """The run's eligible pairs with one more (what the engine takes as ``eligibility``)."""

    pairs: pd.DataFrame
    funnel: pd.DataFrame
    seconds: float = 0.0


def nearest_misses(result: MatchResult, instance: Instance, policy: Policy, *,
                   pairs: pd.DataFrame | None = None, check: bool = True) -> dict[str, NearestMiss]:
    """The nearest miss of every young person ``result`` leaves unplaced. ``pairs``: the run's
    scored pairs (the engine keeps them as ``result.scored``); ``check=False`` reports the
    nearest candidates without re-running (as for a baseline, which the engine would not
    reproduce)."""
    if not result.unplaced:
        return {}
    return _Finder(result, instance, policy, pairs, check).all()


class _Finder:
    def __init__(self, result: MatchResult, instance: Instance, policy: Policy, pairs, check: bool):
        self.result, self.instance, self.policy = result, instance, policy
        self.side: Side = side_data(instance, policy)
        self.checkable = (check and result.pair_count <= CHECK_PAIRS
                          and not str(result.status).startswith("BASELINE"))
        self.reruns = self.free_reruns = self.rerun_pairs = 0
        self.cache: dict[tuple, MatchResult | None] = {}
        self.near_cache: dict[str, set[str]] = {}
        matches = result.matches
        self.taken = Counter(matches["vacancy_id"].astype(str)) if len(matches) else Counter()
        self.living: dict[str, list[tuple[str, str]]] = {}
        for q, home, tier in zip(matches["referral_id"].astype(str), matches["property_id"].astype(str),
                                 matches["tier"].astype(str), strict=True):
            self.living.setdefault(home, []).append((q, tier))
        self.spent_pence = int(constraints.pence(matches["weekly_cost"]).sum()) if len(matches) else 0
        self.hours_given = Counter()  # support package -> hours a week the proposal gives there
        for v, tier in (matches[["vacancy_id", "tier"]].itertuples(index=False) if len(matches) else ()):
            if str(v) in self.side.hours:
                self.hours_given[str(v)] += self.side.hours_needed.get(str(tier), 0)
        self.before = _placements(result.matches)
        unplaced = set(result.unplaced)
        self.options = _own_options(result, pairs, unplaced, policy)
        self.ruled_out = _side_excluded(result, unplaced)
        self.holders = _holders(result.matches, self.side)
        self.one_rule = _one_rule_away(instance, policy, sorted(unplaced))
        self.urgency = dict(zip(instance.referrals["referral_id"].astype(str),
                                instance.referrals["urgency"].astype(str), strict=True))

    def all(self) -> dict[str, NearestMiss]:
        # The most urgent first: they get the run's re-runs before the rest.
        order = {"today": 0, "within_5_days": 1, "over_5_days": 2}
        people = sorted(self.result.unplaced, key=lambda r: (order.get(self.urgency.get(r), 3), r))
        found = {r: self.one(r) for r in people}
        return {r: found[r] for r in sorted(found)}

    # --- one young person ----------------------------------------------------------------------

    def one(self, rid: str) -> NearestMiss:
        changes, blockers = self.candidates(rid)
        if not changes:
            return NearestMiss(rid, "none", _nothing(blockers, self._rules_in_the_way(rid)), checked=False)
        if not self.checkable:
            return _unchecked(rid, changes[0])
        nearest = changes[:MAX_CHECKS_PER_PERSON]
        tried: list[_Change] = []
        # First with everyone else held where the proposal puts them (only the changes whose
        # pair could join it so): the first that places them moves nobody. Then with only those
        # near the home free to move (the young people placed there, and those placed where
        # they could go instead), then with everyone free: the first that places them without
        # anyone losing a placement.
        for mode in HOLD_MODES:
            for change in nearest:
                if mode == "held" and not self.held_possible(rid, change):
                    continue
                if mode == "near" and not self.movable(change):
                    continue
                after = self.rerun(rid, change, mode)
                if after is _NOT_RUN:
                    continue
                if change not in tried:
                    tried.append(change)
                moved = self.places(rid, after, change)
                if moved is not None:
                    return NearestMiss(rid, change.kind, _placed_words(change, moved), checked=True,
                                       vacancy_id=change.vacancy_id, moved=moved)
        if not tried:  # the run's re-runs were spent before their turn
            return _unchecked(rid, changes[0])
        return NearestMiss(rid, "none", _none_checked(tried, blockers), checked=True)

    def held_possible(self, rid: str, change: _Change) -> bool:
        """Whether the change's pair could join the proposal with everyone else where they are:
        a quick filter before a re-run (which decides), reading only what the pair touches (a
        bed at its vacancy, its home's intensive places and residents' risks, the weekly
        total, the bans), since the proposal itself breaks nothing."""
        if change.row is None or any(rid in m for m in self.side.sibling_groups.values()):
            return True  # a lock lifted, or a sibling group (placed together): the re-run decides
        side = change.side_after(self.side) if change.side_after else self.side
        row = change.row
        v, home, tier = str(row["vacancy_id"]), str(row["property_id"]), str(row["tier"])
        if (rid, v) in side.bans or self.taken.get(v, 0) + 1 > side.beds.get(v, 0):
            return False
        if v in side.hours and self.hours_given.get(v, 0) + side.hours_needed.get(tier, 0) > side.hours[v]:
            return False
        living = self.living.get(home, [])
        if home in side.shared:
            intensive_here = side.intensive_residents.get(home, 0) + sum(t == "intensive" for _, t in living)
            if side.intensive_cap is not None and tier == "intensive" and intensive_here + 1 > side.intensive_cap:
                return False
            mine = side.risks.get(rid, frozenset())
            others = [*side.resident_risks.get(home, ()), *(side.risks.get(q, frozenset()) for q, _ in living)]
            if any(side.clash(mine, theirs) for theirs in others):
                return False
        if side.budget_pence is not None:
            return self.spent_pence + int(constraints.pence(pd.Series([row["weekly_cost"]]))[0]) <= side.budget_pence
        return True

    def scored_pair(self, rid: str, v: str) -> pd.Series | None:
        pairs = self.result.eligibility.pairs
        at = pairs[(pairs["referral_id"].astype(str) == rid) & (pairs["vacancy_id"].astype(str) == v)]
        return score(at, self.policy).iloc[0] if len(at) else None

    def places(self, rid: str, after: MatchResult | None, change: _Change) -> list[str] | None:
        """The others the change moves, if the re-run places ``rid`` and keeps everyone placed
        before placed; None when it does not."""
        if after is None or not change.accept(after):
            return None
        now = _placements(after.matches)
        if rid not in now or any(r not in now for r in self.before):
            return None
        return sorted(r for r, v in self.before.items() if now[r] != v)

    def movable(self, change: _Change) -> set[str]:
        """Who may move in a "near" re-run: the young people placed at the change's home, and
        those placed in the full vacancies those could go to instead."""
        if change.vacancy_id is None:
            return set()
        if change.vacancy_id in self.near_cache:
            return self.near_cache[change.vacancy_id]
        found = self._movable(change.vacancy_id)
        self.near_cache[change.vacancy_id] = found
        return found

    def _movable(self, vacancy_id: str) -> set[str]:
        home = self.side.property_of.get(vacancy_id)
        matches = self.result.matches
        here = set(matches.loc[matches["property_id"].astype(str) == home, "referral_id"].astype(str))
        if not here:
            return set()
        pairs = self.result.scored if self.result.scored is not None else self.result.eligibility.pairs
        theirs = pairs.loc[pairs["referral_id"].isin(sorted(here)), "vacancy_id"].astype(str)
        return here | {q for v in set(theirs) for q in self.holders.get(v, ())}

    def rerun(self, rid: str, change: _Change, mode: str):
        """The queue re-run with the change: everyone placed locked where they are but for the
        one whose lock the change lifts ("held"), or but for those near the home too ("near"),
        with the other young people left unplaced left out (they stay unplaced); or the whole
        queue with nobody locked ("free"). None when no proposal honours it."""
        key = (*change.key, mode) if mode == "free" else (*change.key, mode, rid)
        if key in self.cache:
            return self.cache[key]
        if mode == "free" and (self.result.pair_count > FREE_CHECK_PAIRS
                               or self.free_reruns >= MAX_FREE_RERUNS_PER_RUN):
            return _NOT_RUN
        if self.reruns >= MAX_RERUNS_PER_RUN:
            return _NOT_RUN
        instance, policy, eligibility = change.apply()
        if mode != "free":
            instance, eligibility = self._held(rid, change, instance, eligibility, near=mode == "near")
        if self.rerun_pairs + len(eligibility.pairs) > MAX_RERUN_PAIRS:
            return _NOT_RUN
        self.reruns += 1
        self.free_reruns += mode == "free"
        self.rerun_pairs += len(eligibility.pairs)
        limit = min(self.policy.solver.time_limit_seconds, CHECK_TIME_LIMIT)
        try:
            after = match(instance, policy, eligibility=eligibility, time_limit=limit, practice=False)
        except MatchError:
            after = None
        self.cache[key] = after
        return after

    def _held(self, rid: str, change: _Change, instance: Instance, eligibility, *, near: bool):
        """The queue with everyone placed held where they are (a lock, and only that pair) but
        for those free to move: ``rid`` and their sibling group, the one whose lock the change
        lifts, and (``near``) those placed near the change's home."""
        group = next((m for m in self.side.sibling_groups.values() if rid in m), ())
        free = {rid, *group, *({change.frees} - {None}), *(self.movable(change) if near else ())}
        held = {r: v for r, v in self.before.items() if r not in free}
        people = free | set(held)
        referrals = instance.referrals[instance.referrals["referral_id"].astype(str).isin(people)]
        locks = [(str(r), str(v)) for r, v in instance.locks if str(r) in free] + list(held.items())
        pairs = eligibility.pairs
        keep = [r in free or held.get(r) == v
                for r, v in zip(pairs["referral_id"].astype(str), pairs["vacancy_id"].astype(str), strict=True)]
        instance = dataclasses.replace(instance, referrals=referrals, locks=locks)
        return instance, _Eligibility(pairs[keep].reset_index(drop=True), getattr(eligibility, "funnel", None))

    # --- candidate changes -----------------------------------------------------------------------

    def candidates(self, rid: str) -> tuple[list[_Change], list[str]]:
        """The changes to check for ``rid``, nearest first (bed, rule, panel, side constraint),
        and in words what stands in the way that no change here may touch."""
        beds, panel, sides, blockers = [], [], [], []
        options = self.options.get(rid)
        if options is not None and len(options):
            full = options[options["vacancy_id"].map(lambda v: v in self.holders)]
            if len(full):
                best = full.iloc[0]
                v, p = str(best["vacancy_id"]), str(best["property_id"])
                beds.append(self._bed(v, p, best))
                for q in self.holders[v]:
                    if (q, v) in set(self.side.locks):
                        panel.append(self._lift_lock(q, v, p))
            free = options[options["vacancy_id"].map(lambda v: v not in self.holders)]
            if len(free):
                change, why = self._what_stops(rid, free.iloc[0])
                if change is not None:
                    sides.append(change)
                blockers += why
        for row in self.ruled_out.get(rid, []):
            reason, v, p = row
            if reason == "intensive_cap_full" and not any(c.key == ("intensive", p) for c in sides):
                sides.append(self._intensive(p, v, self.scored_pair(rid, v)))
            elif reason in SAFEGUARDS:
                blockers.append(_safeguard_words(reason, p, rid, self.side))
        rules = []
        for item in self.one_rule.get(rid, []):
            if item["rule"] == "banned_by_panel":
                panel.insert(0, self._lift_ban(rid, item))
            else:
                rules.append(self._rule(rid, item))
        return [*beds, *rules, *panel, *sides], list(dict.fromkeys(blockers))

    def _bed(self, v: str, p: str, option: pd.Series) -> _Change:
        def apply():
            vacancies = self.instance.vacancies.copy()
            at = vacancies["vacancy_id"].astype(str) == v
            vacancies.loc[at, "beds"] = vacancies.loc[at, "beds"] + 1
            return dataclasses.replace(self.instance, vacancies=vacancies), self.policy, self.result.eligibility

        held = " and ".join(self.holders[v])
        return _Change("bed", ("bed", v), f"One more bed at home {p} (vacancy {v}, now taken by {held})", v, apply,
                       row=option, side_after=lambda side: dataclasses.replace(
                           side, beds={**side.beds, v: side.beds.get(v, 0) + 1}))

    def _lift_lock(self, q: str, v: str, p: str) -> _Change:
        def apply():
            locks = [lock for lock in self.instance.locks if tuple(map(str, lock)) != (q, v)]
            return dataclasses.replace(self.instance, locks=locks), self.policy, self.result.eligibility

        return _Change("panel", ("lock", q, v), f"Lifting the panel's lock of {q} on vacancy {v} (home {p})", v,
                       apply, frees=q)

    def _with_pair(self, row: pd.DataFrame) -> _Eligibility:
        eligibility = self.result.eligibility
        columns = list(eligibility.pairs.columns)
        added = row.reindex(columns=columns)
        pairs = pd.concat([eligibility.pairs, added], ignore_index=True)
        return _Eligibility(pairs, getattr(eligibility, "funnel", pd.DataFrame()))

    def _lift_ban(self, rid: str, item: dict) -> _Change:
        v, p = item["vacancy_id"], item["property_id"]

        def apply():
            bans = [ban for ban in self.instance.bans if tuple(map(str, ban)) != (rid, v)]
            return (dataclasses.replace(self.instance, bans=bans), self.policy, self._with_pair(item["row"]))

        return _Change("panel", ("ban", rid, v), f"Lifting the panel's ban on vacancy {v} (home {p}) for them", v, apply,
                       row=item["scored"], side_after=lambda side: dataclasses.replace(side, bans=side.bans - {(rid, v)}))

    def _rule(self, rid: str, item: dict) -> _Change:
        v = item["vacancy_id"]

        def apply():
            return self.instance, self.policy, self._with_pair(item["row"])

        return _Change("rule", ("pair", rid, v), _rule_words(item, self.policy), v, apply, row=item["scored"])

    def _intensive(self, p: str, v: str, option: pd.Series | None) -> _Change:
        """Room for one more young person at the intensive tier at home ``p``: one resident at
        that tier counted as not (exactly the home's own cap one higher), or, where none lives
        there, the cap one higher with a check that only this home uses it."""
        cap = self.side.intensive_cap
        residents = self.instance.residents
        living = (residents["property_id"].astype(str) == p) & (residents["tier"].astype(str) == "intensive")

        def apply():
            if living.any():
                changed = residents.copy()
                changed.loc[changed.index[living.to_numpy()][0], "tier"] = None
                return dataclasses.replace(self.instance, residents=changed), self.policy, self.result.eligibility
            more = self.policy.model_copy(update={"max_intensive_per_shared_home": cap + 1})
            return self.instance, more, self.result.eligibility

        def only_here(after: MatchResult) -> bool:
            counted = after.matches[(after.matches["tier"].astype(str) == "intensive")
                                    & after.matches["property_id"].astype(str).isin(self.side.shared)]
            per_home = Counter(counted["property_id"].astype(str))
            for home, n in per_home.items():
                room = max(0, cap - self.side.intensive_residents.get(home, 0))
                if n > room + (1 if home == p else 0):
                    return False
            return True

        def side_after(side: Side) -> Side:
            if living.any():
                return dataclasses.replace(side, intensive_residents={
                    **side.intensive_residents, p: side.intensive_residents.get(p, 0) - 1})
            return dataclasses.replace(side, intensive_cap=cap + 1)

        return _Change("side constraint", ("intensive", p),
                       f"Room for one more young person needing intensive support at home {p} "
                       f"(its limit of {cap} is reached)", v, apply, only_here, row=option, side_after=side_after)

    def _budget(self, more_pounds: int, option: pd.Series) -> _Change:
        cap = int(self.policy.weekly_budget_cap)

        def apply():
            return self.instance, self.policy.model_copy(update={"weekly_budget_cap": cap + more_pounds}), \
                self.result.eligibility

        return _Change("side constraint", ("budget", more_pounds),
                       f"Raising the weekly budget cap by £{more_pounds:,} (to £{cap + more_pounds:,})",
                       str(option["vacancy_id"]), apply, row=option, side_after=lambda side: dataclasses.replace(
                           side, budget_pence=side.budget_pence + 100 * more_pounds))

    def _what_stops(self, rid: str, option: pd.Series) -> tuple[_Change | None, list[str]]:
        """Why a free option of theirs was not used: the side constraint it would break given
        the others' placements (a change when it is one a panel may make)."""
        p, v = str(option["property_id"]), str(option["vacancy_id"])
        blockers = []
        placed_here = self.result.matches[self.result.matches["property_id"].astype(str) == p]
        if p in self.side.shared:
            mine = self.side.risks.get(rid, frozenset())
            if any(self.side.clash(mine, self.side.risks.get(str(q), frozenset())) for q in placed_here["referral_id"]):
                blockers.append(f"at home {p} they would share with a young person whose risks clash with theirs, "
                                "a safeguard that is not set aside")
        group = next((g for g, members in self.side.sibling_groups.items() if rid in members), None)
        if group is not None:
            blockers.append(f"their sibling group ({' and '.join(self.side.sibling_groups[group])}) must be placed "
                            "together")
        cap = self.side.intensive_cap
        if cap is not None and str(option["tier"]) == "intensive" and p in self.side.shared:
            taken = self.side.intensive_residents.get(p, 0) + int((placed_here["tier"].astype(str) == "intensive").sum())
            if taken + 1 > cap:
                return self._intensive(p, v, option), blockers
        if self.side.budget_pence is not None and not blockers:
            spent = int(np.floor(pd.to_numeric(self.result.matches["weekly_cost"]).to_numpy(float) * 100 + 0.5).sum()) \
                if len(self.result.matches) else 0
            over = spent + math.floor(float(option["weekly_cost"]) * 100 + 0.5) - self.side.budget_pence
            if over > 0:
                return self._budget(math.ceil(over / 100), option), blockers
        return None, blockers

    def _rules_in_the_way(self, rid: str) -> list[str]:
        """The hard rules that removed most of their homes (for "no single change")."""
        funnel = getattr(self.result.eligibility, "funnel", None)
        if funnel is None or rid not in getattr(funnel, "index", ()):
            return []
        row = funnel.loc[rid]
        counts = {c: int(row[c]) for c in row.index if c not in ("considered", "eligible") and int(row[c]) > 0}
        return sorted(counts, key=lambda c: -counts[c])[:2]


_NOT_RUN = object()  # the run's re-runs are spent


# --- the run's own facts, per young person left unplaced ------------------------------------------


def _placements(matches: pd.DataFrame) -> dict[str, str]:
    if not len(matches):
        return {}
    return dict(zip(matches["referral_id"].astype(str), matches["vacancy_id"].astype(str), strict=True))


def _policy_order(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    if policy.mode == "weighted":
        return frame.sort_values(["pounds", "vacancy_id"], kind="stable")
    return frame.sort_values(["reward", "penalty", "cost", "vacancy_id"], ascending=[False, True, True, True],
                             kind="stable")


def _own_options(result: MatchResult, pairs: pd.DataFrame | None, unplaced: set[str],
                 policy: Policy) -> dict[str, pd.DataFrame]:
    """Each unplaced young person's options no side constraint ruled out, scored, in the
    policy's order (only their own pairs are read and sorted)."""
    if pairs is None:
        pairs = getattr(result, "scored", None)
    if pairs is None:
        pairs = result.eligibility.pairs
    mine = pairs[pairs["referral_id"].isin(sorted(unplaced))] if len(pairs) else pairs
    if not len(mine):
        return {}
    mine = mine.copy()
    for column in ("referral_id", "vacancy_id", "property_id", "tier"):
        mine[column] = mine[column].astype(str)
    if not set(SCORE_COLUMNS) <= set(mine.columns):
        mine = score(mine, policy)
    out_pairs = result.side_excluded
    if len(out_pairs):
        ruled = set(zip(out_pairs["referral_id"].astype(str), out_pairs["vacancy_id"].astype(str), strict=True))
        keep = [(r, v) not in ruled for r, v in zip(mine["referral_id"], mine["vacancy_id"], strict=True)]
        mine = mine[keep]
    return {str(r): _policy_order(g, policy) for r, g in mine.groupby("referral_id", sort=True)}


def _side_excluded(result: MatchResult, unplaced: set[str]) -> dict[str, list[tuple[str, str, str]]]:
    """(reason, vacancy, home) of each of their pairs a side constraint ruled out on its own."""
    side = result.side_excluded
    if not len(side):
        return {}
    mine = side[side["referral_id"].astype(str).isin(unplaced)]
    if not len(mine):
        return {}
    homes = {}
    pairs = result.eligibility.pairs
    if len(pairs):
        at = pairs[pairs["referral_id"].isin(sorted(unplaced))]
        homes = dict(zip(at["vacancy_id"].astype(str), at["property_id"].astype(str), strict=True))
    out: dict[str, list[tuple[str, str, str]]] = {}
    for r, v, why in mine[["referral_id", "vacancy_id", "reason"]].astype(str).itertuples(index=False):
        out.setdefault(r, []).append((why, v, homes.get(v, v)))
    return out


def _holders(matches: pd.DataFrame, side: Side) -> dict[str, list[str]]:
    """The vacancies the proposal fills, with who holds their beds."""
    if not len(matches):
        return {}
    taken: dict[str, list[str]] = {}
    for r, v in zip(matches["referral_id"].astype(str), matches["vacancy_id"].astype(str), strict=True):
        taken.setdefault(v, []).append(r)
    return {v: sorted(rs) for v, rs in taken.items() if len(rs) >= side.beds.get(v, 0)}


def _one_rule_away(instance: Instance, policy: Policy, referral_ids: list[str]) -> dict[str, list[dict]]:
    """For each young person, the homes exactly one hard rule removed, where that rule is
    relaxable or the panel's ban: the nearest home per rule (fewest miles over the limit,
    fewest days late, fewest tiers short; the ban on the best scored home), as pair rows the
    engine can take. The rules are judged for these young people only, against every vacancy,
    in chunks."""
    from matching.eligibility import MAX_PAIRS_PER_CHUNK, pair_facts
    from matching.pairs import TIER_CODES, Pairs, compile_tables
    from matching.rules import RULE_FUNCTIONS, RULES, evaluate

    if not referral_ids or not len(instance.vacancies):
        return {}
    t = compile_tables(instance, policy)
    index = {str(rid): i for i, rid in enumerate(t.ref.ids)}
    refs = np.array(sorted(index[r] for r in referral_ids if r in index), dtype=np.int64)
    if not len(refs):
        return {}
    vacs = np.arange(t.n_vacancies, dtype=np.int64)
    wanted = [c for c in RULES if c in RELAXABLE or c == "banned_by_panel"]
    offered = np.where(np.isnan(t.vac.prices), -1, np.arange(t.vac.prices.shape[1])[None, :]).max(axis=1)
    cap = policy.distance_cap_miles
    found: dict[tuple[int, str], list[tuple[float, int]]] = {}  # (referral, rule) -> nearest (amount, vacancy)
    bans: list[tuple[int, int]] = []
    step = max(1, MAX_PAIRS_PER_CHUNK // max(1, len(vacs)))
    for i in range(0, len(refs), step):
        p = Pairs.grid(t, refs[i:i + step], vacs)
        count = np.zeros(p.shape, dtype=np.int8)
        which = np.full(p.shape, -1, dtype=np.int8)
        for k, rule in enumerate(RULE_FUNCTIONS.values()):
            hit = evaluate(rule, p)
            count += hit
            which = np.where(hit, np.int8(k), which)
        for code in wanted:
            alone = (count == 1) & (which == RULES.index(code))
            if not alone.any():
                continue
            rows, cols = np.nonzero(alone)
            r, v = p.r[rows, 0], p.v[0, cols]
            if code == "banned_by_panel":
                bans += list(zip(r.tolist(), v.tolist()))
                continue
            if code == "beyond_distance_cap":
                amount = np.asarray(p.miles_from_home)[rows, cols] - cap
            elif code == "not_available_in_time":
                amount = (t.vac.available[v] - t.ref.deadline[r]).astype(float)
            else:  # tier_not_offered: how many tiers short; a home offering nothing is no candidate
                amount = (t.ref.need_rank[r] - offered[v]).astype(float)
                amount[offered[v] < 0] = np.nan
            known = ~np.isnan(amount)
            r, v, amount = r[known], v[known], amount[known]
            # The nearest few per young person: their own pairs in order of amount, then vacancy.
            order = np.lexsort((v, amount, r))
            r, v, amount = r[order], v[order], amount[order]
            first = np.r_[0, np.flatnonzero(r[1:] != r[:-1]) + 1] if len(r) else np.zeros(0, dtype=np.int64)
            rank = np.arange(len(r)) - np.repeat(first, np.diff(np.r_[first, len(r)]))
            near = rank < MAX_CHECKS_PER_PERSON
            for a, rr, vv in zip(amount[near].tolist(), r[near].tolist(), v[near].tolist()):
                found.setdefault((rr, code), []).append((a, vv))
    asked = [(str(t.ref.ids[r]), str(t.vac.ids[v]), code, a)
             for (r, code), nearest in found.items() for a, v in nearest]
    asked += [(str(t.ref.ids[r]), str(t.vac.ids[v]), "banned_by_panel", 0.0) for r, v in bans]
    if not asked:
        return {}
    facts = pair_facts(instance, policy, [(r, v) for r, v, _, _ in asked]).reset_index(drop=True)
    for column in ("referral_id", "vacancy_id", "property_id", "tier", "need_tier"):
        facts[column] = facts[column].astype(object).where(facts[column].notna(), None)
        facts[column] = facts[column].map(lambda x: None if x is None else str(x))
    r_at = np.array([index[rid] for rid, _, _, _ in asked], dtype=np.int64)
    vac_at = {str(vid): k for k, vid in enumerate(t.vac.ids)}
    v_at = np.array([vac_at[vid] for _, vid, _, _ in asked], dtype=np.int64)
    codes = np.array([code for _, _, code, _ in asked], dtype=object)
    short = codes == "tier_not_offered"
    if short.any():
        # As if the home offered the tier needed, at the price of the most it offers now (a
        # stand-in: the provider's price for the tier needed is to be agreed).
        facts.loc[short, "tier"] = [TIER_CODES[k] for k in t.ref.need_rank[r_at[short]]]
        facts.loc[short, "over_provision"] = 0
        facts.loc[short, "weekly_cost"] = t.vac.prices[v_at[short], offered[v_at[short]]]
    scored = score(facts, policy)
    # A pair a side constraint rules out on its own (a resident's risks, a full intensive cap)
    # would not place them: not a candidate.
    side = side_data(instance, policy)
    ruled = ((coresidency.excluded(scored, side) != "") | (intensive.excluded(scored, side) != "")).to_numpy()
    order = {code: k for k, code in enumerate(("beyond_distance_cap", "not_available_in_time", "tier_not_offered"))}
    rules: dict[str, list[int]] = {}
    banned: dict[str, list[int]] = {}
    for k, (rid, _, code, _) in enumerate(asked):
        if not ruled[k]:
            (banned if code == "banned_by_panel" else rules).setdefault(rid, []).append(k)

    def item(k: int) -> dict:
        _, vid, code, amount = asked[k]
        v, r = v_at[k], r_at[k]
        out = {"vacancy_id": vid, "property_id": str(facts.at[k, "property_id"]), "rule": code, "amount": amount,
               "miles": float(facts.at[k, "miles_from_home"]), "available": _day(t.vac.available[v]),
               "deadline": _day(t.ref.deadline[r]), "need": TIER_CODES[t.ref.need_rank[r]],
               "row": facts.iloc[[k]], "scored": scored.iloc[k]}
        if code == "tier_not_offered":
            out["offered"] = TIER_CODES[offered[v]]
        return out

    result: dict[str, list[dict]] = {}
    for rid, ks in rules.items():
        # The nearest of each rule first (distance, then time, then tier), then the next of each.
        ks = sorted(ks, key=lambda k: (order[asked[k][2]], asked[k][3], asked[k][1]))
        rank = Counter()
        ranked = []
        for k in ks:
            ranked.append((rank[asked[k][2]], order[asked[k][2]], asked[k][3], k))
            rank[asked[k][2]] += 1
        result[rid] = [item(k) for *_, k in sorted(ranked)[:MAX_CHECKS_PER_PERSON]]
    for rid, ks in banned.items():  # the ban on the home they would score best at
        best = _policy_order(scored.iloc[ks], policy).index[0]
        result.setdefault(rid, []).insert(0, item(int(best)))
    return result


def _day(days: int):
    return pd.Timestamp(np.datetime64(int(days), "D"))


# --- words ----------------------------------------------------------------------------------------


def _date(value) -> str:
    day = pd.Timestamp(value)
    return f"{day.day} {day:%B %Y}"


def _rule_words(item: dict, policy: Policy) -> str:
    v, p, rule = item["vacancy_id"], item["property_id"], item["rule"]
    if rule == "beyond_distance_cap":
        over = round(item["miles"] - float(policy.distance_cap_miles), 1)
        return (f"Allowing home {p} (vacancy {v}), {item['miles']:.1f} miles from home and {over:.1f} miles beyond "
                f"the {policy.distance_cap_miles:g}-mile distance limit,")
    if rule == "not_available_in_time":
        days = int(item["amount"])
        return (f"Waiting {days} day{'s' if days != 1 else ''} for vacancy {v} at home {p} (free on "
                f"{_date(item['available'])}; they need a bed by {_date(item['deadline'])})")
    return f"Home {p} (vacancy {v}) offering {item['need']} support (it offers up to {item['offered']})"


def _placed_words(change: _Change, moved: list[str]) -> str:
    if not moved:
        return f"{change.what} would place them, and no one else would move"
    who = " and ".join(moved) if len(moved) <= 3 else f"{', '.join(moved[:3])} and {len(moved) - 3} more"
    return f"{change.what} would place them; {who} would move to another home, and no one would lose a placement"


def _safeguard_words(reason: str, p: str, rid: str, side: Side) -> str:
    if reason == "sibling_no_common_property":
        group = next((m for m in side.sibling_groups.values() if rid in m), ())
        return f"no home can take their sibling group ({' and '.join(group)}) together" if group \
            else SAFEGUARDS[reason]
    return f"at home {p} {SAFEGUARDS[reason]}, a safeguard that is not set aside"


def _nothing(blockers: list[str], rules: list[str]) -> str:
    from matching.explain import words

    parts = list(blockers)
    if rules:
        parts.append("no home is kept from them by one rule alone that a panel may set aside (most are ruled "
                     "out by: " + "; ".join(words(r) for r in rules) + ")")
    return "No single change would place them" + (": " + "; ".join(parts) if parts else "")


def _unchecked(rid: str, change: _Change) -> NearestMiss:
    return NearestMiss(rid, change.kind, f"{change.what} could place them", checked=False,
                       vacancy_id=change.vacancy_id)


def _none_checked(tried: list[_Change], blockers: list[str]) -> str:
    what = "; ".join(c.what.rstrip(",")[:1].lower() + c.what.rstrip(",")[1:] for c in tried)
    text = f"No single change would place them: re-running the queue with each of the nearest ({what}) did not"
    return text + ("; " + "; ".join(blockers) if blockers else "")
