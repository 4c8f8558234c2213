"""The tender simulation: month by month over the horizon, referrals arrive from the forecast,
the panel matches the queue with the real matching engine against the free beds, placements
follow their support plan and end, the unplaced fall back to spot purchase or emergency
accommodation, and empty block beds cost void. Replicated with seeded randomness; KPIs per
year with intervals over replications.

Inputs are plain: ``supply`` is a vacancies-like frame (``matching.instance.VACANCY_COLUMNS``
plus ``block``, ``void_weekly_cost``, ``lot``, ``framework``; optionally ``occupied``), one row
per bed-holding property or contract, ``beds`` its capacity; ``arrivals`` (:class:`MonthlyArrivals`)
says how many young people are referred each month at each tier and how to draw one. The
scenario file and the supply assembly live elsewhere (``scenarios.tender``).

Assumptions (each is a parameter with a documented default):

* **Timeline.** Month ``t`` runs from ``start`` plus ``t`` months. Young people are referred on
  a random day of the month; the panel sits on the month's last day and matches everyone
  waiting against the beds free that day. A placement made at month ``t``'s panel is lived in
  (and paid for) from month ``t + 1``; the wait is the panel day less the referral day.
* **Supply.** ``beds`` is capacity. ``occupied`` beds (default 0) hold young people already
  placed at the start; each frees after a uniform 1 to ``SupportPlan.existing_max_months``
  months. Their cost is not counted (it is the same under every option), only the beds they
  hold. Emergency-type rows (``service_type == "emergency"``) are not matched: the emergency
  fallback stands for them. Rows reserved for a named young person are dropped.
* **Eligibility** is judged once per young person against every supply row, on the age at
  referral (the engine's hard rules, ``matching.eligibility``); beds are free at each panel, so
  urgency windows always pass. Which beds are free, who already lives in each shared home
  (co-residency risks, the intensive cap) and the queue change month by month.
* **Matching.** Each month's queue is matched by ``matching.engine.match`` under the panel
  policy. Fast exact path: in lexicographic mode (no budget cap), when every young person's
  own best eligible free bed (least penalty, then least cost) is a different bed within its
  capacity and the choice breaks no side constraint (residents' risks, the intensive cap,
  clashes between newcomers), that choice is the optimum of every level (it is the optimum of
  the relaxation without side constraints, and it is feasible), so the engine is not called.
  Otherwise the engine runs on the month's instance with the precomputed pairs (its min-cost
  flow proves optimality when no side constraint binds, CP-SAT otherwise). Ties between equal
  options may be broken differently from the engine's flow; the objective is the same.
* **Support plan** (:class:`SupportPlan`): a placement lasts a uniform number of months by
  its starting tier (standard 6-18, enhanced 12-24, intensive 18-30: DOMAIN gives no figure;
  these keep the demo's stock of placed young people near the forecast's stock needing beds);
  it steps down a tier after 6 months at intensive and after 6 at enhanced; in any month a
  young person below intensive steps up a tier with probability ``step_up_monthly`` (a crisis,
  that month only). The weekly price follows the tier: the home's price at the lowest tier it
  offers at or above the current one (else its highest). When a placement ends, a share
  ``move_on_share`` of young people are referred again (a move, at the tier they have
  reached), the rest leave.
* **Fallbacks** (:class:`Fallback`): a young person the panel cannot place gets a spot
  purchase with probability ``spot_share_available`` (price: the tier's median framework price
  times ``spot_price_multiplier``; ``spot_typical_miles`` from home; out of area when
  ``spot_out_of_area``); otherwise emergency accommodation until the next panel (its nights
  counted, at ``emergency_weekly_price``) and stays in the queue.
* **Floating support** packages (rows with ``support_hours``) hold support hours a week, not
  beds: a young person placed there holds the hours of their current tier (the policy's
  ``support_hours_needed``, so stepping down frees hours), a young person there at the start
  holds a standard tier's hours; a package takes nobody whose tier needs more hours than it has
  free, exactly as the engine rules it. Their weekly price is paid as any placement's and
  reported on its own as ``floating_support_cost``.
* **Void**: each block bed empty during a month costs its ``void_weekly_cost`` a week; an
  occupied block bed costs the price of the young person's tier.

* **A region** (``region=True``, issue 17): the young people are several councils' (the
  arrivals' and the initial queue's ``council`` column; else the council their home is in),
  and each is judged as their own council's (in area, out of area); a supply row may name the
  ``councils`` that may use it (a council's own beds, a block contract some members share;
  empty: every member). The queue is matched together, on one market. Waiting and placements
  are then reported by council rather than by home authority.

KPIs per year (median and the 10th and 90th percentiles over replications): placements made
(from the supply), spot purchases, emergency nights, young people waiting at month end (the
year's average; by tier and by home area; the placements made by home area too), total cost
and the average weekly cost, unit weekly cost (£ per placed week, spot included, emergency and
void in the numerator), void cost, share of new placements over 20 miles and out of area,
average wait in days.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.engine import MatchError
from matching.instance import (
    PRICE_COLUMNS,
    REFERRAL_COLUMNS,
    RESIDENT_COLUMNS,
    SUPPORT_HOURS,
    VACANCY_COLUMNS,
    Instance,
    risk_tokens,
)
from matching.policy import Policy
from models.enums import RISK_TO_OTHERS_PREFIX, Setting, Tier

TIERS = ("standard", "enhanced", "intensive")  # index = rank
SUPPLY_EXTRA_COLUMNS = ["block", "void_weekly_cost", "lot", "framework"]
BED_SERVICE_TYPES = ("supported_accommodation", "supported_lodgings", "supported_tenancy")
SHARED_SETTINGS = frozenset(s.value for s in Setting if s.is_shared)
DAYS_PER_WEEK = 7.0
MAX_PLAN_MONTHS = 240


class SimulationError(ValueError):
    pass


@dataclass(frozen=True)
class Fallback:
    spot_price_multiplier: float = 1.25  # spot purchase: the tier's median framework price x this
    spot_typical_miles: float = 25.0  # spot homes are this far from home (for the distance KPIs)
    spot_share_available: float = 1.0  # share of unplaced young people a spot home can be found for in the month
    emergency_weekly_price: float = 700.0  # B&B / emergency accommodation while waiting (DOMAIN: £350-700)
    spot_out_of_area: bool = True  # spot homes count as outside the placing authority


@dataclass(frozen=True)
class SupportPlan:
    """How placements run (see the module docstring)."""

    duration_months: dict = field(default_factory=lambda: {"standard": (6, 18), "enhanced": (12, 24),
                                                            "intensive": (18, 30)})
    step_down_after_months: dict = field(default_factory=lambda: {"intensive": 6, "enhanced": 6})  # None: never
    step_up_monthly: float = 0.01
    move_on_share: float = 0.3
    existing_max_months: int = 18  # beds occupied at the start free within this many months
    # Trial stays (api.trial_stays): this share of the placements the panel makes start with a
    # trial of this many nights in the home, paid by the night at its weekly price over seven.
    trial_share: float = 0.0
    trial_nights: int = 0

    def tier_table(self) -> np.ndarray:
        """tier rank during month k of a placement started at each tier: (3, MAX_PLAN_MONTHS)."""
        out = np.zeros((3, MAX_PLAN_MONTHS), dtype=np.int8)
        for t0 in range(3):
            tier, k = t0, 0
            while k < MAX_PLAN_MONTHS:
                stay = self.step_down_after_months.get(TIERS[tier]) if tier > 0 else None
                stop = MAX_PLAN_MONTHS if stay is None else min(MAX_PLAN_MONTHS, k + max(1, int(stay)))
                out[t0, k:stop] = tier
                k, tier = stop, tier - 1
        return out


# --- arrivals -----------------------------------------------------------------------------------


def synthetic_referrals(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` young people with the demo council's proportions (``scenarios.synthetic``: homes
    around Medway, needs, risks, wishes); no sibling groups. Ages are as on 2026-11-23."""
    from scenarios.synthetic import synthetic_referrals as draw

    frame = draw(rng, n) if n else draw(rng, 1).iloc[0:0]
    frame["sibling_group"] = None
    return frame


