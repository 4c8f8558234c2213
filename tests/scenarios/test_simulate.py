"""The tender simulation: small, seeded runs (12 months x 3 replications) on synthetic supply at
real postcodes around Medway."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import scenarios.simulate as S
from matching.instance import VACANCY_COLUMNS
from scenarios.simulate import Fallback, MonthlyArrivals, SimulationError, simulate

MEDWAY = "E06000035"
START = dt.date(2026, 12, 1)
MONTHS, REPS = 12, 3


def supply(homes: int, beds_each: int, *, tiers=("standard", "enhanced", "intensive"), setting="self_contained",
           block: bool = False, void: float = 0.0, seed: int = 3, prefix: str = "P") -> pd.DataFrame:
    """Homes that accept everyone (any needs, no excluded risks, any sex, 16-25, graded good) at
    real postcodes in Medway and its neighbours."""
    from benchmarks.instances import _places

    where = _places(np.random.default_rng(seed), homes, 2)
    prices = {"standard": 1000.0, "enhanced": 1800.0, "intensive": 3500.0}
    rows = []
    for k in range(homes):
        rows.append({
            "vacancy_id": f"{prefix}{k:04d}", "property_id": f"{prefix}{k:04d}", "provider_id": f"PRV{k % 7}",
            "beds": beds_each, "available_from": pd.Timestamp(START), "reserved_for": None,
            "postcode": where.at[k, "postcode"], "easting": float(where.at[k, "easting"]),
            "northing": float(where.at[k, "northing"]), "la_code": where.at[k, "la_code"],
            "service_type": "supported_accommodation", "setting": setting, "ofsted_registered": True,
            "ofsted_grade": "good", "sex": "any", "age_min": 16, "age_max": 25,
            "accepts_needs": ["autism_adhd", "esol", "learning_disability", "mental_health", "pregnant_or_parenting"],
            "excludes_risks": [],
            **{f"price_{t}": (prices[t] * (0.8 if block else 1.0) if t in tiers else np.nan) for t in prices},
            "block": block, "void_weekly_cost": void, "lot": "block" if block else "dps", "framework": None,
        })
    frame = pd.DataFrame(rows)
    assert set(VACANCY_COLUMNS) <= set(frame.columns)
    return frame


ARRIVALS = MonthlyArrivals.constant({"standard": 5, "enhanced": 3, "intensive": 1})


def run(sup, arrivals=ARRIVALS, seed=11, **kw):
    return simulate(sup, arrivals, months=kw.pop("months", MONTHS), replications=kw.pop("replications", REPS),
                    seed=seed, placing_authority=MEDWAY, start=START, **kw)


def kpi(result, name, year=1, stat="median"):
    y = result.years
    return float(y[(y["year"] == year) & (y["kpi"] == name)][stat].iloc[0])


def test_ample_supply_leaves_no_unmet_need():
    result = run(supply(60, 4), fallback=Fallback(spot_share_available=0.0))
    assert kpi(result, "placements_made", stat="p10") > 80  # about 9 a month arrive
    for name in ("unmet_need", "spot_purchases", "emergency_nights"):
        assert kpi(result, name, stat="p90") == 0
    assert result.unmet_by_tier["p90"].max() == 0
    assert kpi(result, "average_wait_days") < 31  # everyone is placed at the first panel
    assert 1000 <= kpi(result, "unit_weekly_cost") <= 3500


def test_removing_supply_raises_unmet_need_or_spot_purchases():
    ample = run(supply(60, 4))
    scarce = run(supply(6, 4))
    assert kpi(scarce, "spot_purchases") > kpi(ample, "spot_purchases") + 20
    assert kpi(scarce, "placements_made") < kpi(ample, "placements_made")
    assert kpi(scarce, "share_over_20_miles") > kpi(ample, "share_over_20_miles")  # spot homes are 25 miles away
    # Without spot purchase the same shortage is unmet need and emergency nights.
    no_spot = run(supply(6, 4), fallback=Fallback(spot_share_available=0.0))
    assert kpi(no_spot, "unmet_need") > 5
    assert kpi(no_spot, "emergency_nights") > 1000
    assert set(no_spot.unmet_by_area["area"]) and no_spot.unmet_by_area["median"].max() > 0


def test_a_block_contract_nobody_can_use_costs_void():
    """Block beds offering only the standard tier, while every young person needs intensive
    support: none can be used, so every block bed is void all year."""
    block = supply(3, 4, tiers=("standard",), block=True, void=500.0, prefix="B")
    rest = supply(40, 3, seed=4)
    intensive_only = MonthlyArrivals.constant({"intensive": 4})
    result = run(pd.concat([rest, block], ignore_index=True), intensive_only)
    weeks = (pd.Timestamp(START) + pd.DateOffset(months=12) - pd.Timestamp(START)).days / 7
    assert kpi(result, "void_cost") == pytest.approx(12 * 500.0 * weeks)
    assert kpi(result, "void_cost", stat="p10") == kpi(result, "void_cost", stat="p90")
    used = run(pd.concat([rest, block], ignore_index=True), MonthlyArrivals.constant({"standard": 9}))
    assert kpi(used, "void_cost") < kpi(result, "void_cost")  # standard young people fill them


def test_the_same_seed_gives_the_same_result_and_different_seeds_differ():
    sup = supply(12, 3)
    a, b, c = run(sup, seed=5), run(sup, seed=5), run(sup, seed=6)
    pd.testing.assert_frame_equal(a.years, b.years)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    assert not a.monthly.equals(c.monthly)


def test_workers_do_not_change_the_answer_and_progress_is_reported():
    sup = supply(12, 3)
    heard = []
    serial = run(sup, seed=9, months=6)
    parallel = run(sup, seed=9, months=6, workers=2, progress=heard.append)
    pd.testing.assert_frame_equal(serial.monthly, parallel.monthly)
    assert sorted(heard) == [1, 2, 3]


def test_the_fast_path_finds_the_engines_optimum(monkeypatch):
    """Every month the simulation decides without the engine is matched by the engine too:
    the same urgency-weighted placements, penalty and cost (shared homes, so side constraints
    and contention both occur)."""
    monkeypatch.setattr(S, "VERIFY_FAST_PATH", True)
    sup = supply(10, 3, setting="shared_care_experienced")
    result = run(sup, MonthlyArrivals.constant({"standard": 4, "enhanced": 3, "intensive": 3}), months=8)
    assert result.month_solves == 3 * 8
    assert result.engine_calls < result.month_solves


def test_trial_stays_cost_by_the_night_and_change_no_one_s_placement():
    """A trial before every panel placement: its cost is the nights at the home's weekly price
    over seven, counted in the total, and nothing else moves (trials draw from their own stream)."""
    sup = supply(6, 2)
    none = run(sup, plan=S.SupportPlan(), replications=1)  # one replication: medians are its values
    one_night = run(sup, plan=S.SupportPlan(trial_share=1.0, trial_nights=1), replications=1)
    a_week = run(sup, plan=S.SupportPlan(trial_share=1.0, trial_nights=7), replications=1)
    half = run(sup, plan=S.SupportPlan(trial_share=0.5, trial_nights=7), replications=1)
    assert kpi(none, "trial_stay_cost") == 0.0
    for other in ("placements_made", "spot_purchases", "unmet_need", "void_cost"):
        assert kpi(one_night, other) == kpi(none, other) == kpi(a_week, other), other
    assert kpi(one_night, "trial_stay_cost") > 0
    assert kpi(a_week, "trial_stay_cost") == pytest.approx(7 * kpi(one_night, "trial_stay_cost"))
    assert kpi(a_week, "total_cost") - kpi(none, "total_cost") == pytest.approx(kpi(a_week, "trial_stay_cost"))
    assert 0 < kpi(half, "trial_stay_cost") < kpi(a_week, "trial_stay_cost")


def test_support_plan_steps_down_and_ends():
    table = S.SupportPlan().tier_table()
    assert list(table[2, :13]) == [2] * 6 + [1] * 6 + [0]
    assert list(table[1, :7]) == [1] * 6 + [0]
    assert set(table[0]) == {0}


def test_arrivals_from_the_demo_forecast(tmp_path):
    from scenarios.demo_history import demo_history

    arrivals = S.arrivals_from_history(demo_history(tmp_path / "903"), dt.date(2026, 11, 23), 24)
    rate = arrivals.rate(24)
    assert rate.shape == (24, 3)
    assert 2 < rate.sum(axis=1).mean() < 20  # new referrals a month for a Medway-sized council
    assert rate[:, 0].mean() > rate[:, 2].mean()  # more standard than intensive


def test_bad_inputs_are_refused():
    with pytest.raises(SimulationError, match="lacks columns: block"):
        run(supply(3, 1).drop(columns=["block"]))
    with pytest.raises(SimulationError, match="share"):
        run(supply(3, 1), fallback=Fallback(spot_share_available=1.5))


def packages(n: int, hours: int, beds: int = 8) -> pd.DataFrame:
    """Floating support packages: support into young people's own homes, sized in hours."""
    frame = supply(n, beds, prefix="F").assign(service_type="floating_support", setting="private_residence",
                                               ofsted_registered=False, price_standard=150.0,
                                               price_enhanced=350.0, price_intensive=625.0)
    frame[S.SUPPORT_HOURS] = hours
    return frame


