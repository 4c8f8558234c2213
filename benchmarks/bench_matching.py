"""Matching benchmark: the engine against min-cost flow alone and the greedy panel.

Run: .venv/bin/python -m benchmarks.bench_matching [--sizes 50x200,300x1500,1000x5000,5000x20000]

Every measurement runs in a fresh process, so its peak memory (ru_maxrss) is its own. For each
instance (young people x beds, around 40 eligible options each, on the demo council's
geography) it prints wall time and peak memory of the engine end to end, of the bare
min-cost flow and of greedy, the gap, and placed / total miles / over 20 miles / weekly cost
of the engine against greedy. Then the same comparison on the demo council and on a scarce
instance (fewer beds than young people).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

DEFAULT_SIZES = "50x200,300x1500,1000x5000,5000x20000"


def _instance(spec: str):
    from benchmarks.instances import make_instance
    from matching.policy import Policy, SolverSettings

    if spec == "demo":
        from matching.instance import from_database
        from models.db import make_engine, migrate, transaction
        from providers.demo import DEMO_AUTHORITY, build_demo

        engine = make_engine("sqlite://")
        migrate(engine)
        day = dt.date(2026, 11, 23)
        with transaction(engine) as s:
            build_demo(s, seed=2026, as_of=day)
        with transaction(engine) as s:
            return from_database(s, DEMO_AUTHORITY, day), Policy()
    people, beds = (int(x) for x in spec.removesuffix("-scarce").split("x"))  # scarce: beds < people
    instance, cap = make_instance(people, beds, seed=people)
    return instance, Policy(distance_cap_miles=cap, solver=SolverSettings(time_limit_seconds=120))


def measure(spec: str, method: str) -> dict:
    """One method on one instance, in this process (called in a child process)."""
    from matching.baselines import greedy, summary_row
    from matching.eligibility import eligible_pairs
    from matching.engine import match
    from matching.flow import solve_flow
    from matching.scoring import score

    instance, policy = _instance(spec)
    total = len(instance.referrals)
    started = time.perf_counter()
    out: dict = {"spec": spec, "method": method, "young_people": total,
                 "beds": int(instance.vacancies["beds"].sum())}
    if method == "engine":
        result = match(instance, policy)
        out.update(status=result.status, proven_by=result.proven_by, pairs=result.pair_count,
                   gap=max((g for g in result.gap.values() if g == g), default=0.0),  # NaN: a level not reached
                   stages=result.seconds)
        chosen = result.matches
    else:
        eligibility = eligible_pairs(instance, policy)
        pairs = score(eligibility.pairs, policy)
        out["pairs"] = len(pairs)
        chosen = solve_flow(pairs, instance, policy).chosen if method == "flow" else greedy(pairs, instance, policy)[0]
    out["seconds"] = time.perf_counter() - started
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.update(summary_row(chosen, total))
    return out


def _child(spec: str, method: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_matching", "--one", spec, method],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--one", nargs=2, metavar=("SPEC", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one), default=str))
        return

    console = Console(width=160)
    specs = args.sizes.split(",") + ["demo", "300x250-scarce"]
    speed = Table(title="Matching: time and peak memory (each in a fresh process)")
    for col in ("instance", "pairs", "engine s", "engine MiB", "status", "proven by", "gap",
                "flow s", "flow MiB", "greedy s", "engine/flow"):
        speed.add_column(col, justify="left" if col in ("instance", "status", "proven by") else "right")
    quality = Table(title="Matching: engine against greedy (one at a time, most urgent first, nearest bed)")
    for col in ("instance", "placed", "greedy placed", "total miles", "greedy miles", "miles change",
                "over 20", "greedy over 20", "£/week", "greedy £/week"):
        quality.add_column(col, justify="left" if col == "instance" else "right")
    for spec in specs:
        e, f, g = (_child(spec, m) for m in ("engine", "flow", "greedy"))
        speed.add_row(
            spec, f"{e['pairs']:,}", f"{e['seconds']:.2f}", f"{e['peak_mib']:.0f}", e["status"],
            str(e["proven_by"]), f"{e['gap']:.4f}", f"{f['seconds']:.2f}", f"{f['peak_mib']:.0f}",
            f"{g['seconds']:.2f}", f"{e['seconds'] / max(f['seconds'], 1e-9):.1f}x",
        )
        change = (e["total_miles"] - g["total_miles"]) / g["total_miles"] * 100 if g["total_miles"] else 0.0
        quality.add_row(
            spec, str(e["placed"]), str(g["placed"]), f"{e['total_miles']:,.1f}", f"{g['total_miles']:,.1f}",
            f"{change:+.1f}%", str(e["over_20_miles"]), str(g["over_20_miles"]),
            f"{e['weekly_cost']:,.0f}", f"{g['weekly_cost']:,.0f}",
        )
        console.print(f"done {spec}", style="dim")
    console.print(speed)
    console.print(quality)


if __name__ == "__main__":
    main()