SYNTHETIC_REFERENCE_DAY = dt.date(2026, 11, 23)  # scenarios.synthetic.PANEL_DATE


@dataclass(frozen=True)
class MonthlyArrivals:
    """Expected new referrals per month by tier (``expected[t, rank]``; the last row repeats
    past its end), drawn Poisson each month; ``draw(rng, n)`` gives ``n`` young people
    (REFERRAL_COLUMNS; their tier, id and referral date are replaced, their ages kept as on
    ``reference_day``)."""

    expected: np.ndarray
    draw: Callable[[np.random.Generator, int], pd.DataFrame] = synthetic_referrals
    reference_day: dt.date = SYNTHETIC_REFERENCE_DAY
    source: str = ""

    def rate(self, months: int) -> np.ndarray:
        e = np.asarray(self.expected, dtype=float).reshape(-1, 3)
        if not len(e):
            raise SimulationError("arrivals: no expected counts")
        if (e < 0).any():
            raise SimulationError("arrivals: expected counts must not be negative")
        if len(e) < months:
            e = np.vstack([e, np.repeat(e[-1:], months - len(e), axis=0)])
        return e[:months]

    @classmethod
    def constant(cls, per_month: dict[str, float], months: int = 1, **kw) -> "MonthlyArrivals":
        row = [float(per_month.get(t, 0.0)) for t in TIERS]
        return cls(np.tile(row, (months, 1)), **kw)


def arrivals_from_history(history, start: dt.date, months: int, *, rules=None, adjustments=(), mix=None,
                          service_types: tuple[str, ...] = BED_SERVICE_TYPES, scale: float = 1.0) -> MonthlyArrivals:
    """Expected monthly referrals by tier from the forecast's cohort model (the same estimate as
    ``scenarios.forecast.forecast_history``, stepped monthly as ``cohort.project_monthly``).

    New need for the supplied service types in a month = arrivals into each state times the
    state's share needing one of them (``NeedMix``), plus each move between states times how
    much more the destination state needs them than the origin (a young person in supported
    accommodation who turns 18 keeps their bed; one leaving foster care at 18 may need one).
    Split by tier with the need mix's tier shares (weighted over the service types)."""
    from scenarios import cohort as C
    from scenarios.demand import SERVICE_TYPES, NeedMix

    rules = rules or C.Rules()
    mix = mix or NeedMix()
    last = history.census_dates[-1]
    counts = C.counts(C.snapshot(history, last, rules))
    rates = C.adjust(C.estimate(C.observe(history, rules)), list(adjustments), rules)
    cols = [SERVICE_TYPES.index(s) for s in service_types]
    share = mix.matrix()[:, cols]  # (states, chosen services)
    need = share.sum(axis=1)
    gain = np.maximum(0.0, need[None, :] - need[:, None])  # from state i to state j
    weights = share.sum(axis=0)
    weights = weights / weights.sum() if weights.sum() else np.full(len(cols), 1 / len(cols))
    tier_mix = np.zeros(3)
    for w, s in zip(weights, service_types):
        tier_mix += w * np.array([mix.tiers.get(s, {}).get(t, 0.0) for t in TIERS])
    tier_mix = tier_mix / tier_mix.sum() if tier_mix.sum() else np.array([0.45, 0.35, 0.20])

    offset = max(0, (start.year - last.year) * 12 + start.month - last.month)  # months from the last census
    n_states = len(C.STATES)
    by_month = np.repeat(counts[None] / 12.0, 12, axis=0)
    new = []
    for t in range(offset + months):
        m = t % 12
        entering = rates.arrivals(t // 12) / 12.0
        flow = by_month[m][:, :, None] * rates.P  # (ages, from, to + out)
        new.append(float(np.einsum("aij,ij->", flow[:, :, :n_states], gain) + (entering * need[None, :]).sum()))
        moved = flow.sum(axis=1)[:, :n_states]
        aged = np.zeros_like(moved)
        aged[1:] = moved[:-1]
        by_month[m] = aged + entering
    total = np.array(new[offset:]) * scale
    return MonthlyArrivals(total[:, None] * tier_mix[None, :],
                           source=f"cohort model from {last:%d %b %Y}, {', '.join(service_types)}: "
                                  f"{total.mean() * 12:.1f} new referrals a year")


# --- result -------------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    years: pd.DataFrame  # year, kpi, median, p10, p90
    unmet_by_tier: pd.DataFrame  # year, tier, median, p10, p90 (average waiting at month end)
    unmet_by_area: pd.DataFrame  # year, area, median, p10, p90
    monthly: pd.DataFrame  # replication, month, raw counts and money
    seed: int
    replications: int
    months: int
    seconds: float
    month_solves: int
    engine_calls: int  # months the engine was run (the rest: the exact fast path, or nobody waiting)
    engine_seconds: float
    engine_failures: int = 0  # engine runs with no proposal in the policy's time limit (nobody placed)
    notes: list[str] = field(default_factory=list)
    # year, area, median, p10, p90: placements made from the supply in the year, by home area (by
    # council in a region)
    placed_by_area: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["year", "area", "median", "p10", "p90"]))

    def table(self) -> pd.DataFrame:
        """KPIs as one row per KPI, one column per year: 'median (p10-p90)'."""
        f = self.years.copy()
        f["text"] = [_fmt(m, lo, hi) for m, lo, hi in zip(f["median"], f["p10"], f["p90"])]
        return f.pivot(index="kpi", columns="year", values="text").reindex(KPIS)


def _fmt(m, lo, hi) -> str:
    if not np.isfinite(m):
        return "-"
    digits = 2 if abs(m) < 1 and m != 0 else 0
    return f"{m:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


