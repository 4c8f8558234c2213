"""Tender simulation benchmark: 5 years month by month, 100 replications, on the demo council.

Run: .venv/bin/python -m benchmarks.bench_scenarios [--months 60] [--replications 100] [--workers 1,2] [--runs 1]

The demo council is built into a temporary SQLite database (seed 2026, panel day 2026-11-23).
Supply: every property of the demo with its capacity (``total_beds``), the beds its free
vacancies leave occupied at the start, and its block-contract flag and void cost from the lot
its prices were bought under; the columns are the engine's vacancies frame (as
``matching.instance.from_database`` builds it) plus block, void_weekly_cost, lot, framework.
The 64 open referrals are the queue at the start. Arrivals: the demo council's SSDA903 returns
through the cohort model (``scenarios.simulate.arrivals_from_history``).

Each configuration runs in a fresh process, so its peak memory (ru_maxrss of the process and
its worker children) is its own. Target: under 60 s for 60 months x 100 replications.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0
DEMO_DAY = dt.date(2026, 11, 23)


def run(months: int, replications: int, workers: int) -> dict:
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "api"))
    from demo_council import demo_database
    from sqlalchemy.orm import Session

    from matching.instance import from_database
    from models.db import make_engine
    from providers.demo import DEMO_AUTHORITY
    from scenarios.demo_history import demo_history
    from scenarios.simulate import arrivals_from_history, simulate
    from scenarios.tender import supply_from_database

    with tempfile.TemporaryDirectory(prefix="placematch-scenarios-") as tmp:
        db = demo_database(Path(tmp) / "demo.db")
        engine = make_engine(f"sqlite:///{db}")
        with Session(engine) as session:
            supply = supply_from_database(session, DEMO_DAY)
            queue = from_database(session, DEMO_AUTHORITY, DEMO_DAY).referrals
        engine.dispose()
        history = demo_history(Path(tmp) / "ssda903")
    arrivals = arrivals_from_history(history, DEMO_DAY, months)
    t0 = time.perf_counter()
    result = simulate(supply, arrivals, months=months, replications=replications, seed=2026,
                      placing_authority=DEMO_AUTHORITY, start=DEMO_DAY, workers=workers, initial_queue=queue)
    wall = time.perf_counter() - t0
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    table = result.years[result.years["year"].isin([1, result.years["year"].max()])]
    return {
        "months": months, "replications": replications, "workers": workers, "wall": wall,
        "per_solve": wall * max(1, workers if workers > 1 else 1) / max(1, result.month_solves),
        "solves": result.month_solves, "engine_calls": result.engine_calls,
        "engine_per_call": result.engine_seconds / max(1, result.engine_calls),
        "peak_mib": peak / 1024, "arrivals": arrivals.source, "notes": result.notes,
        "kpis": table.round(2).to_dict(orient="records"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run: print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.months, args.replications, int(args.workers))))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    table = Table(title=f"Tender simulation on the demo council (target: under {TARGET_S:.0f} s)")
    for name in ("months", "replications", "workers", "wall s", "s per month-solve", "month-solves",
                 "engine calls", "s per engine call", "peak memory MiB", "within target"):
        table.add_column(name, justify="right")
    last = None
    for workers in [int(w) for w in args.workers.split(",")]:
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, "-m", "benchmarks.bench_scenarios", "--one", "--months", str(args.months),
                                  "--replications", str(args.replications), "--workers", str(workers)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            last = r
            table.add_row(str(r["months"]), str(r["replications"]), str(r["workers"]), f"{r['wall']:.1f}",
                          f"{r['per_solve'] * 1000:.2f} ms", f"{r['solves']:,}", f"{r['engine_calls']:,}",
                          f"{r['engine_per_call'] * 1000:.1f} ms", f"{r['peak_mib']:.0f}",
                          "yes" if r["wall"] < TARGET_S else "NO")
    console.print(table)
    if last:
        console.print(f"arrivals: {last['arrivals']}")
        for note in last["notes"]:
            console.print(f"supply: {note}")
        console.print("s per month-solve: wall time x workers / month-solves (months with someone waiting)")
        kpis = Table(title="KPIs, first and last year (median, 10th-90th percentile)")
        for name in ("year", "kpi", "median", "p10", "p90"):
            kpis.add_column(name, justify="right")
        for row in last["kpis"]:
            kpis.add_row(str(row["year"]), row["kpi"], f"{row['median']:,}", f"{row['p10']:,}", f"{row['p90']:,}")
        console.print(kpis)


if __name__ == "__main__":
    main()
