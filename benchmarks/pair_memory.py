"""Peak memory of each matching stage on dense instances, each stage in a fresh process.

    .venv/bin/python -m benchmarks.pair_memory 1000      # ~1,000 x 2,000 rows, ~1.3M pairs
    .venv/bin/python -m benchmarks.pair_memory 3000      # ~3,000 x 6,000 rows, ~11M pairs

A stage's input is computed by the stage before it and handed over on disk (pickle), so each
process holds only what its stage needs: its peak RSS is the stage's own footprint (the
instance and its input included, as in a real run). Prints one table: peak MiB per stage, the
pairs table's bytes per pair and its largest columns.
"""

from __future__ import annotations

import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

SIZES = {1000: (1000, 5000, 1000), 3000: (3000, 15000, 3000), 5000: (5000, 25000, 5000)}
STAGES = ("eligibility", "score", "flow", "match", "explain")  # "match": the whole engine, slow
CACHE = Path("/tmp/placematch_pair_memory")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(size: int):
    from benchmarks.instances import make_instance
    from matching.policy import Policy, SolverSettings

    young, beds, seed = SIZES[size]
    instance, cap = make_instance(young, beds, seed=seed, distance_cap=60)
    return instance, Policy(distance_cap_miles=cap, solver=SolverSettings(time_limit_seconds=60))


def _load(size: int, name: str):
    with open(CACHE / str(size) / f"{name}.pkl", "rb") as f:
        return pickle.load(f)


def _save(size: int, name: str, value) -> None:
    (CACHE / str(size)).mkdir(parents=True, exist_ok=True)
    with open(CACHE / str(size) / f"{name}.pkl", "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)


def _flow_result(flow, instance, eligibility):
    """A MatchResult from the flow's answer (no side constraints), for measuring explain alone."""
    from matching.engine import MatchResult

    matches = flow.chosen.sort_values(["referral_id", "vacancy_id"]).reset_index(drop=True)
    placed = set(matches["referral_id"].astype(str))
    return MatchResult(matches=matches, unplaced=sorted(set(instance.referrals["referral_id"]) - placed),
                       status="FEASIBLE", objective=flow.objective, best_bound={}, gap={}, proven_by=None,
                       seconds={}, pair_count=len(eligibility.pairs), eligibility=eligibility)


def run_stage(size: int, stage: str) -> dict:
    instance, policy = _setup(size)
    before = _peak_mib()
    started = time.perf_counter()
    info: dict = {}
    if stage == "eligibility":
        from matching.eligibility import eligible_pairs

        eligibility = eligible_pairs(instance, policy)
        pairs = eligibility.pairs
        per_column = pairs.memory_usage(deep=True, index=False)
        info = {"pairs": len(pairs), "bytes_per_pair": round(per_column.sum() / max(1, len(pairs)), 1),
                "largest_columns": {c: round(b / max(1, len(pairs)), 1) for c, b in
                                    per_column.sort_values(ascending=False).head(6).items()}}
        _save(size, "eligibility", eligibility)
    elif stage == "score":
        from matching.scoring import score

        eligibility = _load(size, "eligibility")
        before = _peak_mib()
        started = time.perf_counter()
        scored = score(eligibility.pairs, policy)
        per_column = scored.memory_usage(deep=True, index=False)
        info = {"bytes_per_pair": round(per_column.sum() / max(1, len(scored)), 1)}
        _save(size, "scored", scored)
    elif stage == "flow":
        from matching.flow import solve_flow

        scored = _load(size, "scored")
        before = _peak_mib()
        started = time.perf_counter()
        flow = solve_flow(scored, instance, policy)
        info = {"placed": len(flow.chosen), "method": flow.method}
        if not (CACHE / str(size) / "result.pkl").exists():  # explain's input when "match" is skipped
            _save(size, "result", _flow_result(flow, instance, _load(size, "eligibility")))
    elif stage == "match":
        from matching.engine import match

        eligibility = _load(size, "eligibility")
        before = _peak_mib()
        started = time.perf_counter()
        result = match(instance, policy, eligibility=eligibility, time_limit=20)
        info = {"placed": len(result.matches), "status": result.status}
        _save(size, "result", result)
    elif stage == "explain":
        from matching.explain import explain

        result = _load(size, "result")
        before = _peak_mib()
        started = time.perf_counter()
        explanation = explain(result, instance, policy)
        info = {"alternatives": len(explanation.alternatives), "unplaced": len(explanation.unplaced)}
    return {"stage": stage, "peak_mib": round(_peak_mib()), "input_mib": round(before),
            "seconds": round(time.perf_counter() - started, 1), **info}


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "--stage":
        print(json.dumps(run_stage(int(argv[2]), argv[1])))
        return
    size = int(argv[0]) if argv else 1000
    stages = argv[1:] or STAGES
    print(f"dense instance {SIZES[size][:2]} (young people, beds); peak RSS per stage, fresh process each")
    for stage in stages:
        done = subprocess.run([sys.executable, "-m", "benchmarks.pair_memory", "--stage", stage, str(size)],
                              capture_output=True, text=True)
        if done.returncode:
            print(f"{stage:12s} failed: {done.stderr.strip().splitlines()[-1:]}")
            break
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{stage:12s} peak {row.pop('peak_mib'):>7} MiB (input loaded {row.pop('input_mib')} MiB) "
              f"{row.pop('seconds')} s  {row}")


if __name__ == "__main__":
    main(sys.argv[1:])