KPIS = ["placements_made", "spot_purchases", "emergency_nights", "unmet_need", "total_cost", "weekly_cost",
        "unit_weekly_cost", "void_cost", "trial_stay_cost", "floating_support_cost", "share_over_20_miles",
        "share_out_of_area", "average_wait_days"]
MONTHLY = ["placed", "spot", "emergency_nights", "waiting", "placement_cost", "spot_cost", "emergency_cost",
           "void_cost", "trial_cost", "floating_support_cost", "placed_weeks", "new_placements", "over_20", "out_of_area", "wait_days"]


# --- preparation (once per simulation) ----------------------------------------------------------


@dataclass
class _Context:
    supply: pd.DataFrame  # vacancy rows as the engine sees them (beds = capacity)
    capacity: np.ndarray
    occupied: np.ndarray
    block: np.ndarray
    void: np.ndarray
    price: np.ndarray  # (rows, 3) weekly price paid at each current tier
    shared: np.ndarray  # bool per row
    prop_code: np.ndarray  # int per row
    spot_price: np.ndarray  # (3,)
    rate: np.ndarray  # (months, 3)
    draw: Callable
    reference_day: dt.date
    initial: pd.DataFrame | None
    policy: Policy
    fallback: Fallback
    plan: SupportPlan
    tier_table: np.ndarray
    authority: str
    start: dt.date
    months: int
    month_start: np.ndarray  # day numbers (months + 1,)
    incompatible: tuple[tuple[str, str], ...]
    fast: bool
    hours_cap: np.ndarray  # per row: a floating support package's support hours a week (0: beds only)
    tier_hours: np.ndarray  # (3,): the hours a week each tier takes (policy.support_hours_needed)
    region: bool = False  # several councils' young people (see the module docstring)
    row_councils: tuple = ()  # per row, in a region: the councils that may use it (None: every one)


def _day(d) -> int:
    return int((pd.Timestamp(d) - pd.Timestamp("1970-01-01")).days)


