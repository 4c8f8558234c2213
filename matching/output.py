"""A panel run written out: matches.csv, unplaced.csv, alternatives.csv and summary.json.

The CSVs use the interchange conventions (``providers.csvfiles``): ``;`` inside a cell,
``true``/``false``, empty for "not given", so a spreadsheet and the importer read them alike.
They are opened in spreadsheets, so no text cell may run as a formula (``models.spreadsheet``:
a leading ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading quote; numbers stay numbers).
"""

from __future__ import annotations

import json
import math
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching.engine import MatchResult
from matching.explain import ALTERNATIVE_COLUMNS, MATCH_COLUMNS, UNPLACED_COLUMNS, Explanation
from models.spreadsheet import inert
from providers.csvfiles import write_table


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as the Python values the CSV writer knows."""
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 2)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: inert(_plain(v)) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def peak_memory_mib() -> float:
    """The most memory this process has held so far (its peak resident set), in MiB: the whole
    run's high-water mark when the run has its own process, as the service's match jobs do.

    On Linux, VmHWM (the high-water mark of this program's own memory since it started), not
    getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent a process was forked
    from, so a worker started by a 1.5 GB service reported 1.5 GB whatever it used itself."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux


def summary(result: MatchResult, explanation: Explanation, *, baselines: dict | None = None) -> dict:
    """The run in numbers: status, objectives, bound, gap, counts and the time of each stage."""
    matches = explanation.matches
    miles = matches["miles_from_home"].astype(float) if len(matches) else pd.Series(dtype=float)
    out = {
        "status": result.status,
        "proven_by": result.proven_by,
        "objective": {k: _plain(v) for k, v in result.objective.items()},
        "best_bound": {k: _plain(v) for k, v in result.best_bound.items()},
        "gap": {k: _plain(v) for k, v in result.gap.items()},
        "counts": {
            "young_people": len(result.matches) + len(result.unplaced),
            "placed": len(result.matches),
            "unplaced": len(result.unplaced),
            "eligible_pairs": result.pair_count,
            "over_20_miles": int((miles > 20).sum()),
            "out_of_area": int(matches["out_of_area"].astype(bool).sum()) if len(matches) else 0,
            "needing_approval": int((matches["approvals_required"].map(len) > 0).sum()) if len(matches) else 0,
        },
        "total_miles": round(float(miles.sum()), 1),
        "weekly_cost": round(float(matches["weekly_cost"].sum()), 2) if len(matches) else 0.0,
        "seconds": {k: round(float(v), 4) for k, v in result.seconds.items()},
        "rule_totals": {k: int(v) for k, v in result.eligibility.rule_totals().items()},
        # Each young person left unplaced has a nearest miss (unplaced.csv): how many of each kind.
        "nearest_misses": _nearest_misses(explanation.unplaced),
        "peak_memory_mib": peak_memory_mib(),
        # Every level: proven, or how far the proposal can be from the best (a certified bound).
        "certificate": _certificate(result),
        "deterministic": bool(getattr(result, "deterministic", True)),
        "timeline": [{"seconds": round(float(t["seconds"]), 3), "gap": {k: _plain(v) for k, v in t["gap"].items()}}
                     for t in getattr(result, "timeline", [])],
    }
    comparison = getattr(result, "practice", None)
    if comparison is not None:
        out["against_one_at_a_time"] = {
            "measures": comparison.table(), "in_words": comparison.words(),
            "held_no_worse": comparison.held, "could_not_hold": comparison.let_go,
        }
    broken = getattr(result, "breaches", None)
    if broken is not None:  # a baseline that ignores side constraints says what it broke
        out["ignores_side_constraints"] = True
        out["side_constraints_broken"] = len(broken)
        out["side_constraints_broken_detail"] = broken[:200]
    if baselines:
        out["baselines"] = baselines
    return out


def _nearest_misses(unplaced: pd.DataFrame) -> dict:
    if not len(unplaced) or "nearest_miss_kind" not in unplaced:
        return {"by_kind": {}, "checked": 0, "not_checked": 0}
    kinds = unplaced["nearest_miss_kind"].value_counts()
    checked = int((unplaced["nearest_miss_checked"] == "yes").sum())
    return {"by_kind": {str(k): int(n) for k, n in sorted(kinds.items())}, "checked": checked,
            "not_checked": len(unplaced) - checked}


def _certificate(result: MatchResult) -> dict:
    out = {}
    above = True  # every level above this one proven: a later level's bound alone proves nothing
    for name, value in result.objective.items():
        bound = result.best_bound.get(name, float("nan"))
        gap = result.gap.get(name, float("nan"))
        known = not (isinstance(bound, float) and math.isnan(bound))
        above = result.status == "OPTIMAL" or (above and known and gap == 0.0)
        out[name] = {"value": _plain(value), "bound": _plain(bound) if known else None,
                     "gap": _plain(gap) if known else None, "proven": above}
    return out


def write_outputs(directory: str | Path, explanation: Explanation, run_summary: dict) -> dict[str, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        "matches": write_table(directory / "matches.csv", MATCH_COLUMNS, _rows(explanation.matches)),
        "unplaced": write_table(directory / "unplaced.csv", UNPLACED_COLUMNS, _rows(explanation.unplaced)),
        "alternatives": write_table(
            directory / "alternatives.csv", ALTERNATIVE_COLUMNS, _rows(explanation.alternatives)
        ),
    }
    path = directory / "summary.json"
    path.write_text(json.dumps(run_summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    written["summary"] = path
    return written
