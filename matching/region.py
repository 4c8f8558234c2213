"""A region's run: every member council's queue matched at once against the shared market, with
a guarantee to each council.

Each member comes with its own queue, the market it may use (its own vacancies and the region's)
and its own policy (distance cap, grade rule, ...): its young people's eligible pairs are
worked out under that policy and that council's area, so a home "out of area" for Medway may
be in Kent's. The pairs of every council then go into one model, where the beds are shared.

The guarantee is individual rationality, as multi-hospital kidney exchange gives each hospital:
no member places fewer of its young people (weighted by urgency: the "placed" measure) than it
would matching alone on its own share of the market. A council's own share is its own vacancies
and the region's vacancies in its own area; shares do not overlap, so the members' own
proposals together are always a proposal the region could make, and the floors can always be
met together. Each floor comes from the council's own run (:func:`own_runs`). The region's run
is made first without them: its best proposal usually keeps every council's floor anyway, and
is then also the best proposal that does. Only when it would leave a council short are the
floors added as constraints (:mod:`matching.constraints.councils`) and the region solved again.
What the region gained is its placements against the sum of the members' own.

If the region's run cannot meet a floor in its time (or the panel's locks and bans make it
impossible), the members' own proposals are the answer when they are still a proposal the
region may make; otherwise :class:`GuaranteeUnmet` names the council and why.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import pandas as pd

from matching import constraints, measures
from matching.constraints.councils import council_name
from matching.eligibility import Eligibility, eligible_pairs
from matching.engine import FULL_MODEL_PAIRS, MatchError, MatchResult, improve, match
from matching.instance import Instance
from matching.policy import Policy
from providers.authorities import default_authorities


class GuaranteeUnmet(MatchError):
    """A member council would place fewer of its young people in the region's run than alone."""


@dataclass(frozen=True)
class Member:
    """One member council: its queue and the market it may use (``instance``), its policy, and
    which of those vacancies are its own (the rest are the region's)."""

    council: str
    instance: Instance
    policy: Policy
    own_vacancies: frozenset[str] = frozenset()


@dataclass
class RegionResult:
    result: MatchResult  # the region's proposal (every council's young people)
    floors: dict[str, int]  # each council's urgency-weighted placements matching alone
    placed: dict[str, int]  # the same measure in the region's proposal
    placed_people: dict[str, int]  # young people placed, per council, in the region's proposal
    alone_people: dict[str, int]  # young people placed, per council, matching alone
    own: dict[str, MatchResult]  # each council's own run on its own share
    kept_own: bool = False  # True: the region's run found nothing better, the members' own runs stand
    unguarded_people: int = 0  # young people the region's run places with no guarantee to anyone
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gain(self) -> int:
        """Young people the region places beyond the sum of the members' own runs."""
        return sum(self.placed_people.values()) - sum(self.alone_people.values())

    def part(self, member: Member) -> MatchResult:
        """The region's proposal for one member's young people, as a run of its own (each
        council's panel decides its own proposals)."""
        mine = set(member.instance.referrals["referral_id"].astype(str))
        r = self.result
        pairs = r.eligibility.pairs
        eligibility = Eligibility(pairs=pairs[pairs["referral_id"].astype(str).isin(mine)].reset_index(drop=True),
                                  funnel=r.eligibility.funnel.loc[[i for i in r.eligibility.funnel.index
                                                                   if str(i) in mine]],
                                  seconds=r.eligibility.seconds)
        side = r.side_excluded
        return dataclasses.replace(
            r, matches=r.matches[r.matches["referral_id"].astype(str).isin(mine)].reset_index(drop=True),
            unplaced=[u for u in r.unplaced if str(u) in mine], eligibility=eligibility,
            side_excluded=side[side["referral_id"].astype(str).isin(mine)].reset_index(drop=True) if len(side) else side,
            pair_count=len(eligibility.pairs))