def _prepare_supply(supply: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    missing = [c for c in VACANCY_COLUMNS + ["block", "void_weekly_cost"] if c not in supply.columns]
    if missing:
        raise SimulationError(f"supply frame lacks columns: {', '.join(missing)}")
    s = supply.copy()
    s = s[(s["service_type"].astype(str) != "emergency") & s["reserved_for"].isna()]
    s = s[s["beds"].astype(int) > 0].reset_index(drop=True)
    if s["vacancy_id"].duplicated().any():
        raise SimulationError("supply: vacancy_id listed twice")
    s["available_from"] = pd.Timestamp(start)
    if "occupied" not in s.columns:
        s["occupied"] = 0
    s["occupied"] = s["occupied"].fillna(0).astype(int).clip(0, s["beds"].astype(int))
    s["block"] = s["block"].fillna(False).astype(bool)
    if "councils" not in s.columns:
        s["councils"] = None
    s["void_weekly_cost"] = pd.to_numeric(s["void_weekly_cost"], errors="coerce").fillna(0.0)
    hours = s[SUPPORT_HOURS] if SUPPORT_HOURS in s.columns else pd.Series(0, index=s.index)
    s[SUPPORT_HOURS] = pd.to_numeric(hours, errors="coerce").fillna(0).astype(int).clip(lower=0)
    return s


def _effective_prices(s: pd.DataFrame) -> np.ndarray:
    prices = np.column_stack([pd.to_numeric(s[PRICE_COLUMNS[Tier(t)]], errors="coerce").to_numpy(float) for t in TIERS])
    out = np.full_like(prices, np.nan)
    for t in range(3):
        for u in reversed(range(t, 3)):  # lowest offered at or above
            hit = ~np.isnan(prices[:, u])
            out[hit, t] = prices[hit, u]
        left = np.isnan(out[:, t])
        for u in range(3):  # else the highest offered
            hit = left & ~np.isnan(prices[:, u])
            out[hit, t] = prices[hit, u]
    return np.nan_to_num(out, nan=0.0)




def _context(supply, arrivals, months, policy, fallback, plan, authority, start, initial_queue,
             region: bool = False) -> _Context:
    s = _prepare_supply(supply, start)
    prices = np.column_stack([pd.to_numeric(s[PRICE_COLUMNS[Tier(t)]], errors="coerce").to_numpy(float) for t in TIERS])
    block = s["block"].to_numpy(bool)
    framework = prices[~block] if (~block).any() else prices
    medians = np.array([np.nanmedian(framework[:, t]) if np.isfinite(framework[:, t]).any() else np.nan for t in range(3)])
    for t in range(3):  # a tier nobody offers: the nearest offered tier's median
        if not np.isfinite(medians[t]):
            near = [u for u in sorted(range(3), key=lambda u: abs(u - t)) if np.isfinite(medians[u])]
            medians[t] = medians[near[0]] if near else 1000.0
    days = np.array([_day(pd.Timestamp(start) + pd.DateOffset(months=k)) for k in range(months + 1)], dtype=np.int64)
    prop_codes = pd.factorize(s["property_id"].astype(str))[0]
    if initial_queue is not None:
        missing = [c for c in REFERRAL_COLUMNS if c not in initial_queue.columns]
        if missing:
            raise SimulationError(f"initial queue lacks columns: {', '.join(missing)}")
        kept = REFERRAL_COLUMNS + (["council"] if region and "council" in initial_queue.columns else [])
        initial_queue = initial_queue[kept].reset_index(drop=True)
    lexicographic = policy.mode == "lexicographic" and policy.weekly_budget_cap is None
    return _Context(
        supply=s[[*VACANCY_COLUMNS, SUPPORT_HOURS]].reset_index(drop=True), capacity=s["beds"].to_numpy(np.int64),
        occupied=s["occupied"].to_numpy(np.int64), block=block, void=s["void_weekly_cost"].to_numpy(float),
        price=_effective_prices(s), shared=s["setting"].astype(str).isin(SHARED_SETTINGS).to_numpy(bool),
        prop_code=prop_codes, spot_price=medians * fallback.spot_price_multiplier, rate=arrivals.rate(months),
        draw=arrivals.draw, reference_day=arrivals.reference_day, initial=initial_queue, policy=policy,
        fallback=fallback, plan=plan, tier_table=plan.tier_table(), authority=authority, start=start,
        months=months, month_start=days,
        incompatible=tuple((RISK_TO_OTHERS_PREFIX + str(x), str(y)) for x, y in policy.incompatible),
        fast=lexicographic, hours_cap=s[SUPPORT_HOURS].to_numpy(np.int64),
        tier_hours=np.array([policy.hours_needed(t) for t in TIERS], dtype=np.int64), region=region,
        row_councils=tuple(_councils_of_row(v) for v in s["councils"]) if region else (),
    )


def _councils_of_row(value) -> frozenset | None:
    """The councils a supply row is for: None for every council of the region."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    codes = frozenset([value] if isinstance(value, str) else value)
    return codes or None


# --- one replication ----------------------------------------------------------------------------


@dataclass
class _Pool:
    frame: pd.DataFrame  # REFERRAL_COLUMNS, referral_id "Y000000".. in pool order
    tier: np.ndarray  # rank
    join_month: np.ndarray  # month the young person joins the queue (-1: not yet / a move not made)
    referred_day: np.ndarray
    duration: np.ndarray  # months of the placement they will get
    move_row: np.ndarray  # pool index of their move-on referral, -1 for none
    area: np.ndarray  # object: home authority
    risks: list  # frozenset of risk tokens per pool row


def _draw_pool(ctx: _Context, rng: np.random.Generator) -> _Pool:
    months = ctx.months
    counts = rng.poisson(ctx.rate)  # (months, 3)
    n = int(counts.sum())
    drawn = ctx.draw(rng, n).reset_index(drop=True)
    if len(drawn) != n:
        raise SimulationError(f"arrivals.draw gave {len(drawn)} young people, {n} asked")
    month_of = np.repeat(np.repeat(np.arange(months), 3), counts.ravel())
    tier_of = np.repeat(np.tile(np.arange(3), months), counts.ravel())
    lengths = ctx.month_start[month_of + 1] - ctx.month_start[month_of]
    day = ctx.month_start[month_of] + np.floor(rng.random(n) * lengths).astype(np.int64)
    drawn = drawn[REFERRAL_COLUMNS + (["council"] if ctx.region and "council" in drawn.columns else [])].copy()
    drawn["tier"] = np.array(TIERS, dtype=object)[tier_of]
    drawn["referred_on"] = pd.to_datetime(day, unit="D")
    drawn["date_of_birth"] = pd.to_datetime(drawn["date_of_birth"]) + (pd.Timestamp(ctx.start) - pd.Timestamp(ctx.reference_day))
    parts, join, refday = [drawn], [month_of], [day]
    if ctx.initial is not None and len(ctx.initial):
        init = ctx.initial.copy()
        parts.insert(0, init)
        join.insert(0, np.zeros(len(init), dtype=np.int64))
        refday.insert(0, np.array([_day(d) for d in init["referred_on"]], dtype=np.int64))
    base = pd.concat(parts, ignore_index=True)
    join_month = np.concatenate(join).astype(np.int64)
    referred_day = np.concatenate(refday).astype(np.int64)
    tier = pd.Categorical(base["tier"].astype(str), categories=TIERS).codes.astype(np.int64)
    if (tier < 0).any():
        raise SimulationError("arrivals: a young person's tier is not standard, enhanced or intensive")
    duration = _durations(ctx.plan, rng, tier)
    # Moves: a share are referred again when their placement ends, at the tier they reached.
    moving = np.flatnonzero(rng.random(len(base)) < ctx.plan.move_on_share)
    end_tier = ctx.tier_table[tier[moving], np.minimum(duration[moving] - 1, MAX_PLAN_MONTHS - 1)].astype(np.int64)
    moves = base.iloc[moving].copy()
    moves["tier"] = np.array(TIERS, dtype=object)[end_tier]
    frame = pd.concat([base, moves], ignore_index=True)
    m = len(base)
    move_row = np.full(len(frame), -1, dtype=np.int64)
    move_row[moving] = m + np.arange(len(moving))
    frame["referral_id"] = [f"Y{i:06d}" for i in range(len(frame))]
    frame["sibling_group"] = None
    all_tier = np.concatenate([tier, end_tier])
    return _Pool(
        frame=frame, tier=all_tier, join_month=np.concatenate([join_month, np.full(len(moving), -1, np.int64)]),
        referred_day=np.concatenate([referred_day, np.zeros(len(moving), np.int64)]),
        duration=np.concatenate([duration, _durations(ctx.plan, rng, end_tier)]), move_row=move_row,
        area=_areas(ctx, frame),
        risks=[frozenset(risk_tokens(s, o)) for s, o in zip(frame["risks_to_self"], frame["risks_to_others"])],
    )


def _areas(ctx: _Context, frame: pd.DataFrame) -> np.ndarray:
    """Where each young person is counted: their home authority, or in a region their council
    (the frame's ``council``: the council placing them, wherever they live; where it is not
    given, the council their home is in)."""
    if not ctx.region:
        return frame["home_la"].astype(object).to_numpy()
    from providers.authorities import default_authorities

    by_home = default_authorities().upper_tiers(frame["home_la"])
    if "council" not in frame.columns:
        return by_home.to_numpy(dtype=object)
    return frame["council"].where(frame["council"].notna(), by_home).to_numpy(dtype=object)


def _durations(plan: SupportPlan, rng: np.random.Generator, tier: np.ndarray) -> np.ndarray:
    out = np.zeros(len(tier), dtype=np.int64)
    for t, name in enumerate(TIERS):
        lo, hi = plan.duration_months[name]
        hit = tier == t
        out[hit] = rng.integers(max(1, int(lo)), max(1, int(hi)) + 1, int(hit.sum()))
    return out


@dataclass
class _Pairs:
    frame: pd.DataFrame  # the engine's eligible pairs (PAIR_COLUMNS), sorted by (referral, vacancy)
    ref: np.ndarray  # pool index per frame row
    row: np.ndarray  # supply row per frame row
    order: np.ndarray  # frame rows sorted by (referral, penalty, cost, row): the fast path's preference
    first: np.ndarray  # per pool index: start of its run in ``order`` (len pool + 1)
    tier: np.ndarray  # tier rank provided, per frame row
    penalty: np.ndarray  # the engine's scores per frame row (matching.scoring)
    cost: np.ndarray
    reward: np.ndarray
    miles: np.ndarray
    out_of_area: np.ndarray
    index: pd.MultiIndex | None = None  # (referral, vacancy) per frame row: built once, read every month

    def pair_index(self) -> pd.MultiIndex:
        if self.index is None:
            self.index = pd.MultiIndex.from_arrays([self.frame["referral_id"], self.frame["vacancy_id"]])
        return self.index


def _eligible(ctx: _Context, pool: _Pool) -> _Pairs:
    from matching.eligibility import eligible_pairs
    from matching.scoring import score

    pairs = _region_pairs(ctx, pool) if ctx.region else eligible_pairs(Instance(
        ctx.start, ctx.authority, pool.frame[REFERRAL_COLUMNS], ctx.supply, pd.DataFrame(columns=RESIDENT_COLUMNS)),
        ctx.policy).pairs.reset_index(drop=True)
    scored = score(pairs, ctx.policy)
    ref = pairs["referral_id"].str.slice(1).astype(np.int64).to_numpy() if len(pairs) else np.zeros(0, np.int64)
    row_of = {v: i for i, v in enumerate(ctx.supply["vacancy_id"].astype(str))}
    row = pairs["vacancy_id"].map(row_of).to_numpy(np.int64) if len(pairs) else np.zeros(0, np.int64)
    pen = scored["penalty"].to_numpy(np.int64) if len(pairs) else np.zeros(0, np.int64)
    cost = scored["cost"].to_numpy(np.int64) if len(pairs) else np.zeros(0, np.int64)
    order = np.lexsort((row, cost, pen, ref))
    first = np.searchsorted(ref[order], np.arange(len(pool.frame) + 1))
    tier = pd.Categorical(pairs["tier"].astype(str), categories=TIERS).codes.astype(np.int64)
    reward = scored["reward"].to_numpy(np.int64) if len(pairs) else np.zeros(0, np.int64)
    return _Pairs(pairs, ref, row, order, first, tier, pen, cost, reward, pairs["miles_from_home"].to_numpy(float),
                  pairs["out_of_area"].to_numpy(bool))


def _region_pairs(ctx: _Context, pool: _Pool) -> pd.DataFrame:
    """A region's eligible pairs: each council's young people judged as that council's (its area),
    on the rows that council may use."""
    from matching.eligibility import eligible_pairs

    frames = []
    no_residents = pd.DataFrame(columns=RESIDENT_COLUMNS)
    for council in sorted(set(pool.area)):
        people = pool.frame.loc[pool.area == council, REFERRAL_COLUMNS]
        usable = np.array([c is None or council in c for c in ctx.row_councils], dtype=bool)
        if usable.any():
            supply = ctx.supply[usable].reset_index(drop=True)
            frames.append(eligible_pairs(Instance(ctx.start, council, people, supply, no_residents), ctx.policy).pairs)
    if not frames:
        return eligible_pairs(Instance(ctx.start, ctx.authority, pool.frame.iloc[0:0][REFERRAL_COLUMNS], ctx.supply,
                                       no_residents), ctx.policy).pairs
    pairs = pd.concat(frames, ignore_index=True)
    return pairs.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)


def _fast_choice(ctx: _Context, P: _Pairs, pool: _Pool, queue: np.ndarray, free: np.ndarray,
                 residents: dict[int, list[tuple[frozenset, int]]],
                 hours_free: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The engine's optimum without calling it, when that can be proven (see the module
    docstring): the relaxation without side constraints solved exactly, then checked against
    every side constraint. None when the engine must decide."""
    starts, ends = P.first[queue], P.first[queue + 1]
    lengths = ends - starts
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not lengths.sum():
        return empty
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    cand = P.order[offsets]
    cand = cand[free[P.row[cand]] > 0]
    cand = cand[_hours_fit(ctx, P, cand, hours_free)]
    cand = cand[_not_excluded(ctx, P, pool, cand, residents)]
    if not len(cand):
        return empty
    refs, at = np.unique(P.ref[cand], return_index=True)  # each one's own best free option
    chosen = cand[at]
    rows = P.row[chosen]
    if (np.bincount(rows, minlength=len(free)) > free).any():  # contention: the exact assignment
        chosen = _assignment(P, cand, refs, free)
        if chosen is None:
            return None
        rows = P.row[chosen]
    if ctx.hours_cap.any():
        given = np.bincount(rows, weights=ctx.tier_hours[P.tier[chosen]], minlength=len(free))
        if (given > np.where(ctx.hours_cap > 0, hours_free, np.inf)).any():
            return None  # a package's hours over-committed: the engine decides
    return (chosen, rows) if _side_ok(ctx, P, pool, chosen, rows, residents) else None


def _hours_fit(ctx: _Context, P: _Pairs, cand: np.ndarray, hours_free: np.ndarray) -> np.ndarray:
    """The engine's own exclusion (``matching.constraints.support_hours``): a package with fewer
    hours free than the pair's tier takes."""
    rows = P.row[cand]
    return (ctx.hours_cap[rows] == 0) | (ctx.tier_hours[P.tier[cand]] <= hours_free[rows])


def _assignment(P: _Pairs, cand: np.ndarray, refs: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The lexicographic optimum of the relaxation (most urgency-weighted placements, then
    least penalty, then least cost), as the engine's flow has it: one min-cost flow with folded
    integer weights ``-reward * M1 + penalty * M2 + cost`` (``M2`` above any total cost, ``M1``
    above any total of the rest), source -> young person -> bed (its free beds) -> sink, and
    young person -> sink at cost 0 for "unplaced". None when the weights are out of range."""
    from ortools.graph.python import min_cost_flow

    ref_pos = np.searchsorted(refs, P.ref[cand])
    rows_used, row_pos = np.unique(P.row[cand], return_inverse=True)
    pen, cost, reward = P.penalty[cand], P.cost[cand], P.reward[cand]
    breaks = np.r_[0, np.flatnonzero(np.diff(ref_pos)) + 1]
    m2 = int(np.maximum.reduceat(cost, breaks).clip(0).sum()) + 1
    m1 = (int(np.maximum.reduceat(pen, breaks).clip(0).sum()) + 1) * m2
    n_ref, n_rows = len(refs), len(rows_used)
    source, sink = n_ref + n_rows, n_ref + n_rows + 1
    if m1 * int(reward.max(initial=1)) * (sink + 4) * 4 >= 2**62:
        return None
    weight = -reward * m1 + pen * m2 + cost
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.full(n_ref, source), ref_pos, np.arange(n_ref), n_ref + np.arange(n_rows)])
    heads = np.concatenate([np.arange(n_ref), n_ref + row_pos, np.full(n_ref, sink), np.full(n_rows, sink)])
    caps = np.concatenate([np.ones(n_ref), np.ones(len(cand)), np.ones(n_ref), free[rows_used]]).astype(np.int64)
    costs = np.concatenate([np.zeros(n_ref, np.int64), weight, np.zeros(n_ref + n_rows, np.int64)]).astype(np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32), caps, costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[source], supplies[sink] = n_ref, -n_ref
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    if flow.solve() != flow.OPTIMAL:
        return None
    used = flow.flows(np.arange(n_ref, n_ref + len(cand)))
    return np.sort(cand[used > 0])


def _not_excluded(ctx: _Context, P: _Pairs, pool: _Pool, cand: np.ndarray,
                  residents: dict[int, list[tuple[frozenset, int]]]) -> np.ndarray:
    """The engine's own exclusions before it solves (``matching.constraints.exclusions``): a
    shared home whose residents' risks clash with the young person's, or whose intensive places
    are full for a pair at the intensive tier."""
    keep = np.ones(len(cand), dtype=bool)
    if not residents:
        return keep
    cap = ctx.policy.max_intensive_per_shared_home
    rows = P.row[cand]
    for k in np.flatnonzero(ctx.shared[rows]):
        living = residents.get(int(ctx.prop_code[rows[k]]))
        if not living:
            continue
        c = cand[k]
        if cap is not None and P.tier[c] == 2 and sum(t == 2 for _, t in living) >= cap:
            keep[k] = False
        elif ctx.incompatible and any(_clash(ctx.incompatible, pool.risks[P.ref[c]], r) for r, _ in living):
            keep[k] = False
    return keep


def _side_ok(ctx: _Context, P: _Pairs, pool: _Pool, chosen: np.ndarray, rows: np.ndarray,
             residents: dict[int, list[tuple[frozenset, int]]]) -> bool:
    """No side constraint broken: the intensive cap and co-residency risks in shared homes,
    counting the residents."""
    cap = ctx.policy.max_intensive_per_shared_home
    shared = ctx.shared[rows]
    if not shared.any():
        return True
    by_home: dict[int, list[int]] = {}
    for k in np.flatnonzero(shared):
        by_home.setdefault(int(ctx.prop_code[rows[k]]), []).append(int(chosen[k]))
    for home, newcomers in by_home.items():
        living = residents.get(home, [])
        if cap is not None and (sum(t == 2 for _, t in living) + sum(P.tier[c] == 2 for c in newcomers)) > cap:
            return False
        if ctx.incompatible:
            risks = [pool.risks[P.ref[c]] for c in newcomers]
            others = [r for r, _ in living]
            for i, mine in enumerate(risks):
                if any(_clash(ctx.incompatible, mine, o) for o in others + risks[i + 1:]):
                    return False
    return True


def _clash(incompatible, a: frozenset, b: frozenset) -> bool:
    return any((x in a and y in b) or (x in b and y in a) for x, y in incompatible)


def _engine_choice(ctx: _Context, P: _Pairs, pool: _Pool, queue: np.ndarray, free: np.ndarray,
                   residents_frame: pd.DataFrame, panel_day: int,
                   hours_free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from matching.eligibility import Eligibility
    from matching.engine import match

    in_queue = np.zeros(len(pool.frame), dtype=bool)
    in_queue[queue] = True
    mask = in_queue[P.ref] & (free[P.row] > 0)
    if not mask.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.flatnonzero(free > 0)
    vacancies = ctx.supply.iloc[rows].assign(beds=free[rows], **{SUPPORT_HOURS: np.where(
        ctx.hours_cap[rows] > 0, hours_free[rows], 0)})
    instance = Instance(pd.Timestamp(panel_day, unit="D").date(), ctx.authority, pool.frame.iloc[queue],
                        vacancies, residents_frame)
    eligibility = Eligibility(pairs=P.frame[mask].reset_index(drop=True), funnel=pd.DataFrame(), seconds=0.0)
    # The policy's own optimum, as the fast path computes it: a simulated year has no panel to
    # defend each month's proposal to, so the comparison with one-at-a-time practice is left out.
    result = match(instance, ctx.policy, eligibility=eligibility, practice=False)
    if not len(result.matches):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    chosen = P.pair_index().get_indexer(pd.MultiIndex.from_arrays([result.matches["referral_id"], result.matches["vacancy_id"]]))
    return chosen, P.row[chosen]


def _hours_free(ctx: _Context, pool: _Pool, pl_row: np.ndarray, pl_month: np.ndarray, staying: np.ndarray,
                there_at_start: np.ndarray, t: int) -> np.ndarray:
    """Support hours a week each package has free at month ``t``'s panel: its hours less those
    of the young people it supports, at their tier now (0 for a row counted in beds)."""
    if not ctx.hours_cap.any():
        return np.zeros(len(ctx.hours_cap), dtype=np.int64)
    cap = ctx.tier_table.shape[1] - 1
    tier = ctx.tier_table[pool.tier[staying], np.minimum(t - pl_month[staying], cap)].astype(np.int64)
    used = np.bincount(pl_row[staying], weights=ctx.tier_hours[tier], minlength=len(ctx.hours_cap))
    used += np.bincount(there_at_start, minlength=len(ctx.hours_cap)) * ctx.tier_hours[0]
    return np.where(ctx.hours_cap > 0, np.maximum(0, ctx.hours_cap - used), 0).astype(np.int64)


def _residents_frame(ctx: _Context, pool: _Pool, pl_row: np.ndarray, living: np.ndarray, tier: np.ndarray) -> pd.DataFrame:
    """The engine's residents frame: the simulated young people living in shared homes."""
    return pd.DataFrame({
        "property_id": ctx.supply["property_id"].to_numpy(object)[pl_row[living]],
        "tier": np.array(TIERS, dtype=object)[tier.astype(np.int64)],
        "risks": [sorted(pool.risks[p]) for p in living],
    }, columns=RESIDENT_COLUMNS)


def _replicate(ctx: _Context, seed: np.random.SeedSequence) -> dict:
    rng = np.random.default_rng(seed)
    # Trial stays draw from their own stream, so adding them changes no one's placement.
    trial_rng = np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 7919)))
    months, plan, fb = ctx.months, ctx.plan, ctx.fallback
    pool = _draw_pool(ctx, rng)
    P = _eligible(ctx, pool)
    n, n_rows = len(pool.frame), len(ctx.capacity)
    init_row = np.repeat(np.arange(n_rows), ctx.occupied)
    init_free = rng.integers(1, max(1, plan.existing_max_months) + 1, len(init_row)) - 1  # frees at this panel
    pl_row = np.full(n, -1, dtype=np.int64)  # -2: spot purchase
    pl_month = np.full(n, -1, dtype=np.int64)
    pl_end = np.full(n, -1, dtype=np.int64)
    in_queue = np.zeros(n, dtype=bool)
    join = pool.join_month.copy()
    referred = pool.referred_day.copy()
    out = np.zeros((months, len(MONTHLY)))
    col = {name: i for i, name in enumerate(MONTHLY)}
    waiting_tier = np.zeros((months, 3))
    waiting_area: dict[str, np.ndarray] = {}
    placed_area: dict[str, np.ndarray] = {}
    in_emergency = 0
    solves = engine_calls = engine_failures = 0
    engine_seconds = 0.0
    cap_tier = ctx.tier_table.shape[1] - 1

    for t in range(months):
        days = int(ctx.month_start[t + 1] - ctx.month_start[t])
        weeks = days / DAYS_PER_WEEK
        panel_day = int(ctx.month_start[t + 1]) - 1
        # 1. The month lived: placements made at earlier panels, empty block beds, emergency.
        active = np.flatnonzero((pl_month >= 0) & (pl_month < t) & (pl_end >= t))
        k = np.minimum(t - pl_month[active] - 1, cap_tier)
        tier_now = ctx.tier_table[pool.tier[active], k].astype(np.int64)
        crisis = (rng.random(len(active)) < plan.step_up_monthly) & (tier_now < 2)
        tier_now = tier_now + crisis
        in_supply = pl_row[active] >= 0
        paid = ctx.price[pl_row[active][in_supply], tier_now[in_supply]]
        out[t, col["placement_cost"]] = paid.sum() * weeks
        out[t, col["floating_support_cost"]] = paid[ctx.hours_cap[pl_row[active][in_supply]] > 0].sum() * weeks
        out[t, col["spot_cost"]] = ctx.spot_price[tier_now[~in_supply]].sum() * weeks
        out[t, col["placed_weeks"]] = len(active) * weeks
        occupied = np.bincount(pl_row[active][in_supply], minlength=n_rows) + np.bincount(
            init_row[init_free >= t], minlength=n_rows)
        out[t, col["void_cost"]] = float((ctx.block * np.maximum(0, ctx.capacity - occupied) * ctx.void).sum() * weeks)
        out[t, col["emergency_nights"]] = in_emergency * days
        out[t, col["emergency_cost"]] = in_emergency * days * fb.emergency_weekly_price / DAYS_PER_WEEK

        # 2. The panel: placements ending free their beds (some young people move on), new referrals join.
        ending = np.flatnonzero(pl_end == t)
        movers = pool.move_row[ending]
        movers = movers[movers >= 0]
        join[movers], referred[movers] = t, panel_day
        in_queue[join == t] = True
        staying = np.flatnonzero((pl_row >= 0) & (pl_month >= 0) & (pl_end > t))
        held = np.bincount(pl_row[staying], minlength=n_rows) + np.bincount(init_row[init_free > t], minlength=n_rows)
        free = np.maximum(0, ctx.capacity - held)
        hours_free = _hours_free(ctx, pool, pl_row, pl_month, staying, init_row[init_free > t], t)
        free[(ctx.hours_cap > 0) & (hours_free < ctx.tier_hours.min())] = 0  # no hours left for anyone
        queue = np.flatnonzero(in_queue)
        chosen = rows = np.zeros(0, np.int64)
        if len(queue):
            solves += 1
            residents: dict[int, list[tuple[frozenset, int]]] = {}
            stay_shared = staying[ctx.shared[pl_row[staying]]]
            stay_tier = ctx.tier_table[pool.tier[stay_shared], np.minimum(t - pl_month[stay_shared], cap_tier)]
            for p, tr in zip(stay_shared, stay_tier):
                residents.setdefault(int(ctx.prop_code[pl_row[p]]), []).append((pool.risks[p], int(tr)))
            fast = _fast_choice(ctx, P, pool, queue, free, residents, hours_free) if ctx.fast else None
            if fast is None:
                t0 = time.perf_counter()
                frame = _residents_frame(ctx, pool, pl_row, stay_shared, stay_tier)
                try:
                    chosen, rows = _engine_choice(ctx, P, pool, queue, free, frame, panel_day, hours_free)
                except MatchError:  # no proposal within the time limit: nobody placed by the panel this month
                    engine_failures += 1
                engine_calls += 1
                engine_seconds += time.perf_counter() - t0
            else:
                chosen, rows = fast
                if VERIFY_FAST_PATH:  # tests: the engine must find the same objective
                    frame = _residents_frame(ctx, pool, pl_row, stay_shared, stay_tier)
                    check, _ = _engine_choice(ctx, P, pool, queue, free, frame, panel_day, hours_free)
                    ours = [int(P.reward[chosen].sum()), int(P.penalty[chosen].sum()), int(P.cost[chosen].sum())]
                    theirs = [int(P.reward[check].sum()), int(P.penalty[check].sum()), int(P.cost[check].sum())]
                    if ours != theirs:
                        raise AssertionError(f"month {t}: fast path {ours} != engine {theirs}")
        placed = P.ref[chosen]
        pl_row[placed], pl_month[placed] = rows, t
        pl_end[placed] = t + pool.duration[placed]
        in_queue[placed] = False
        out[t, col["placed"]] = len(placed)
        for area, count in zip(*np.unique(pool.area[placed].astype(str), return_counts=True)):
            placed_area.setdefault(str(area), np.zeros(months))[t] = count
        if plan.trial_share > 0 and plan.trial_nights > 0 and len(placed):
            tried = trial_rng.random(len(placed)) < plan.trial_share
            start_tier = ctx.tier_table[pool.tier[placed[tried]], 0].astype(np.int64)
            out[t, col["trial_cost"]] = float(ctx.price[rows[tried], start_tier].sum()) * plan.trial_nights / DAYS_PER_WEEK
        out[t, col["over_20"]] += float((P.miles[chosen] > 20.0).sum())
        out[t, col["out_of_area"]] += float(P.out_of_area[chosen].sum())
        out[t, col["wait_days"]] += float((panel_day - referred[placed]).sum())
        # 3. The fallbacks: a spot purchase where one can be found, else emergency accommodation.
        left = np.flatnonzero(in_queue)
        spot = left[rng.random(len(left)) < fb.spot_share_available]
        pl_row[spot], pl_month[spot], pl_end[spot] = -2, t, t + pool.duration[spot]
        in_queue[spot] = False
        out[t, col["spot"]] = len(spot)
        out[t, col["over_20"]] += len(spot) * (fb.spot_typical_miles > 20.0)
        out[t, col["out_of_area"]] += len(spot) * bool(fb.spot_out_of_area)
        out[t, col["wait_days"]] += float((panel_day - referred[spot]).sum())
        out[t, col["new_placements"]] = len(placed) + len(spot)
        waiting = np.flatnonzero(in_queue)
        in_emergency = len(waiting)
        out[t, col["waiting"]] = len(waiting)
        waiting_tier[t] = np.bincount(pool.tier[waiting], minlength=3)
        for area, count in zip(*np.unique(pool.area[waiting].astype(str), return_counts=True)):
            waiting_area.setdefault(str(area), np.zeros(months))[t] = count
    return {"monthly": out, "tier": waiting_tier, "area": waiting_area, "placed_area": placed_area, "solves": solves,
            "engine_calls": engine_calls, "engine_seconds": engine_seconds, "engine_failures": engine_failures}


