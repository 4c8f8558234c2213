"""The assignment core as a min-cost flow: the oracle, the warm start and, often, the proof.

Without side constraints (intensive cap, siblings, co-residency, budget) a panel run is a
bipartite b-matching: each young person takes at most one bed, each vacancy has ``beds``. That
is a min-cost flow, which OR-Tools' ``SimpleMinCostFlow`` solves exactly in polynomial time:

    source --1--> referral --1--> vacancy --beds--> sink
                  referral --1 (left unplaced, cost 0)--> sink

Lexicographic objective, two exact ways:

1. Folded (the usual one): one integer cost per pair arc, ``-reward * M1 + penalty * M2 + cost``,
   with weights computed from the instance so that no amount of a later level can outweigh one
   unit of an earlier one: ``M2 = C + 1`` where ``C`` bounds the total level-3 cost of any
   solution, and ``M1 = M2 * P + C + 1`` where ``P`` bounds the total level-2 penalty. ``C`` and
   ``P`` sum the per-referral maxima over the ``k`` referrals that could be placed at once
   (``k`` = min(referrals, beds)). Weights are Python ints.
2. Level by level, when the fold does not fit: ``SimpleMinCostFlow`` multiplies every cost by
   (nodes + 1) and refuses costs above int64 max / (2 (nodes + 1)), and its node potentials can
   overflow on smaller ones too (it says BAD_COST_RANGE). Then we solve level 1 alone, take the
   optimal node potentials, and keep only what some level-1 optimum can use (LP complementary
   slackness with any optimal dual: an arc with positive reduced cost is empty in every
   optimum, one with negative reduced cost is full); level 2 is solved on that, and so on. All
   numbers stay small; the result is the lexicographic optimum exactly, in three solves.

``exact`` is False only if a weighted-mode cost had to be scaled down (pounds beyond int64's
reach: not a real case) -- then the solution is a warm start and proves nothing.

Weighted mode: the arc cost is the pair's ``pounds`` (negative when placing is worth it).

Reduced costs (folded and weighted solves): from the optimal flow we compute node potentials
(shortest distances in the residual graph, exact in integers) and so each pair's reduced cost
``rc``. For any assignment x of the same network, ``F(x) - F* = sum over arcs of rc * (x - x*)``
and every term is >= 0: ``rc`` is how much worse the best assignment using that pair is, a
lower bound that holds with side constraints too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow

from matching.instance import Instance
from matching.policy import Policy
from matching.scoring import totals

INT64_MAX = 2**63 - 1
# SimpleMinCostFlow adds its own source and sink, then scales costs by (its nodes + 1).
_WRAPPER_NODES = 2


class FlowError(RuntimeError):
    """The min-cost flow failed for a reason other than cost range (a bug, not an input)."""


class _CostRange(Exception):
    """SimpleMinCostFlow said BAD_COST_RANGE."""


@dataclass
class FlowSolution:
    chosen: pd.DataFrame  # the chosen pair rows (scored, their labels kept), by referral_id
    objective: dict[str, int]  # per level, computed from the chosen rows
    exact: bool  # True: optimal at every level of the policy's objective
    seconds: float
    method: str = "folded"  # "folded" | "level_by_level" | "weighted" | "weighted_scaled"
    weights: tuple[int, ...] = ()  # the folding weights (M1, M2, 1), or (1,) when weighted
    attempts: list[str] = field(default_factory=list)  # why the fold was not used, if it was not
    folded: pd.Series | None = None  # each pair's folded arc cost (index: the pairs' labels)
    optimum: int = 0  # the folded objective of ``chosen``: the relaxation's optimum
    reduced_cost: pd.Series | None = None  # each pair's reduced cost (index: the pairs' labels)

    def folded_value(self, rows) -> int:
        """The folded objective of a set of pair labels (all from the pairs this flow solved)."""
        return int(sum(int(v) for v in self.folded.loc[list(rows)])) if len(rows) else 0


def _top_k_sum(per_referral: np.ndarray, k: int) -> int:
    if k <= 0 or per_referral.size == 0:
        return 0
    top = np.sort(per_referral)[::-1][:k]
    return int(sum(int(v) for v in top))


def fold_weights(
    reward: np.ndarray, penalty: np.ndarray, cost: np.ndarray, referral_codes: np.ndarray, k: int
) -> tuple[int, int, int]:
    """Exact weights (M1, M2, 1) for the lexicographic fold, in Python ints."""
    n = int(referral_codes.max()) + 1 if referral_codes.size else 0
    max_pen = np.zeros(n, dtype=np.int64)
    max_cost = np.zeros(n, dtype=np.int64)
    np.maximum.at(max_pen, referral_codes, penalty)
    np.maximum.at(max_cost, referral_codes, cost)
    c_total = _top_k_sum(max_cost, k)
    p_total = _top_k_sum(max_pen, k)
    m2 = c_total + 1
    m1 = m2 * p_total + c_total + 1
    return m1, m2, 1


@dataclass
class _Network:
    """The assignment network's index arrays. Nodes: source 0, referrals 1..R, vacancies
    R+1..R+V, sink R+V+1."""

    ref: np.ndarray  # per pair: referral code
    vac: np.ndarray  # per pair: vacancy code
    capacity: np.ndarray  # per vacancy: free beds
    n_ref: int
    n_vac: int

    @property
    def sink(self) -> int:
        return 1 + self.n_ref + self.n_vac

    def ref_node(self, codes):
        return 1 + np.asarray(codes, dtype=np.int64)

    def vac_node(self, codes):
        return 1 + self.n_ref + np.asarray(codes, dtype=np.int64)


@dataclass
class _State:
    """What earlier levels settled (level-by-level solving); all False at the start."""

    pair_out: np.ndarray  # pair in no optimum of the earlier levels
    pair_in: np.ndarray  # pair in every optimum of the earlier levels
    must_place: np.ndarray  # referral placed in every optimum
    must_skip: np.ndarray  # referral unplaced in every optimum
    vac_closed: np.ndarray  # vacancy takes nobody beyond ``pair_in``
    vac_full: np.ndarray  # vacancy filled to capacity in every optimum

    @classmethod
    def start(cls, net: _Network) -> "_State":
        p, r, v = len(net.ref), net.n_ref, net.n_vac
        return cls(np.zeros(p, bool), np.zeros(p, bool), np.zeros(r, bool), np.zeros(r, bool),
                   np.zeros(v, bool), np.zeros(v, bool))


def _solve_network(net: _Network, costs: np.ndarray, state: _State):
    """One min-cost flow over what ``state`` leaves open. Returns the used pairs (including
    those settled in), and each open arc's reduced cost: (pair rc, unplaced rc, vacancy rc)
    with the masks saying which arcs were open."""
    placed_already = np.zeros(net.n_ref, bool)
    placed_already[net.ref[state.pair_in]] = True
    active_ref = ~state.must_skip & ~placed_already
    open_pair = (~state.pair_out & ~state.pair_in & active_ref[net.ref] & ~state.vac_closed[net.vac])
    left = net.capacity - np.bincount(net.vac[state.pair_in], minlength=net.n_vac)
    open_vac = ~state.vac_closed & ~state.vac_full  # vacancy -> sink arc
    open_unplaced = active_ref & ~state.must_place

    sink = net.sink
    refs = np.flatnonzero(active_ref)
    pairs = np.flatnonzero(open_pair)
    unplaced = np.flatnonzero(open_unplaced)
    vacs = np.flatnonzero(open_vac)
    full = np.flatnonzero(state.vac_full)
    smcf = min_cost_flow.SimpleMinCostFlow()
    # Arcs in a fixed order (referrals and vacancies sorted), so equal inputs solve equally.
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.zeros(len(refs), np.int64), net.ref_node(refs), np.ones(len(refs), np.int64), np.zeros(len(refs), np.int64))
    pair_arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        net.ref_node(net.ref[pairs]), net.vac_node(net.vac[pairs]), np.ones(len(pairs), np.int64), costs[pairs])
    unplaced_arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        net.ref_node(unplaced), np.full(len(unplaced), sink, np.int64),
        np.ones(len(unplaced), np.int64), np.zeros(len(unplaced), np.int64))
    vac_arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        net.vac_node(vacs), np.full(len(vacs), sink, np.int64), np.maximum(left[vacs], 0), np.zeros(len(vacs), np.int64))
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[0] = len(refs)
    supplies[net.vac_node(full)] = -left[full]  # filled to capacity: a demand, no arc to the sink
    supplies[sink] = -(len(refs) - int(left[full].sum()))
    smcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = smcf.solve()
    if status == smcf.BAD_COST_RANGE:
        raise _CostRange()
    if status != smcf.OPTIMAL:
        raise FlowError(f"min-cost flow ended {status!r} on {len(pairs)} open pairs")

    used_open = np.asarray(smcf.flows(np.asarray(pair_arcs, np.int64))) > 0
    unplaced_flow = np.asarray(smcf.flows(np.asarray(unplaced_arcs, np.int64))) > 0 if len(unplaced) else np.zeros(0, bool)
    vac_flow = np.asarray(smcf.flows(np.asarray(vac_arcs, np.int64))) if len(vacs) else np.zeros(0, np.int64)

    # Residual graph of the optimum (the source is left out: its arcs are all saturated).
    r_nodes, v_nodes = net.ref_node(net.ref[pairs]), net.vac_node(net.vac[pairs])
    u_nodes = net.ref_node(unplaced)
    w_nodes = net.vac_node(vacs)
    sinks_u = np.full(len(unplaced), sink, np.int64)
    sinks_w = np.full(len(vacs), sink, np.int64)
    tails = np.concatenate([r_nodes[~used_open], v_nodes[used_open], u_nodes[~unplaced_flow], sinks_u[unplaced_flow],
                            w_nodes[vac_flow < left[vacs]], sinks_w[vac_flow > 0]])
    heads = np.concatenate([v_nodes[~used_open], r_nodes[used_open], sinks_u[~unplaced_flow], u_nodes[unplaced_flow],
                            sinks_w[vac_flow < left[vacs]], w_nodes[vac_flow > 0]])
    weights = np.concatenate([costs[pairs][~used_open], -costs[pairs][used_open],
                              np.zeros(len(unplaced) + int((vac_flow < left[vacs]).sum()) + int((vac_flow > 0).sum()), np.int64)])
    potential = _potentials(sink + 1, tails, heads, weights)

    used = state.pair_in.copy()
    used[pairs[used_open]] = True
    rc_pair = np.zeros(len(net.ref), np.int64)
    rc_pair[pairs] = costs[pairs] + potential[r_nodes] - potential[v_nodes]
    rc_unplaced = np.zeros(net.n_ref, np.int64)
    rc_unplaced[unplaced] = potential[u_nodes] - potential[sink]
    rc_vac = np.zeros(net.n_vac, np.int64)
    rc_vac[vacs] = potential[w_nodes] - potential[sink]
    return used, (open_pair, rc_pair), (open_unplaced, rc_unplaced), (open_vac, rc_vac)


def _potentials(num_nodes: int, tails: np.ndarray, heads: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Feasible node potentials for the residual graph of an optimal flow: shortest distances
    from a virtual root joined to every node at cost 0 (Bellman-Ford, vectorised; there is no
    negative cycle at an optimum). Every residual arc then has reduced cost >= 0. Exact int64."""
    distance = np.zeros(num_nodes, dtype=np.int64)
    changed = np.ones(num_nodes, dtype=bool)
    for _ in range(num_nodes + 1):
        active = changed[tails]
        if not active.any():
            return distance
        before = distance.copy()
        np.minimum.at(distance, heads[active], distance[tails[active]] + weights[active])
        changed = distance < before
    raise FlowError("negative cycle in the residual graph: the flow is not optimal")


