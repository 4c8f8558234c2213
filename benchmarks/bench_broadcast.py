"""Referral broadcast benchmark: the demo council's whole queue sent to providers, answered by
the demo's providers, then matched; against the same queue matched without asking anyone.

Run: .venv/bin/python -m benchmarks.bench_broadcast [--seed 2026] [--json PATH]

Two fresh SQLite copies of the demo council (seed ``--seed``, the panel day today). On one the
queue is matched as it stands. On the other every young person waiting is sent to the framework
providers whose homes could meet the hard rules (matching.broadcast, one transaction a young
person), every provider answers as api.market_demo's careful provider does (an offer of its
first free bed the rules allow, at its framework price; otherwise a decline with the reason the
rules give; one transaction an answer, each offer checked against the engine's hard rules), and
the queue is matched again. Printed: requests, offers and declines by reason, the time each
stage took, and each run's placements, those resting on an offer, weekly cost and miles.
Timings are this machine's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from api.market_demo import answer_as_demo_providers, broadcast_queue
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models import glossary
from models.base import council_today
from models.db import make_engine, migrate, transaction
from providers.demo import DEMO_AUTHORITY, build_demo


def demo_engine(path: Path, seed: int):
    from api.cli import _demo_users

    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with transaction(engine) as session:
        build_demo(session, seed=seed, as_of=council_today())
    _demo_users(engine)
    return engine


def matched(engine) -> dict:
    started = time.perf_counter()
    outcome = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=council_today(),
                        policy=Policy(), approvals=ApprovalPolicy())
    seconds = time.perf_counter() - started
    m = outcome.explanation.matches
    return {"seconds": seconds, "status": outcome.result.status, "placed": len(m),
            "on_offers": int(m["why"].str.contains("Its provider offered this bed").sum()),
            "weekly_cost": float(m["weekly_cost"].sum()), "miles": float(m["miles_from_home"].sum()),
            "unplaced": len(outcome.explanation.unplaced),
            "unplaced_after_declines": int(outcome.explanation.unplaced["excluded_by"].str.contains("declined:").sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console(width=140)
    with tempfile.TemporaryDirectory() as tmp:
        alone = demo_engine(Path(tmp) / "alone.db", args.seed)
        without = matched(alone)
        alone.dispose()

        asked = demo_engine(Path(tmp) / "asked.db", args.seed)
        started = time.perf_counter()
        sent = broadcast_queue(asked, "demo.panel.member")
        broadcast_seconds = time.perf_counter() - started
        started = time.perf_counter()
        said = answer_as_demo_providers(asked)
        answer_seconds = time.perf_counter() - started
        with_offers = matched(asked)
        asked.dispose()

    requests = sum(sent.values())
    declines = {k: n for k, n in said.items() if k != "offered"}
    stages = Table(title=f"Broadcast of the demo council's queue (seed {args.seed})")
    for col in ("stage", "count", "seconds", "per item (ms)"):
        stages.add_column(col, justify="right" if col != "stage" else "left")
    stages.add_row("young people sent", f"{len(sent)}", "", "")
    stages.add_row("requests sent (one a provider)", f"{requests}", f"{broadcast_seconds:.1f}",
                   f"{1000 * broadcast_seconds / max(len(sent), 1):.0f} a young person")
    stages.add_row("answers (each checked by the rules)", f"{said['offered'] + sum(declines.values())}",
                   f"{answer_seconds:.1f}", f"{1000 * answer_seconds / max(requests, 1):.0f} an answer")
    stages.add_row("  offers", f"{said['offered']}", "", "")
    for reason, n in sorted(declines.items(), key=lambda kv: -kv[1]):
        stages.add_row(f"  declined: {glossary.DECLINE_REASONS[reason].lower()}", f"{n}", "", "")
    console.print(stages)

    runs = Table(title="The match run, without and with the providers' answers")
    for col in ("run", "status", "placed", "on an offer", "unplaced", "unplaced with declines", "weekly cost",
                "miles from home", "seconds"):
        runs.add_column(col, justify="right" if col != "run" else "left")
    for name, r in (("nobody asked", without), ("after the broadcast", with_offers)):
        runs.add_row(name, r["status"], f"{r['placed']}", f"{r['on_offers']}", f"{r['unplaced']}",
                     f"{r['unplaced_after_declines']}", f"£{r['weekly_cost']:,.0f}", f"{r['miles']:,.1f}",
                     f"{r['seconds']:.1f}")
    console.print(runs)
    if args.json:
        args.json.write_text(json.dumps({"sent": len(sent), "requests": requests, "said": dict(said),
                                         "broadcast_seconds": broadcast_seconds, "answer_seconds": answer_seconds,
                                         "without": without, "with_offers": with_offers}, indent=2))


if __name__ == "__main__":
    main()