_CONTEXT: _Context | None = None
VERIFY_FAST_PATH = False  # tests set it: every fast-path month is also matched by the engine and compared


def _init_worker(ctx: _Context) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def _run_in_worker(seed: np.random.SeedSequence) -> dict:
    return _replicate(_CONTEXT, seed)


# --- the simulation -----------------------------------------------------------------------------


@dataclass
class Prepared:
    """A simulation ready to run: its context (what every replication reads) and the seed of each
    replication, so the replications can run anywhere (here, in processes, or on a cluster) and
    give the same answer."""

    context: _Context
    seed: int
    seeds: list[np.random.SeedSequence]

    def summarise(self, results: list[dict], seconds: float) -> SimulationResult:
        return _summarise(self.context, results, self.seed, seconds)


def prepare(supply: pd.DataFrame, arrivals: MonthlyArrivals, *, months: int, replications: int, seed: int,
            policy: Policy | None = None, fallback: Fallback = Fallback(), placing_authority: str,
            start: dt.date, plan: SupportPlan = SupportPlan(),
            initial_queue: pd.DataFrame | None = None, region: bool = False) -> Prepared:
    """Check the settings and build the context; replication i draws from
    ``np.random.SeedSequence(seed).spawn(replications)[i]``. ``region``: several councils' young
    people on one market (see the module docstring)."""
    if months < 1 or replications < 1:
        raise SimulationError("months and replications must be at least 1")
    if not 0.0 <= fallback.spot_share_available <= 1.0:
        raise SimulationError("spot_share_available is a share: 0 to 1")
    ctx = _context(supply, arrivals, months, policy or Policy(), fallback, plan, placing_authority, start, initial_queue,
                   region)
    return Prepared(ctx, seed, list(np.random.SeedSequence(seed).spawn(replications)))