def _settle(state: _State, pair, unplaced, vac) -> None:
    """Keep only what some optimum of this level can use (complementary slackness)."""
    open_pair, rc = pair
    state.pair_out |= open_pair & (rc > 0)
    state.pair_in |= open_pair & (rc < 0)
    open_u, rc_u = unplaced
    state.must_place |= open_u & (rc_u > 0)  # leaving them unplaced is never optimal
    state.must_skip |= open_u & (rc_u < 0)
    open_v, rc_v = vac
    state.vac_closed |= open_v & (rc_v > 0)
    state.vac_full |= open_v & (rc_v < 0)


def _beds(vacancies: np.ndarray, instance: Instance, beds: Mapping[str, int] | None) -> dict[str, int]:
    if beds is None:
        table = instance.vacancies.set_index("vacancy_id")["beds"]
        beds = {str(k): int(v) for k, v in table.items()}
    missing = sorted(set(vacancies) - set(beds))
    if missing:
        raise ValueError(f"pairs name vacancies the instance does not have: {', '.join(missing[:5])}")
    return dict(beds)


def _present_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids present (sorted) and each row's position among them (int64): from the
    category codes when the ids are categorical (no string per row is touched), else by sorting."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes = ids.cat.codes.to_numpy()
        if (codes < 0).any():
            raise ValueError("a pair has no id")
        present = np.bincount(codes, minlength=len(ids.cat.categories)) > 0
        renumber = np.cumsum(present) - 1
        return np.asarray(ids.cat.categories[present].astype(str), dtype=object), renumber[codes].astype(np.int64)
    labels, codes = np.unique(ids.to_numpy(dtype=object), return_inverse=True)
    return labels, codes.astype(np.int64)