def left_for(member: Member, out: RegionResult, members: list[Member]) -> Instance:
    """The member's market as the region's proposal leaves it to the member's own young people:
    the beds (and floating support hours) the other councils' proposals take are taken, and the
    young people proposed into a home live there (their tier and risks). Explaining a council's
    part against it, each nearest miss is checked against what is really left, as in a
    council's own run (matching.nearest_miss)."""
    from matching.instance import RESIDENT_COLUMNS, SUPPORT_HOURS, risk_tokens

    mine = set(member.instance.referrals["referral_id"].astype(str))
    matches = out.result.matches
    others = matches[~matches["referral_id"].astype(str).isin(mine)] if len(matches) else matches
    if not len(others):
        return member.instance
    taken = others["vacancy_id"].astype(str).value_counts()
    vacancies = member.instance.vacancies.copy()
    ids = vacancies["vacancy_id"].astype(str)
    vacancies["beds"] = (vacancies["beds"] - ids.map(taken).fillna(0)).clip(lower=0).astype(int)
    # A floating support package holds hours, not beds: each newcomer takes their tier's hours.
    hours = others["tier"].astype(str).map(member.policy.hours_needed)
    used = hours.groupby(others["vacancy_id"].astype(str)).sum()
    left = (vacancies[SUPPORT_HOURS] - ids.map(used).fillna(0)).clip(lower=0).astype(int)
    vacancies[SUPPORT_HOURS] = left.where(vacancies[SUPPORT_HOURS] > 0, 0)
    people = pd.concat([m.instance.referrals for m in members if m is not member]).drop_duplicates("referral_id")
    risks = {str(r): sorted(risk_tokens(s, o)) for r, s, o in
             zip(people["referral_id"], people["risks_to_self"], people["risks_to_others"], strict=True)}
    newcomers = pd.DataFrame({"property_id": others["property_id"].astype(str).to_numpy(),
                              "tier": others["tier"].astype(str).to_numpy(),
                              "risks": [risks.get(str(r), []) for r in others["referral_id"]]},
                             columns=RESIDENT_COLUMNS)
    residents = pd.concat([member.instance.residents, newcomers], ignore_index=True)
    return dataclasses.replace(member.instance, vacancies=vacancies, residents=residents)


def own_share(member: Member) -> Instance:
    """The member's queue with only its own share of the market: its own vacancies and the
    region's vacancies in its own area (a home's area is its upper-tier authority)."""
    authorities = default_authorities()
    vac = member.instance.vacancies
    ids = vac["vacancy_id"].astype(str)
    in_area = vac["la_code"].map(lambda la: _upper(authorities, la) == member.council)
    mine = ids.isin(member.own_vacancies) | in_area.astype(bool)
    return _with_vacancies(member.instance, vac[mine.to_numpy()])


def _upper(authorities, la_code) -> str | None:
    try:
        return authorities.upper_tier(str(la_code))
    except (KeyError, ValueError):
        return None


def _with_vacancies(instance: Instance, vacancies: pd.DataFrame) -> Instance:
    kept = set(vacancies["vacancy_id"].astype(str))
    return Instance(
        panel_date=instance.panel_date, placing_authority=instance.placing_authority,
        referrals=instance.referrals, vacancies=vacancies.reset_index(drop=True), residents=instance.residents,
        locks=[(r, v) for r, v in instance.locks if v in kept], bans=list(instance.bans),
        answers=instance.answers, provider_answers=instance.provider_answers,
    )


def own_runs(members: list[Member], *, time_limit: float | None = None) -> dict[str, MatchResult]:
    """Each council matching alone on its own share of the market."""
    return {m.council: match(own_share(m), m.policy, time_limit=time_limit) for m in members}