def replicate(context: _Context, seed: np.random.SeedSequence) -> dict:
    """One replication: the same seed gives the same months, wherever it runs."""
    return _replicate(context, seed)


def simulate(supply: pd.DataFrame, arrivals: MonthlyArrivals, *, months: int, replications: int, seed: int,
             policy: Policy | None = None, fallback: Fallback = Fallback(), placing_authority: str,
             start: dt.date, workers: int = 1, progress: Callable[[int], None] | None = None,
             plan: SupportPlan = SupportPlan(), initial_queue: pd.DataFrame | None = None,
             region: bool = False) -> SimulationResult:
    """Simulate ``months`` months, ``replications`` times (seeded: replication i draws from
    ``np.random.SeedSequence(seed).spawn(replications)[i]``, so the answer does not depend on
    ``workers``). ``progress(done)`` hears of each finished replication. ``initial_queue``: young
    people already waiting at the start (a referrals frame, e.g. ``from_database(...).referrals``)."""
    started = time.perf_counter()
    prepared = prepare(supply, arrivals, months=months, replications=replications, seed=seed, policy=policy,
                       fallback=fallback, placing_authority=placing_authority, start=start, plan=plan,
                       initial_queue=initial_queue, region=region)
    ctx, seeds = prepared.context, prepared.seeds
    results: list[dict | None] = [None] * replications
    if workers > 1 and replications > 1:
        with ProcessPoolExecutor(min(workers, replications), initializer=_init_worker, initargs=(ctx,)) as pool:
            futures = {pool.submit(_run_in_worker, s): i for i, s in enumerate(seeds)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress:
                    progress(done)
    else:
        for i, s in enumerate(seeds):
            results[i] = _replicate(ctx, s)
            if progress:
                progress(i + 1)
    return prepared.summarise(results, time.perf_counter() - started)


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return float("nan"), float("nan"), float("nan")
    lo, mid, hi = np.nanpercentile(values, [10, 50, 90])
    return float(mid), float(lo), float(hi)


def _summarise(ctx: _Context, results: list[dict], seed: int, seconds: float) -> SimulationResult:
    months = ctx.months
    years = math.ceil(months / 12)
    col = {name: i for i, name in enumerate(MONTHLY)}
    monthly = np.stack([r["monthly"] for r in results])  # (reps, months, metrics)
    weeks = np.diff(ctx.month_start) / DAYS_PER_WEEK
    rows, tier_rows, area_rows, placed_rows = [], [], [], []
    areas = sorted({a for r in results for a in r["area"]})
    placed_areas = sorted({a for r in results for a in r.get("placed_area", {})})
    with np.errstate(divide="ignore", invalid="ignore"):
        for y in range(years):
            m = slice(12 * y, min(months, 12 * (y + 1)))
            s = monthly[:, m].sum(axis=1)
            total = (s[:, col["placement_cost"]] + s[:, col["spot_cost"]] + s[:, col["emergency_cost"]]
                     + s[:, col["void_cost"]] + s[:, col["trial_cost"]])
            new = s[:, col["new_placements"]]
            kpi = {
                "placements_made": s[:, col["placed"]],
                "spot_purchases": s[:, col["spot"]],
                "emergency_nights": s[:, col["emergency_nights"]],
                "unmet_need": monthly[:, m, col["waiting"]].mean(axis=1),
                "total_cost": total,
                "weekly_cost": total / weeks[m].sum(),
                "unit_weekly_cost": np.where(s[:, col["placed_weeks"]] > 0, total / s[:, col["placed_weeks"]], np.nan),
                "void_cost": s[:, col["void_cost"]],
                "trial_stay_cost": s[:, col["trial_cost"]],
                "floating_support_cost": s[:, col["floating_support_cost"]],
                "share_over_20_miles": np.where(new > 0, s[:, col["over_20"]] / new, np.nan),
                "share_out_of_area": np.where(new > 0, s[:, col["out_of_area"]] / new, np.nan),
                "average_wait_days": np.where(new > 0, s[:, col["wait_days"]] / new, np.nan),
            }
            for name in KPIS:
                rows.append({"year": y + 1, "kpi": name, **dict(zip(("median", "p10", "p90"), _quantiles(kpi[name])))})
            for t, tier in enumerate(TIERS):
                v = np.array([r["tier"][m, t].mean() for r in results])
                tier_rows.append({"year": y + 1, "tier": tier, **dict(zip(("median", "p10", "p90"), _quantiles(v)))})
            for area in areas:
                v = np.array([r["area"][area][m].mean() if area in r["area"] else 0.0 for r in results])
                area_rows.append({"year": y + 1, "area": area, **dict(zip(("median", "p10", "p90"), _quantiles(v)))})
            for area in placed_areas:
                v = np.array([r["placed_area"][area][m].sum() if area in r["placed_area"] else 0.0 for r in results])
                placed_rows.append({"year": y + 1, "area": area, **dict(zip(("median", "p10", "p90"), _quantiles(v)))})
    reps, _, _ = monthly.shape
    long = pd.DataFrame(monthly.reshape(reps * months, len(MONTHLY)), columns=MONTHLY)
    long.insert(0, "month", np.tile(np.arange(months), reps))
    long.insert(0, "replication", np.repeat(np.arange(reps), months))
    q = ["median", "p10", "p90"]
    return SimulationResult(
        years=pd.DataFrame(rows, columns=["year", "kpi", *q]),
        unmet_by_tier=pd.DataFrame(tier_rows, columns=["year", "tier", *q]),
        unmet_by_area=pd.DataFrame(area_rows, columns=["year", "area", *q]),
        placed_by_area=pd.DataFrame(placed_rows, columns=["year", "area", *q]),
        monthly=long, seed=seed, replications=len(results), months=months, seconds=seconds,
        month_solves=sum(r["solves"] for r in results), engine_calls=sum(r["engine_calls"] for r in results),
        engine_seconds=sum(r["engine_seconds"] for r in results),
        engine_failures=sum(r["engine_failures"] for r in results),
        notes=[f"{len(ctx.capacity)} supply rows, {int(ctx.capacity.sum())} beds ({int(ctx.occupied.sum())} occupied at the start, "
               f"{int(ctx.capacity[ctx.block].sum())} block)",
               "spot prices a week by tier: " + ", ".join(f"{t} £{p:,.0f}" for t, p in zip(TIERS, ctx.spot_price))],
    )