def solve_flow(
    pairs: pd.DataFrame,
    instance: Instance,
    policy: Policy,
    *,
    beds: Mapping[str, int] | None = None,
    fold: bool = True,
) -> FlowSolution:
    """The min-cost flow optimum over scored ``pairs`` (see :func:`matching.scoring.score`).

    ``beds`` overrides the free beds per vacancy (the engine passes beds net of locked
    placements); by default they come from ``instance.vacancies``. ``fold=False`` solves the
    lexicographic levels one by one even when the fold would fit (tests compare the two).
    """
    started = time.perf_counter()
    if pairs.empty:
        chosen = pairs.iloc[0:0].copy()
        return FlowSolution(chosen, totals(chosen, policy), True, time.perf_counter() - started,
                            folded=pd.Series([], dtype=np.int64), reduced_cost=pd.Series([], dtype=np.int64))

    # Arcs go in (referral_id, vacancy_id) order, so equal inputs solve equally. The pairs are
    # read through integer codes and, unless already in that order (the engine's are), one
    # permutation: the frame itself is never copied (at millions of pairs, gigabytes).
    referrals, ref_codes = _present_codes(pairs["referral_id"])
    vacancies, vac_codes = _present_codes(pairs["vacancy_id"])
    keys = ref_codes * max(1, len(vacancies)) + vac_codes
    order = None if np.all(keys[1:] >= keys[:-1]) else np.argsort(keys, kind="stable")
    del keys
    if order is not None:
        ref_codes, vac_codes = ref_codes[order], vac_codes[order]
    position = np.arange(len(pairs)) if order is None else order
    labels = pairs.index[position]
    bed_table = _beds(vacancies, instance, beds)
    capacity = np.array([max(0, int(bed_table[v])) for v in vacancies], dtype=np.int64)
    net = _Network(ref_codes, vac_codes, capacity, len(referrals), len(vacancies))
    limit = INT64_MAX // (2 * (net.sink + 1 + _WRAPPER_NODES + 1))

    def column(name: str) -> np.ndarray:
        values = pairs[name].to_numpy(dtype=np.int64)
        return values if order is None else values[order]

    def done(used, method, exact, costs=None, rc=None, weights=(), attempts=()):
        chosen = pairs.iloc[position[used]]
        return FlowSolution(
            chosen=chosen, objective=totals(chosen, policy), exact=exact,
            seconds=time.perf_counter() - started, method=method, weights=tuple(weights),
            attempts=list(attempts),
            folded=None if costs is None else pd.Series(costs, index=labels),
            optimum=0 if costs is None else int(sum(int(c) for c in costs[used])),
            reduced_cost=None if rc is None else pd.Series(rc, index=labels),
        )

    if policy.mode == "weighted":
        pounds = column("pounds")
        divisor = 1
        while int(np.abs(pounds).max(initial=0)) // divisor > limit:
            divisor *= 2
        costs = pounds if divisor == 1 else np.floor_divide(pounds, divisor)
        used, (_, rc), _, _ = _solve_network(net, costs, _State.start(net))
        return done(used, "weighted" if divisor == 1 else "weighted_scaled", divisor == 1, costs, rc, (1,))

    reward, penalty, cost = (column(c) for c in ("reward", "penalty", "cost"))
    attempts = []
    if fold:
        k = min(net.n_ref, int(capacity.sum()))
        m1, m2, m3 = fold_weights(reward, penalty, cost, net.ref, k)
        largest = int(reward.max(initial=0)) * m1 + int(penalty.max(initial=0)) * m2 + int(cost.max(initial=0))
        if largest <= limit:
            # Each term is at most ``largest`` <= limit < 2**63, so int64 arithmetic is exact.
            costs = -reward * np.int64(m1) + penalty * np.int64(m2) + cost * np.int64(m3)
            try:
                used, (_, rc), _, _ = _solve_network(net, costs, _State.start(net))
                return done(used, "folded", True, costs, rc, (m1, m2, m3))
            except _CostRange:
                attempts.append(f"BAD_COST_RANGE with folded arc costs up to {largest}")
        else:
            attempts.append(f"folded arc costs up to {largest} exceed {limit} for {net.sink + 1} nodes")

    state = _State.start(net)
    for level_costs in (-reward, penalty, cost):
        used, pair, unplaced, vac = _solve_network(net, level_costs, state)
        _settle(state, pair, unplaced, vac)
    return done(used, "level_by_level", True, attempts=attempts)