def regional_instance(members: list[Member]) -> tuple[Instance, Eligibility, dict[str, str]]:
    """One instance of every member's queue and the whole market they may use, the eligible
    pairs (each council's young people judged under its own policy and area), and each young
    person's council."""
    started = time.perf_counter()
    first = members[0].instance
    referrals, vacancies, pairs, funnels, owner = [], [], [], [], {}
    locks, bans = [], []
    for m in members:
        ids = m.instance.referrals["referral_id"].astype(str)
        clash = set(ids) & set(owner)
        if clash:
            raise MatchError(f"young person {sorted(clash)[0]} is in two councils' queues ({owner[sorted(clash)[0]]} "
                             f"and {m.council})")
        owner |= dict.fromkeys(ids, m.council)
        # A sibling group is one council's: two councils' groups of the same name are not one.
        queue = m.instance.referrals.copy()
        queue["sibling_group"] = [f"{m.council}:{g}" if isinstance(g, str) and g else g
                                  for g in queue["sibling_group"]]
        referrals.append(queue)
        vacancies.append(m.instance.vacancies)
        judged = eligible_pairs(m.instance, m.policy)
        own_pairs = judged.pairs.copy()
        own_pairs["sibling_group"] = [f"{m.council}:{g}" if isinstance(g, str) and g else g
                                      for g in own_pairs["sibling_group"]]
        pairs.append(own_pairs)
        funnels.append(judged.funnel)
        locks += list(m.instance.locks)
        bans += list(m.instance.bans)
    market = pd.concat(vacancies, ignore_index=True).drop_duplicates("vacancy_id").reset_index(drop=True)
    instance = Instance(
        panel_date=first.panel_date, placing_authority=first.placing_authority,
        referrals=pd.concat(referrals, ignore_index=True), vacancies=market,
        # One picture of who lives where (the database's views of residents), the same for all.
        residents=first.residents, locks=locks, bans=bans,
    )
    all_pairs = pd.concat(pairs, ignore_index=True).sort_values(["referral_id", "vacancy_id"], kind="stable")
    eligibility = Eligibility(pairs=all_pairs.reset_index(drop=True), funnel=pd.concat(funnels),
                              seconds=time.perf_counter() - started)
    return instance, eligibility, owner


def match_region(members: list[Member], policy: Policy, *, time_limit: float | None = None) -> RegionResult:
    """The region's proposal with each member's guarantee held (see the module's words).
    ``policy``: how the region's run weighs its proposals (the members' own policies decide
    who is eligible for what)."""
    if not members:
        raise MatchError("a region's run needs at least one member council")
    started = time.perf_counter()
    own = own_runs(members, time_limit=time_limit)
    t_own = time.perf_counter() - started
    instance, eligibility, owner = regional_instance(members)
    # Each floor in the region's own weighing (the "placed" measure of its scoring).
    floors = {m.council: measures.of(_scored(_pairs_of(eligibility.pairs, own[m.council].matches), policy))["placed"]
              for m in members}
    side = dataclasses.replace(constraints.side_data(instance, policy), council_of=owner,
                               council_floors=tuple(sorted(floors.items())))
    # First without the floors: a region's best proposal usually keeps every council's anyway,
    # and is then the best proposal that does (the floors cut nothing it chose).
    result = unguarded_run = match(instance, policy, eligibility=eligibility, time_limit=time_limit, practice=False)
    unguarded = len(result.matches)
    placed = constraints.councils.placed_by_council(result.matches, side)
    kept_own = False
    short = [c for c, f in floors.items() if placed.get(c, 0) < f]
    # A council left short: on a queue the whole CP-SAT model holds, the floors as constraints
    # (proven where it closes); above it, where that search rarely finds a proposal in time, the
    # short councils' young people weighted up first (the engine's exact machinery each time).
    if short and len(eligibility.pairs) > FULL_MODEL_PAIRS:
        boosted = _with_multipliers(instance, policy, eligibility, owner, floors, side, time_limit, short, unguarded_run)
        if boosted is not None:
            result, short = boosted, []
    if short:
        try:
            result = match(instance, policy, eligibility=eligibility, time_limit=time_limit, practice=False,
                           council_of=owner, council_floors=floors)
        except MatchError as exc:
            if "than matching alone" in str(exc):  # the panel's choices make a floor impossible
                raise GuaranteeUnmet(f"the region's run cannot keep its guarantee to every council: {exc}") from None
            if "time limit" not in str(exc):
                raise  # a lock that breaks a rule, or another refusal of the panel's choices: as it is
            # No proposal with every floor held was found in time: from the councils' own (below).
    placed = constraints.councils.placed_by_council(result.matches, side)
    short = [c for c, f in floors.items() if placed.get(c, 0) < f]
    if short:
        union = pd.concat([_pairs_of(eligibility.pairs, own[m.council].matches) for m in members])
        problems = constraints.breaches(_scored(union, policy), side)
        if problems:
            why = "; ".join(b.detail for b in problems)
            raise GuaranteeUnmet(f"the region's run cannot place as many of {council_name(short[0])}'s young people "
                                 f"as it would alone ({placed.get(short[0], 0)} against {floors[short[0]]}, weighted "
                                 f"by urgency) within its time, and the councils' own proposals together break: {why}")
        # From the councils' own proposals together (every floor kept), improved neighbourhood by
        # neighbourhood with every floor still kept.
        limit = policy.solver.time_limit_seconds if time_limit is None else time_limit
        better = improve(instance, policy, eligibility, union[["referral_id", "vacancy_id"]], time_limit=limit,
                         council_of=owner, council_floors=floors)
        kept_own = len(better) == len(union) and set(better["referral_id"]) == set(union["referral_id"])
        result = _as_result(better, unguarded_run, policy)
        placed = constraints.councils.placed_by_council(result.matches, side)
    people = {m.council: 0 for m in members}
    for r in result.matches["referral_id"]:
        people[owner[str(r)]] += 1
    out = RegionResult(result=result, floors=floors, placed=placed, placed_people=people,
                       alone_people={c: len(r.matches) for c, r in own.items()}, own=own, kept_own=kept_own,
                       unguarded_people=unguarded,
                       seconds={"own_runs": t_own, "total": time.perf_counter() - started})
    return out


