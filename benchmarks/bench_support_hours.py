"""Floating support sized in hours: a county's dense queue where a third of the care leavers
ask for support in their own homes, against packages whose hours are scarce.

Run: .venv/bin/python -m benchmarks.bench_support_hours [--sizes 100x300 300x1000 1000x3000]
     [--time-limit 60] [--json PATH]

Each size NxR is the dense county instance of ``benchmarks.instances`` (N young people, R
vacancy rows, every home within reach), with a third of the young people of 18 or over (not in
sibling groups) in
tenancies of their own asking for floating support (the only type that suits them) and one package per 10 of them at real postcodes among the
homes, each with 30 to 60 support hours a week free: about a third of the hours they need at
the policy's 6 / 14 / 25 hours a tier. So packages bind, and a package's hours, not its beds,
decide who it supports. Printed per size: the engine's time, whether the answer is proven,
placed young people (on a package), support hours given against hours free (never more, by
the independent checker), and the one-at-a-time panel's placements (``matching.baselines``)
under the same hours. Timings are this machine's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.instances import make_dense_instance
from matching import checker
from matching.baselines import greedy
from matching.engine import match
from matching.instance import SUPPORT_HOURS, Instance
from matching.policy import Policy, SolverSettings
from models.enums import ServiceType

ASKING_SHARE = 1 / 3  # of the young people aged 18 or over
PEOPLE_PER_PACKAGE = 10
HOURS_FREE = (30, 60)


def with_packages(instance: Instance, seed: int) -> tuple[Instance, int]:
    """The instance with packages added and some care leavers asking for floating support."""
    rng = np.random.default_rng(seed)
    refs = instance.referrals.copy()
    age = (pd.Timestamp(instance.panel_date) - pd.to_datetime(refs["date_of_birth"])).dt.days / 365.25
    # Not a sibling: a sibling group is placed together, in one home or none.
    adults = np.flatnonzero((age.to_numpy() >= 18.1) & refs["sibling_group"].isna().to_numpy())
    asking = rng.choice(adults, size=int(len(adults) * ASKING_SHARE), replace=False)
    suits = list(refs["type_suitability"])
    others = {t.value: "unsuitable" for t in ServiceType if t != ServiceType.floating_support}
    for i in asking:  # in a tenancy of their own: support is what they need, not a bed
        suits[i] = {**others, "floating_support": "preferred"}
    refs["type_suitability"] = suits
    vac = instance.vacancies.copy()
    n = max(1, len(asking) // PEOPLE_PER_PACKAGE)
    base = vac.drop_duplicates("property_id").sample(n=min(n, vac["property_id"].nunique()), random_state=seed)
    packages = base.assign(
        vacancy_id=[f"F{k:05d}" for k in range(len(base))], property_id=[f"FP{k:05d}" for k in range(len(base))],
        provider_id=[f"FPRV{k % 7}" for k in range(len(base))], beds=12, available_from=pd.Timestamp(instance.panel_date),
        reserved_for=None, service_type="floating_support", setting="private_residence", ofsted_registered=False,
        ofsted_grade="good", sex="any", age_min=18, age_max=25,
        accepts_needs=[["autism_adhd", "esol", "learning_disability", "mental_health"]] * len(base),
        excludes_risks=[[] for _ in range(len(base))],
        price_standard=[float(h) * 6 for h in rng.integers(20, 36, len(base))],
        price_enhanced=[float(h) * 14 for h in rng.integers(20, 36, len(base))],
        price_intensive=[float(h) * 25 for h in rng.integers(20, 36, len(base))],
        **{SUPPORT_HOURS: rng.integers(HOURS_FREE[0], HOURS_FREE[1] + 1, len(base))},
    )
    vac = pd.concat([vac, packages], ignore_index=True)
    return Instance(instance.panel_date, instance.placing_authority, refs, vac, instance.residents), len(asking)


def run(size: str, time_limit: float) -> dict:
    people, rows = (int(x) for x in size.lower().split("x"))
    base, cap = make_dense_instance(people, rows, seed=people + rows)
    instance, asking = with_packages(base, seed=people)
    policy = Policy(distance_cap_miles=cap, solver=SolverSettings(time_limit_seconds=time_limit, workers=1))
    started = time.perf_counter()
    result = match(instance, policy, practice=False)
    seconds = time.perf_counter() - started
    chosen = result.matches
    proposal = list(zip(chosen["referral_id"], chosen["vacancy_id"]))
    faults = checker.check(proposal, instance, policy)
    hours = instance.vacancies.set_index("vacancy_id")[SUPPORT_HOURS]
    on_package = chosen[chosen["vacancy_id"].map(hours).fillna(0).to_numpy() > 0]
    given = int(sum(policy.hours_needed(t) for t in on_package["tier"]))
    baseline, _ = greedy(result.eligibility.pairs, instance, policy)
    on_package_greedy = baseline[baseline["vacancy_id"].map(hours).fillna(0).to_numpy() > 0]
    return {
        "size": size, "asking": asking, "packages": int((hours > 0).sum()), "pairs": int(result.pair_count),
        "seconds": round(seconds, 2), "status": str(result.status),
        "gap": {k: round(float(v), 4) for k, v in result.gap.items()}, "placed": len(chosen),
        "on_packages": len(on_package), "hours_given": given, "hours_free": int(hours[hours > 0].sum()),
        "checker_faults": len(faults), "greedy_placed": len(baseline), "greedy_on_packages": len(on_package_greedy),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100x300", "300x1000", "1000x3000"])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = [run(size, args.time_limit) for size in args.sizes]
    table = Table(title="Floating support in hours: dense county queues, scarce package hours")
    for column in ("size", "asking", "packages", "pairs", "seconds", "status", "gap (placed, fit)", "placed", "on packages",
                   "hours given / free", "checker faults", "one at a time: placed (on packages)"):
        table.add_column(column, justify="left" if column in ("size", "status") else "right")
    for r in results:
        table.add_row(r["size"], str(r["asking"]), str(r["packages"]), f"{r['pairs']:,}", f"{r['seconds']:.1f}",
                      r["status"], f"{r['gap'].get('reward', 0):.1%}, {r['gap'].get('penalty', 0):.1%}", str(r["placed"]), str(r["on_packages"]), f"{r['hours_given']} / {r['hours_free']}",
                      str(r["checker_faults"]), f"{r['greedy_placed']} ({r['greedy_on_packages']})")
    Console(width=200).print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
