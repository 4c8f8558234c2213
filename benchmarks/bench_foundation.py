"""Foundation benchmark: postcode geography, distances, and CSV import/export at council scale.

Run: .venv/bin/python -m benchmarks.bench_foundation [--rows 5000]
Prints a table of wall time and peak memory (tracemalloc, Python allocations) per step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

ROWS: list[tuple[str, str, float, float]] = []


@contextmanager
def step(name: str, size: str):
    tracemalloc.start()
    t0 = time.perf_counter()
    yield
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ROWS.append((name, size, elapsed, peak / 2**20))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000, help="referrals in the import benchmark")
    parser.add_argument("--vacancy-rows", type=int, default=50_000,
                        help="vacancies in the import timed beside other writes (default: the row limit)")
    args = parser.parse_args()

    from models.db import make_engine, migrate, transaction
    from providers import geography
    from providers.authorities import default_authorities
    from providers.demo import build_demo
    from providers.interchange import export_dir, import_referrals, import_vacancies

    with step("load postcode letters M, T, C, D (cold)", "4 letters"):
        pcs = pd.concat([geography.postcodes_in(code, "MTCD") for code in
                         ("E06000035", "E07000110", "E07000106", "E07000109")])
    sample = pcs["postcode"].sample(10_000, replace=True, random_state=1).tolist()
    with step("locate postcodes (warm)", f"{len(sample):,}"):
        located = geography.locate(sample)
    assert located["error"].isna().all()

    rng = np.random.default_rng(1)
    n = 1_000_000
    i, j = rng.integers(0, len(located), n), rng.integers(0, len(located), n)
    e, nn = located["easting"].to_numpy(), located["northing"].to_numpy()
    with step("PL_DISTANCE miles, vectorised", f"{n:,} pairs"):
        geography.pl_distance_miles(e[i], nn[i], e[j], nn[j])
    las = located["la_code"].sample(100_000, replace=True, random_state=2).reset_index(drop=True)
    with step("classify in area / adjoining / at a distance", f"{len(las):,}"):
        default_authorities().classify("E06000035", las)

    work = Path(tempfile.mkdtemp(prefix="placematch-bench-"))
    try:
        engine = make_engine(f"sqlite:///{work / 'bench.db'}")
        migrate(engine)
        with step("build demo council (SQLite)", "1 council"):
            with transaction(engine) as session:
                build_demo(session, seed=2026, as_of=dt.date(2026, 11, 23))
        with step("export interchange CSVs", "demo"):
            export_dir(engine, work / "demo")
        big = _scale_referrals(work / "demo" / "referrals.csv", args.rows, work / "big.csv")
        fresh = make_engine(f"sqlite:///{work / 'fresh.db'}")
        migrate(fresh)
        with step("import referrals.csv (validate + write)", f"{args.rows:,} rows"):
            import_referrals(fresh, big)
        import_referrals(fresh, work / "demo" / "referrals.csv")  # Staying Put vacancies name them
        with step("import vacancies.csv (validate + write)", "demo"):
            import_vacancies(fresh, work / "demo" / "vacancies.csv")
        _import_beside_writes(fresh, work, args.vacancy_rows)
    finally:
        shutil.rmtree(work)

    table = Table(title="placematch foundation benchmark")
    for col in ("step", "size", "seconds", "peak MiB (Python)"):
        table.add_column(col, justify="left" if col in ("step", "size") else "right")
    for name, size, secs, mib in ROWS:
        table.add_row(name, size, f"{secs:.3f}", "–" if mib != mib else f"{mib:.1f}")
    Console(width=120).print(table)


def _import_beside_writes(engine, work: Path, rows: int) -> None:
    """A large vacancies import (new rows, then the same file again: updates) while another
    connection writes one row every 0.2 s, as sign-ins and decisions do. SQLite has a single
    write lock: the longest such write's wait is what a person signing in meanwhile sees
    (the service answers 503 past its 5 s busy timeout)."""
    import sqlite3
    import threading

    from benchmarks.bench_load import vacancy_rows, write_csv
    from providers.interchange import import_vacancies

    columns, vacancies = vacancy_rows(work / "demo", rows)
    big = work / "vacancies-big.csv"
    big.write_bytes(write_csv(columns, vacancies))
    waits: list[float] = []
    stop = threading.Event()

    def other_writes() -> None:
        db = sqlite3.connect(engine.url.database, timeout=600)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE bench_probe (at REAL)")
        while not stop.is_set():
            t0 = time.perf_counter()
            db.execute("INSERT INTO bench_probe VALUES (?)", (t0,))
            db.commit()
            waits.append(time.perf_counter() - t0)
            stop.wait(0.2)
        db.close()

    for what in ("new", "again: updates"):
        waits.clear()
        stop.clear()
        writer = threading.Thread(target=other_writes)
        writer.start()
        t0 = time.perf_counter()
        import_vacancies(engine, big)
        ROWS.append((f"import vacancies.csv beside other writes ({what})", f"{rows:,} rows",
                     time.perf_counter() - t0, float("nan")))
        stop.set()
        writer.join()
        ROWS.append(("  longest wait of another write meanwhile", f"{len(waits)} writes", max(waits), float("nan")))
        with sqlite3.connect(engine.url.database) as db:
            db.execute("DROP TABLE bench_probe")


def _scale_referrals(src: Path, rows: int, dst: Path) -> Path:
    """A large referrals file made from the demo's rows with fresh ids (same needs mix)."""
    demo = pd.read_csv(src, dtype=str, keep_default_na=False)
    big = demo.sample(rows, replace=True, random_state=3).reset_index(drop=True)
    big["id"] = [f"B{k:06d}" for k in range(rows)]
    big["sibling_group"] = ""  # scaled copies would otherwise form impossible sibling groups
    big.to_csv(dst, index=False, lineterminator="\n")
    return dst


if __name__ == "__main__":
    main()