# Rounds of raising the short councils' young people's weight (see _with_multipliers).
MULTIPLIER_ROUNDS = 4


def _with_multipliers(instance: Instance, policy: Policy, eligibility: Eligibility, owner: dict[str, str],
                      floors: dict[str, int], side, time_limit: float | None, short: list[str],
                      unguarded: MatchResult) -> MatchResult | None:
    """The guarantee by prices, as a Lagrangian relaxation of the floors sets them: each council
    left short has its young people's placement weighted up (a step more each round, doubling),
    and the region is solved again by the engine's exact machinery (flow, LP, CP-SAT) rather than
    by the slow search with the floors as constraints. The first proposal that keeps every floor
    is returned, weighed again without the multipliers; None if no round found one."""
    boost: dict[str, int] = {}
    step = dict.fromkeys(floors, 1)
    for _ in range(MULTIPLIER_ROUNDS):
        for c in short:
            for r, who in owner.items():
                if who == c:
                    boost[r] = boost.get(r, 0) + step[c]
            step[c] *= 2
        try:
            trial = match(instance, policy, eligibility=eligibility, time_limit=time_limit, practice=False,
                          reward_boost=boost)
        except MatchError:
            return None
        chosen = _scored(_pairs_of(eligibility.pairs, trial.matches), policy)
        placed = constraints.councils.placed_by_council(chosen, side)
        short = [c for c, f in floors.items() if placed.get(c, 0) < f]
        if not short and not constraints.breaches(chosen, side):
            return _as_result(chosen, unguarded, policy)
    return None


def _pairs_of(pairs: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """The eligible pair rows (the region's, unscored) of the chosen (referral, vacancy) pairs."""
    if chosen.empty:
        return pairs.iloc[0:0]
    wanted = set(zip(chosen["referral_id"].astype(str), chosen["vacancy_id"].astype(str), strict=True))
    keys = zip(pairs["referral_id"].astype(str), pairs["vacancy_id"].astype(str), strict=True)
    return pairs[[k in wanted for k in keys]]


def _scored(pairs: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    from matching.scoring import score

    return score(pairs, policy).reset_index(drop=True)


def _as_result(chosen: pd.DataFrame, region: MatchResult, policy: Policy) -> MatchResult:
    """The members' own proposals together (or improved from them), as the region's answer."""
    chosen = chosen.sort_values("referral_id", kind="stable").reset_index(drop=True)
    placed = set(chosen["referral_id"].astype(str))
    everyone = set(region.unplaced) | set(region.matches["referral_id"].astype(str))
    objective = {name: int(chosen[name].sum()) for name in region.objective}
    # The region's bound on its first level (young people placed, by urgency) holds for any
    # proposal, floors or none: this proposal's gap is taken against it. A later level's bound
    # was computed with the first held at the region's own value, so it says nothing here.
    from matching.engine import _gaps

    first = next(iter(objective), None)
    gap = {n: float("nan") for n in objective}
    bound = {n: float("nan") for n in objective}
    if first is not None:
        bound[first] = region.best_bound.get(first, float("nan"))
        gap[first] = _gaps({first: objective[first]}, {first: bound[first]}, False)[first]
    return dataclasses.replace(region, matches=chosen, unplaced=sorted(everyone - placed), status="FEASIBLE",
                               objective=objective, proven_by=None, gap=gap, best_bound=bound)
