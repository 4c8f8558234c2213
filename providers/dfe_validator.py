"""Checks an SSDA903 export with the DfE's own validator, ``csc-validator-be-903`` (module
``lac_validator``), never a copy of its rules.

The validator pins pandas < 2 and numpy < 1.25, so it lives in a side environment of its own
(``make dfe903`` builds ``.venv-dfe903``; PLACEMATCH_DFE903_PYTHON names another interpreter).
This file has two halves: ``check()`` runs in placematch's environment and calls this same file,
as a script, with the side environment's Python; the script half imports only the standard
library and the validator, so it runs there.

The package's own command line (``python -m lac_validator run-offline``) fixes the collection year
to 2022-23 and wants all eleven tables, so the script drives the validator's documented Python
entry (``LacValidator`` with the collection year and the authority) and writes plain CSV:
``issues.csv`` (table, row, child, rule, message: one row per flagged row and rule),
``derived.csv`` (the PL_LA, PL_LOCATION and PL_DISTANCE the validator computes from the postcodes)
and ``summary.json`` (the ruleset and which rules ran, were skipped for want of a table, or failed).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIDE_PYTHON = REPO / ".venv-dfe903" / "bin" / "python"
# Columns placematch writes that the validator derives itself: it recognises a table by its exact
# columns, so they are taken off before it reads the file.
DERIVED = ("PL_LA", "PL_LOCATION", "PL_DISTANCE")


@dataclass(frozen=True)
class Issue:
    table: str
    row: int  # 0-based data row in that table's file
    child: str
    rule: str
    message: str


@dataclass(frozen=True)
class ValidatorReport:
    ruleset: str
    ran: list[str]
    skipped: list[str]  # rules needing a table the export does not have
    failed: list[str]  # rules that raised inside the validator itself
    issues: list[Issue]
    derived: list[dict[str, str]]  # per Episodes row: PL_LA, PL_LOCATION, PL_DISTANCE

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for issue in self.issues:
            out[issue.rule] = out.get(issue.rule, 0) + 1
        return dict(sorted(out.items()))


def side_python() -> Path | None:
    """The side environment's interpreter, or None when it has not been built."""
    named = os.environ.get("PLACEMATCH_DFE903_PYTHON")
    path = Path(named) if named else SIDE_PYTHON
    return path if path.exists() else None


def check(header_csv: Path, episodes_csv: Path, collection_start: int, local_authority: str,
          work_dir: Path, timeout: float = 600) -> ValidatorReport:
    """Run the DfE validator on the two files for the collection year starting 1 April
    ``collection_start``; ``local_authority`` is the placing authority's ONS code."""
    python = side_python()
    if python is None:
        raise RuntimeError("the DfE validator's environment is not built: run `make dfe903`")
    work_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), __file__, "--year", str(collection_start + 1), "--la", local_authority,
         "--out", str(work_dir), str(header_csv), str(episodes_csv)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the DfE validator stopped: {done.stderr.strip()[-2000:]}")
    summary = json.loads((work_dir / "summary.json").read_text(encoding="utf-8"))
    with (work_dir / "issues.csv").open(encoding="utf-8", newline="") as fh:
        issues = [Issue(r["table"], int(r["row"]), r["child"], r["rule"], r["message"]) for r in csv.DictReader(fh)]
    with (work_dir / "derived.csv").open(encoding="utf-8", newline="") as fh:
        derived = list(csv.DictReader(fh))
    return ValidatorReport(summary["ruleset"], summary["ran"], summary["skipped"], summary["failed"], issues, derived)


def _script(argv: list[str]) -> int:  # pragma: no cover (runs in the side environment)
    import argparse
    import io
    import logging

    logging.disable(logging.CRITICAL)  # the validator logs every rule; nothing here is for a log
    import pandas as pd
    from lac_validator.lac_validator import LacValidator
    from lac_validator.rules.ruleset_utils import get_year_ruleset

    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--year", required=True, help="the year the collection ends, e.g. 2027 for 2026-27")
    ap.add_argument("--la", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    files = []
    for name in args.files:
        table = pd.read_csv(name, dtype=str, keep_default_na=False)
        table = table.drop(columns=[c for c in DERIVED if c in table.columns])
        files.append({"name": Path(name).name, "description": "This year",
                      "file_content": table.to_csv(index=False).encode("utf-8")})
    # A UASC table with no rows says no young person was unaccompanied (placematch has none);
    # without it the validator skips its distance rules (392a, 164, 406).
    files.append({"name": "uasc.csv", "description": "This year", "file_content": b"CHILD,SEX,DOB,DUC\n"})
    registry = get_year_ruleset(args.year)
    sink = io.StringIO()
    stdout, sys.stdout = sys.stdout, sink  # some rules print as they run
    try:
        validator = LacValidator(metadata={"collectionYear": args.year, "localAuthority": args.la},
                                 files=files, registry=registry)
    finally:
        sys.stdout = stdout
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "issues.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["table", "row", "child", "rule", "message"])
        for table, frame in validator.ds_results.items():
            if not isinstance(frame, pd.DataFrame):
                continue
            for column in [c for c in frame.columns if str(c).startswith("ERR_")]:
                rule = column[4:]
                for row in frame.index[frame[column].fillna(False).astype(bool)]:
                    child = frame.at[row, "CHILD"] if "CHILD" in frame.columns else ""
                    writer.writerow([table, row, child, rule, registry[rule].message])
    episodes = validator.ds_results.get("Episodes")
    with (out / "derived.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(DERIVED)
        if episodes is not None:
            for _, r in episodes.iterrows():
                writer.writerow(["" if pd.isna(r[c]) else (f"{r[c]:.1f}" if c == "PL_DISTANCE" else r[c])
                                 for c in DERIVED])
    ruleset = f"lac{int(args.year) - 1}_{args.year[2:4]}"
    (out / "summary.json").write_text(json.dumps({
        "ruleset": ruleset, "ran": sorted(map(str, validator.dones)),
        "skipped": sorted(map(str, validator.skips)), "failed": sorted(map(str, validator.fails)),
    }), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_script(sys.argv[1:]))
