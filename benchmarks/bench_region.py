"""Regional matching benchmark (issue 17, part 3): every member council's queue matched at once
against the shared market, each council guaranteed to place no fewer of its young people
(urgency-weighted) than matching alone on its own share, against the sum of the councils' own
runs.

Run: .venv/bin/python -m benchmarks.bench_region [--sizes 300x400,1000x3000] [--seed 17]
     .venv/bin/python -m benchmarks.bench_region --demo   (the South East demo, through the database)

A region is a dense synthetic instance (``benchmarks.instances.make_dense_instance``: real
postcodes in Medway, the Kent districts and the neighbouring London and Essex authorities, every
home within reach of every young person) cut into member councils by the upper-tier authority
young people live in; a third of the vacancy rows are one council's own (the council whose area
the home is in), the rest the region's. Each council keeps the same policy (the 60-mile dense
cap). The table: councils, young people, vacancy rows, seconds (the councils' own runs, then
all), the region's status and gap on its first level, young people placed alone (summed) and
together, the gain, the young people the region's run places with no guarantee to any council
(the most it could, a council or more left short), and whether every council's guarantee held.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.instances import make_dense_instance
from matching.instance import Instance
from matching.policy import Policy
from matching.region import Member, match_region
from providers.authorities import default_authorities


def region_of(young_people: int, rows: int, seed: int) -> tuple[list[Member], Policy]:
    instance, cap = make_dense_instance(young_people, rows, seed=seed)
    policy = Policy(distance_cap_miles=cap)
    authorities = default_authorities()
    upper = instance.referrals["home_la"].map(authorities.upper_tier)
    home_of_vacancy = instance.vacancies["la_code"].map(authorities.upper_tier)
    rng = np.random.default_rng(seed)
    own = {v: c for v, c in zip(instance.vacancies["vacancy_id"], home_of_vacancy, strict=True) if rng.random() < 1 / 3}
    members = []
    for council in sorted(upper.unique()):
        queue = instance.referrals[(upper == council).to_numpy()].reset_index(drop=True)
        visible = instance.vacancies[[own.get(v) in (None, council) for v in instance.vacancies["vacancy_id"]]]
        members.append(Member(council, Instance(instance.panel_date, council, queue, visible.reset_index(drop=True),
                                                instance.residents), policy,
                              own_vacancies=frozenset(v for v, c in own.items() if c == council)))
    return members, policy


def demo_region(seed: int) -> None:
    """The South East demo (``placematch demo --region south-east``) built in a fresh SQLite file
    and matched as ``placematch match --region`` does: each council's part explained and recorded."""
    import datetime as dt
    import tempfile

    from api.panel_decisions import council_approval_policy
    from matching.panel import run_region
    from models.db import make_engine, migrate, transaction
    from scenarios.region_demo import build_region_demo

    day = dt.date(2026, 11, 23)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/region.db")
        migrate(engine)
        started = time.perf_counter()
        with transaction(engine) as session:
            built = build_region_demo(session, seed=seed, as_of=day)
        build = time.perf_counter() - started
        started = time.perf_counter()
        outcome = run_region(engine=engine, panel_date=day, policy=Policy(), approvals_of=council_approval_policy)
        total = time.perf_counter() - started
        engine.dispose()
    out = outcome.region
    first = next(iter(out.result.gap), None)
    gap = out.result.gap.get(first, float("nan")) if first else float("nan")
    held = all(out.placed[c] >= f for c, f in out.floors.items())
    people = sum(c.referrals for c in built.councils)
    print("| region | councils | young people | vacancy rows (beds) | build s | own runs s | matched s | with "
          "explanations and records s | status | gap | placed alone | placed together | gain | no guarantee "
          "| every guarantee held |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print(f"| South East demo (seed {seed}) | {len(built.councils)} | {people:,} | {built.rows:,} ({built.beds:,}) | "
          f"{build:.1f} | {out.seconds['own_runs']:.1f} | {out.seconds['total']:.1f} | {total:.1f} | "
          f"{out.result.status}{' (own runs kept)' if out.kept_own else ''} | {gap:.2%} | "
          f"{sum(out.alone_people.values())} | {sum(out.placed_people.values())} | {out.gain:+d} | "
          f"{out.unguarded_people} | {'yes' if held else 'NO'} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300x400,1000x900,1000x3000", help="PEOPLExROWS, comma separated")
    parser.add_argument("--seed", type=int, default=None, help="default 17 (2026 for --demo, as placematch demo)")
    parser.add_argument("--demo", action="store_true", help="the South East regional demo instead")
    args = parser.parse_args(argv)
    if args.demo:
        demo_region(2026 if args.seed is None else args.seed)
        return
    args.seed = 17 if args.seed is None else args.seed
    print("| region | councils | young people | vacancy rows | own runs s | total s | status | gap | placed alone "
          "| placed together | gain | no guarantee | every guarantee held |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for size in args.sizes.split(","):
        people, rows = (int(x) for x in size.split("x"))
        members, policy = region_of(people, rows, args.seed)
        started = time.perf_counter()
        out = match_region(members, policy)
        total = time.perf_counter() - started
        first = next(iter(out.result.gap), None)
        gap = out.result.gap.get(first, float("nan")) if first else float("nan")
        held = all(out.placed[c] >= f for c, f in out.floors.items())
        print(f"| {size} | {len(members)} | {people} | {rows} | {out.seconds['own_runs']:.1f} | {total:.1f} | "
              f"{out.result.status}{' (own runs kept)' if out.kept_own else ''} | "
              f"{gap:.2%} | "
              f"{sum(out.alone_people.values())} | {sum(out.placed_people.values())} | {out.gain:+d} | "
              f"{out.unguarded_people} | "
              f"{'yes' if held else 'NO'} |")


if __name__ == "__main__":
    main()
