"""Sweep benchmark: ``--options`` tender scenarios (prices from -``options``/2% to
+``options``/2%, the demo council's market and forecast demand) x ``--replications`` x
``--years`` years, run in one process and on a local Dask cluster of 1, 2, ... workers
(``--workers 1,2``), or on a running cluster (``--cluster tcp://host:8786``).

Run: .venv/bin/python -m benchmarks.bench_sweep [--options 20 --replications 100 --years 5]
     .venv/bin/python -m benchmarks.bench_sweep --region --options 2 --replications 4 --years 1
       (the South East demo's 17 councils on one market: each option a price change across the
       co-operative's framework; each council's demand the demo council's scaled by its queue)

Prints wall time, the speed-up each added worker gives, and the overhead of the distributed
run at 1 worker against the single-process run; checks every sweep equals the single-process
result. Timings are this machine's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

START = dt.date(2026, 11, 23)
MEDWAY = "E06000035"


def _prepared(folder: Path, options: int, replications: int, years: int, region: bool = False):
    from api.scenario_cli import load_market
    from matching.instance import from_database
    from models.db import make_engine, migrate, transaction
    from providers.demo import build_demo
    from scenarios.demo_history import demo_history
    from scenarios.region_demo import RCC_NAME, build_region_demo
    from scenarios.tender_run import demand_for, prepare_scenario, regional_demand, regional_queue

    url = f"sqlite:///{folder / 'placematch.db'}"
    os.environ["DATABASE_URL"] = url
    engine = make_engine(url)
    migrate(engine)
    with transaction(engine) as session:
        (build_region_demo if region else build_demo)(session, seed=2026, as_of=START)
    on = f"\n      framework: {RCC_NAME} 16-25 Accommodation Framework" if region else ""
    files = []
    for k in range(options):
        percent = k - options // 2
        path = folder / f"option{k:02d}.yaml"
        path.write_text(f"name: Prices {percent:+d}%\nhorizon_years: {years}\nreplications: {replications}\n"
                        f"seed: {2026 + k}\nsupply:\n  price_changes:\n    - percent: {percent}{on}\n")
        files.append(path)
    _, loaded = load_market(files, START)
    history = demo_history(folder / "ssda903")
    with transaction(engine) as session:
        councils, queue = regional_queue(session, START) if region else (
            [MEDWAY], from_database(session, MEDWAY, START).referrals)
        prepared = {s.name: prepare_scenario(
            s, supply, regional_demand(session, s, history, demo_council=MEDWAY) if region else
            demand_for(session, s, history), queue=queue, placing_authority=councils[0], start=START)
            for _, s, supply in loaded}
    engine.dispose()
    return prepared


def main() -> None:
    from scenarios.simulate import replicate
    from scenarios.sweep import cluster, run_sweep

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--options", type=int, default=20)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--workers", default="1,2", help="local cluster sizes, comma-separated")
    parser.add_argument("--cluster", default=None, help="a running Dask cluster's address instead")
    parser.add_argument("--region", action="store_true", help="the South East regional demo instead")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = _prepared(Path(tmp), args.options, args.replications, args.years, args.region)
        t = time.perf_counter()
        single = {name: p.summarise([replicate(p.context, s) for s in p.seeds], 0.0) for name, p in prepared.items()}
        single_s = time.perf_counter() - t
        runs = []
        sizes = [None] if args.cluster else [int(w) for w in args.workers.split(",")]
        for size in sizes:
            t = time.perf_counter()
            with cluster(args.cluster, size or 1) as client:
                n = len(client.scheduler_info()["workers"])
                swept = run_sweep(prepared, client)
            seconds = time.perf_counter() - t
            same = all(swept[k].years.equals(single[k].years) for k in single)
            runs.append((n, seconds, same))
    tasks = args.options * args.replications
    table = Table(title=f"Sweep: {args.options} options x {args.replications} replications x {12 * args.years} "
                        f"months ({tasks:,} replications), {'South East demo, 17 councils' if args.region else 'demo council'}, "
                        f"{os.cpu_count()} cores")
    for col in ("run", "workers", "seconds", "replications a second", "speed-up vs 1 worker",
                "overhead vs one process", "same result as one process"):
        table.add_column(col, justify="left" if col == "run" else "right")
    table.add_row("one process (no engine)", "1", f"{single_s:.1f}", f"{tasks / single_s:.2f}", "-", "-", "-")
    one = next((s for n, s, _ in runs if n == 1), None)
    for n, seconds, same in runs:
        table.add_row("Dask, " + ("cluster at " + args.cluster if args.cluster else "local cluster"), str(n),
                      f"{seconds:.1f}", f"{tasks / seconds:.2f}", f"{one / seconds:.2f}x" if one else "-",
                      f"{(seconds - single_s) / single_s:+.1%}" if n == 1 else "-", "yes" if same else "NO")
    console.print(table)


if __name__ == "__main__":
    main()
