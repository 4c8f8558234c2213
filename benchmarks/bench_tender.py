"""Tender evaluation benchmark: read, score, rank and award a tender's bids.

Run: .venv/bin/python -m benchmarks.bench_tender [--bids 200,2000] [--json PATH]

For each size, a tender of 4 lots (``--bids`` bids in all, spread evenly over the lots; every
bidder bids for one lot), three quality criteria each scored by three evaluators (nine scores a
bid) and one moderated score in twenty, written as tender.yaml, bids.csv, scores.csv and
moderation.csv in a temporary folder, then timed stage by stage as the command line runs them:
reading and checking the files (providers.tender_files), scoring and ranking
(providers.tender_evaluation), the ranking table for people, and the award written to a fresh
SQLite database with the authorities loaded (providers.tender_award), in one transaction. Also
the demo council's own tender (24 bidders, 38 bids). Timings are this machine's, printed, never
asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

LOTS = 4
CRITERIA = ("safeguarding", "outcomes", "social_value")
EVALUATORS = ("E1", "E2", "E3")


def write_tender(folder: Path, bids: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    rows, scores, moderation = [], [], []
    for i in range(bids):
        lot = i % LOTS + 1
        bidder = f"B{i:05d}"
        std = round(rng.uniform(900, 1400))
        rows.append({"bidder_id": bidder, "bidder_name": f"Bidder {i}", "lot": lot, "price_standard": std,
                     "price_enhanced": std + round(rng.uniform(300, 900)), "capacity_beds": rng.randint(2, 20)})
        level = rng.uniform(1.5, 4.5)
        for criterion in CRITERIA:
            marks = [min(5, max(0, round(level + rng.uniform(-0.6, 0.6)))) for _ in EVALUATORS]
            scores += [{"bidder_id": bidder, "lot": lot, "criterion": criterion, "evaluator": e, "score": m}
                       for e, m in zip(EVALUATORS, marks, strict=True)]
            if max(marks) - min(marks) >= 2 or rng.random() < 0.05:
                moderation.append({"bidder_id": bidder, "lot": lot, "criterion": criterion,
                                   "agreed_score": round(sum(marks) / len(marks))})
    for name, table in (("bids.csv", rows), ("scores.csv", scores), ("moderation.csv", moderation)):
        with (folder / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["bidder_id", "lot", "criterion",
                                                                              "agreed_score"])
            writer.writeheader()
            writer.writerows(table)
    lots = "\n".join(f"  - {{number: {n}, name: Lot {n}, service_type: supported_accommodation, "
                     f"tiers: [standard, enhanced]}}" for n in range(1, LOTS + 1))
    path = folder / "tender.yaml"
    path.write_text(f"""name: Benchmark tender of {bids} bids
placing_authority: E06000035
starts_on: 2027-04-01
ends_on: 2031-03-31
price_weight: 60
quality_weight: 40
award: {{top: 5}}
criteria:
  - {{id: safeguarding, name: Safeguarding, weight: 15}}
  - {{id: outcomes, name: Outcomes, weight: 15}}
  - {{id: social_value, name: Social value, weight: 10}}
evaluators:
  - {{id: E1, name: One}}
  - {{id: E2, name: Two}}
  - {{id: E3, name: Three}}
lots:
{lots}
bids: bids.csv
scores: scores.csv
moderation: moderation.csv
""", encoding="utf-8")
    return path


def measure(path: Path, label: str) -> dict:
    from models.db import make_engine, migrate, transaction
    from providers.demo import load_authorities
    from providers.tender_award import award
    from providers.tender_evaluation import evaluate, ranking_rows
    from providers.tender_files import read_tender

    seconds = {}
    started = time.perf_counter()
    tender = read_tender(path)
    seconds["read and check"] = time.perf_counter() - started
    mark = time.perf_counter()
    evaluation = evaluate(tender)
    seconds["score and rank"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rows = ranking_rows(evaluation)
    seconds["ranking table"] = time.perf_counter() - mark
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        with transaction(engine) as session:
            load_authorities(session)
        mark = time.perf_counter()
        with transaction(engine) as session:
            award(session, evaluation, "benchmark")
        seconds["award (one transaction)"] = time.perf_counter() - mark
        engine.dispose()
    seconds["total"] = sum(seconds.values())
    return {"tender": label, "bids": len(tender.bids), "scores": len(tender.scores), "moderated": len(tender.agreed),
            "rows": len(rows), "awards": len(evaluation.awarded()), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bids", default="200,2000", help="Sizes, comma-separated")
    parser.add_argument("--json", type=Path, help="Write the figures here too")
    args = parser.parse_args()
    from providers.demo.tender import write_demo_tender

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure(write_demo_tender(Path(tmp) / "demo"), "demo council"))
        for size in (int(s) for s in args.bids.split(",")):
            folder = Path(tmp) / f"t{size}"
            folder.mkdir()
            results.append(measure(write_tender(folder, size), f"{size} bids, {LOTS} lots"))
    stages = list(results[0]["seconds"])
    table = Table(title="Tender evaluation: read, score, rank and award (seconds)")
    for column in ("tender", "bids", "scores", "moderated", "awards", *stages):
        table.add_column(column, justify="left" if column == "tender" else "right")
    for r in results:
        table.add_row(r["tender"], f"{r['bids']:,}", f"{r['scores']:,}", f"{r['moderated']:,}", f"{r['awards']:,}",
                      *(f"{r['seconds'][s]:.3f}" for s in stages))
    Console(width=160).print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