def leavers(rng, n):
    """Care leavers of 20 in their own tenancies, asking for floating support."""
    frame = S.synthetic_referrals(rng, n)
    frame["date_of_birth"] = pd.Timestamp("2006-06-01")
    frame["legal_status"] = "former_relevant"
    frame["type_suitability"] = [{"floating_support": "preferred"} for _ in range(len(frame))]
    return frame


def test_a_package_s_hours_are_never_over_committed_month_by_month(monkeypatch):
    """Every month's choice, by the fast path or the engine, gives each package no more hours
    than it has free after the young people it supports (at their tier that month)."""
    monkeypatch.setattr(S, "VERIFY_FAST_PATH", True)
    seen = []

    def watch(choose):
        def watched(ctx, P, pool, queue, free, *rest):
            got = choose(ctx, P, pool, queue, free, *rest)
            if got is not None and len(got[0]):
                hours_free = rest[-1]
                given = np.bincount(got[1], weights=ctx.tier_hours[P.tier[got[0]]], minlength=len(free))
                seen.append(bool((given[ctx.hours_cap > 0] <= hours_free[ctx.hours_cap > 0]).all()))
            return got
        return watched

    monkeypatch.setattr(S, "_fast_choice", watch(S._fast_choice))
    monkeypatch.setattr(S, "_engine_choice", watch(S._engine_choice))
    arrivals = MonthlyArrivals.constant({"standard": 3, "enhanced": 2, "intensive": 1}, draw=leavers)
    result = run(packages(3, 30), arrivals, months=8)
    assert len(seen) >= 8 and all(seen)
    assert result.engine_calls > 0  # hours bound: the engine decided some months


def test_floating_support_is_limited_by_hours_and_costed():
    arrivals = MonthlyArrivals.constant({"standard": 3, "enhanced": 2, "intensive": 1}, draw=leavers)
    few = run(packages(2, 20), arrivals, replications=1)
    many = run(packages(2, 400), arrivals, replications=1)
    assert kpi(few, "placements_made") < kpi(many, "placements_made")
    assert kpi(many, "floating_support_cost") > kpi(few, "floating_support_cost") > 0
    # Only packages here, so their cost is every placement's (the rest is spot and emergency).
    monthly = many.monthly
    assert monthly["floating_support_cost"].sum() == pytest.approx(monthly["placement_cost"].sum())
    beds = run(supply(2, 2), arrivals, replications=1)
    assert kpi(beds, "floating_support_cost") == 0.0
