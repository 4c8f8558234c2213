"""Import benchmark: a referrals file of ``--rows`` young people, as CSV and as an Excel workbook,
read, checked and written to a fresh SQLite database in one transaction each.

Run: .venv/bin/python -m benchmarks.bench_import [--rows 10000]

The rows are the demo council's young people repeated under new ids (real postcodes, every
column filled as the README documents), written the way case systems write them in the workbook
(sex as 1/2, legal status as SSDA903 codes). Timings are this machine's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from models.base import council_today
from models.db import make_engine, migrate, transaction
from providers.demo import build_demo
from providers.interchange import export_dir, import_referrals


def rows_of(folder: Path, n: int) -> tuple[list[str], list[dict]]:
    engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
    migrate(engine)
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=council_today())
    path = export_dir(engine, folder / "export")["referrals"]
    engine.dispose()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        columns, base = list(reader.fieldnames), list(reader)
    out = []
    for k in range(n):
        row = dict(base[k % len(base)], id=f"X{k:06d}", sibling_group="")
        out.append(row)
    return columns, out


def timed_import(folder: Path, name: str, path: Path) -> float:
    engine = make_engine(f"sqlite:///{folder / (name + '.db')}")
    migrate(engine)
    started = time.perf_counter()
    import_referrals(engine, path)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def main() -> None:
    from openpyxl import Workbook

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        columns, rows = rows_of(folder, args.rows)
        csv_path = folder / "referrals.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns)
            writer.writeheader()
            writer.writerows(rows)
        coded = {"male": "1", "female": "2"}
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Referrals")
        sheet.append(columns)
        for row in rows:
            sheet.append([coded.get(row[c], row[c]) if c == "sex" else
                          ("C2" if c == "legal_status" and row[c] == "looked_after" else row[c]) for c in columns])
        xlsx_path = folder / "referrals.xlsx"
        book.save(xlsx_path)
        table = Table(title=f"Importing {args.rows:,} referrals (one transaction each)")
        for col in ("file", "size (MB)", "seconds", "rows a second"):
            table.add_column(col, justify="right" if col != "file" else "left")
        for name, path in (("CSV", csv_path), ("Excel workbook", xlsx_path)):
            seconds = timed_import(folder, name.split()[0].lower(), path)
            table.add_row(name, f"{path.stat().st_size / 1e6:.1f}", f"{seconds:.1f}", f"{args.rows / seconds:,.0f}")
        Console(width=120).print(table)


if __name__ == "__main__":
    main()
