"""One panel run as the CLI (and later the service) asks for it: load the queue and the
vacancies, match them (or run a baseline), explain, write the files, record the run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from matching import constraints
from matching.approvals import ApprovalPolicy
from matching.constraints import side_data
from matching.baselines import greedy
from matching.engine import MatchError, MatchResult, match
from matching.explain import Explanation, explain
from matching.flow import solve_flow
from matching.instance import Instance, from_database, from_files
from matching.output import summary, write_outputs
from matching.policy import Policy
from matching.scoring import score, totals
from models.base import utcnow
from models.db import transaction


class PanelRunError(ValueError):
    """A run that cannot be answered: bad input files, or locks and bans that cannot hold."""


@dataclass
class PanelOutcome:
    instance: Instance
    result: MatchResult
    explanation: Explanation
    summary: dict
    written: dict[str, Path] = field(default_factory=dict)
    run_id: int | None = None


def baseline_result(kind: str, instance: Instance, policy: Policy) -> MatchResult:
    """A baseline's proposals in the engine's result shape, so they are explained alike."""
    from matching.eligibility import eligible_pairs

    eligibility = eligible_pairs(instance, policy)
    pairs = score(eligibility.pairs, policy)
    broken = None
    if kind == "greedy":
        chosen, seconds = greedy(pairs, instance, policy)
    else:
        flow = solve_flow(pairs, instance, policy)
        chosen, seconds = flow.chosen, flow.seconds
        # The bare flow ignores the side constraints (intensive cap, siblings, who may share a
        # home, locks, budget): it must say so, and count what it breaks.
        broken = [b.detail for b in constraints.breaches(chosen, side_data(instance, policy))]
    chosen = chosen.sort_values(["referral_id", "vacancy_id"], kind="stable").reset_index(drop=True)
    placed = set(chosen["referral_id"])
    objective = totals(chosen, policy)
    return MatchResult(
        matches=chosen,
        unplaced=sorted(r for r in instance.referrals["referral_id"] if r not in placed),
        status=f"BASELINE_{kind.upper()}",
        objective=objective,
        best_bound=dict.fromkeys(objective, float("nan")),
        gap=dict.fromkeys(objective, float("nan")),
        proven_by=None,
        seconds={"eligibility": eligibility.seconds, kind: seconds, "total": eligibility.seconds + seconds},
        pair_count=len(pairs),
        eligibility=eligibility,
        side_excluded=pd.DataFrame(columns=["referral_id", "vacancy_id", "reason"]),
        breaches=broken,
    )


def run_panel(
    *,
    engine: Engine | None,
    files: tuple[Path, Path] | None,
    placing_authority: str,
    panel_date: dt.date,
    policy: Policy,
    approvals: ApprovalPolicy,
    locks: list[tuple[str, str]] = (),
    bans: list[tuple[str, str]] = (),
    time_limit: float | None = None,
    baseline: str | None = None,
    out_dir: Path | None = None,
) -> PanelOutcome:
    """Match the database's open queue (``engine``) or a pair of files (``files``)."""
    from providers.csvfiles import ImportFailed

    started = utcnow()
    try:
        if files is not None:
            instance = from_files(*files, placing_authority, panel_date, locks=locks, bans=bans)
        else:
            with transaction(engine) as session:
                instance = from_database(session, placing_authority, panel_date, locks=locks, bans=bans)
    except ImportFailed as failure:
        raise PanelRunError(str(failure)) from None
    try:
        if baseline:
            result = baseline_result(baseline, instance, policy)
        else:
            result = match(instance, policy, time_limit=time_limit)
    except MatchError as exc:
        raise PanelRunError(str(exc)) from None
    explanation = explain(result, instance, policy, approvals)
    outcome = PanelOutcome(instance, result, explanation, summary(result, explanation))
    if out_dir is not None:
        outcome.written = write_outputs(out_dir, explanation, outcome.summary)
    if engine is not None and not baseline:
        from matching.runs import record_run

        with transaction(engine) as session:
            outcome.run_id = record_run(
                session, instance, policy, result, explanation, started_at=started
            ).id
    return outcome


@dataclass
class RegionOutcome:
    region: object  # matching.region.RegionResult
    run_ids: dict[str, int]  # each member council's recorded run of its part


def run_region(*, engine: Engine, panel_date: dt.date, policy: Policy, approvals_of, time_limit: float | None = None,
               policy_of=None) -> RegionOutcome:
    """Every council of the database matched at once (matching.region), each council's part
    recorded as a run of its own, for its own panel to decide; ``approvals_of(council)`` is the
    council's approvals policy and ``policy_of(council)`` its panel policy (distance cap, grade
    rule; default ``policy`` for every council, whose solver settings the region's run uses).
    Each part is explained against the market the other councils' proposals leave it
    (``matching.region.left_for``), so its nearest misses are checked as in a council's own run."""
    from sqlalchemy import select

    from matching.region import Member, left_for, match_region
    from matching.runs import record_run
    from models.supply import Vacancy
    from models.tenancy import Council

    started = utcnow()
    members = []
    with transaction(engine) as session:
        for code in session.scalars(select(Council.code).order_by(Council.code)).all():
            instance = from_database(session, code, panel_date)
            own = frozenset(session.scalars(select(Vacancy.id).where(Vacancy.council_code == code)))
            if len(instance.referrals):
                members.append(Member(code, instance, policy_of(code) if policy_of else policy, own))
    if not members:
        raise PanelRunError("no council of this service has a young person waiting")
    try:
        out = match_region(members, policy, time_limit=time_limit)
    except MatchError as exc:
        raise PanelRunError(str(exc)) from None
    run_ids = {}
    for m in members:
        part = out.part(m)
        explanation = explain(part, left_for(m, out, members), m.policy, approvals_of(m.council))
        with transaction(engine) as session:
            run_ids[m.council] = record_run(session, m.instance, m.policy, part, explanation, started_at=started).id
    return RegionOutcome(out, run_ids)
