"""Forecast benchmark: a 5-year projection with 80% and 95% intervals for the demo council
(about 400 children looked after and 250-300 care leavers), and the backtest.

Run: .venv/bin/python -m benchmarks.bench_forecast [--replications 500] [--runs 3]

Each run starts from the SSDA903 files on disk (written once by scenarios.demo_history) and
times reading and checking them, the projection with its bootstrap (``--replications``
replications, each re-estimating the rates and simulating with process noise), and writing
projection.csv, beds.csv and the fan chart. Target: under 5 s in all. Peak memory is the
process's high-water mark.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from api.forecast_cli import backtest_table
from scenarios import cohort as C
from scenarios.backtest import coverage, run_backtest
from scenarios.demo_history import write as write_returns
from scenarios.forecast import forecast_history, write
from scenarios.ssda903 import read_history

TARGET_S = 5.0


def council_size(history) -> tuple[int, int]:
    last = history.census_dates[-1]
    day = pd.Timestamp(last)
    eps = history.episodes
    looked_after = eps[(eps["DECOM"] <= day) & (eps["DEC"].isna() | (eps["DEC"] > day))][["LA", "CHILD"]]
    snap = C.snapshot(history, last)
    return looked_after.drop_duplicates().shape[0], int(snap["state"].isin(["care_leaver", "staying_put"]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=5)
    args = parser.parse_args()
    console = Console(width=160)
    rows = []
    with tempfile.TemporaryDirectory(prefix="placematch-forecast-") as tmp:
        folder = Path(tmp)
        paths = write_returns(folder / "ssda903")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            history = read_history(paths)
            t1 = time.perf_counter()
            result = forecast_history(history, args.horizon, replications=args.replications)
            t2 = time.perf_counter()
            write(result, folder / "out")
            t3 = time.perf_counter()
            rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        looked_after, leavers = council_size(history)
        t = time.perf_counter()
        backtest = run_backtest(history, C.Rules(continue_to_25_share=0.0), replications=200)
        backtest_s = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = Table(title=f"Forecast: {args.horizon}-year projection with intervals ({args.replications} bootstrap "
                        f"replications), demo council: {looked_after} looked after, {leavers} care leavers and "
                        "Staying Put at the last 31 March")
    for col in ("step", "median s", "min s", "max s"):
        table.add_column(col, justify="left" if col == "step" else "right")
    for k, step in enumerate(("read and check the SSDA903 files", "estimate, bootstrap and project",
                              "write CSV and fan chart", f"total (target < {TARGET_S:.0f} s)")):
        values = [r[k] for r in rows]
        table.add_row(step, f"{statistics.median(values):.2f}", f"{min(values):.2f}", f"{max(values):.2f}")
    console.print(table)
    cover80, cover95 = coverage(backtest.cells[backtest.cells["horizon"] == 1])
    console.print(backtest_table(backtest.by_horizon, f"Backtest on the demo council ({backtest_s:.1f} s), all cells"))
    console.print(backtest_table(backtest.folds, "Each fold (the year the forecast was made from)"))
    console.print(f"One year ahead, cells with anyone in them: 80% intervals cover {cover80:.0%}, 95% cover "
                  f"{cover95:.0%}. Peak memory (RSS) {peak:.0f} MiB; total under {TARGET_S:.0f} s: "
                  f"{'yes' if max(r[3] for r in rows) < TARGET_S else 'no'}.", style="dim")

if __name__ == "__main__":
    main()
