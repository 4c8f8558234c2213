"""Recording a panel run in the database: the MatchRun, its proposals (rank 0) and the
alternatives (rank 1, 2, ...), and an audit event. The solver never touches the database;
this small repository function does, after the solve."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy.orm import Session

from matching.engine import MatchResult
from matching.explain import Explanation
from matching.instance import Instance
from matching.policy import Policy
from models.accounts import User, record
from models.base import utcnow
from models.enums import MatchRunStatus
from models.panel import MatchRun, ProposedMatch


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def record_run(
    session: Session,
    instance: Instance,
    policy: Policy,
    result: MatchResult,
    explanation: Explanation,
    *,
    started_at: dt.datetime,
    user: User | None = None,
    run: MatchRun | None = None,
) -> MatchRun:
    """Add the run and its proposals to the session (the caller's transaction commits).

    ``run``: a run already in the database to fill in instead of adding a new one (the
    service's match job, whose row exists from the moment it is queued)."""
    first = next(iter(result.objective), None)
    report = dict(
        status=MatchRunStatus.succeeded,
        panel_date=instance.panel_date,
        policy=policy.model_dump(mode="json"),
        locks=[f"{r}:{v}" for r, v in instance.locks],
        bans=[f"{r}:{v}" for r, v in instance.bans],
        referral_count=len(instance.referrals),
        solver_status=result.status,
        objective={k: int(v) for k, v in result.objective.items()},
        best_bound=_number(result.best_bound.get(first)) if first else None,
        gap=_number(result.gap.get(first)) if first else None,
        started_at=started_at,
        finished_at=utcnow(),
    )
    if run is None:
        from models.tenancy import ensure_council

        # The council it places for owns it (models.tenancy), whoever records it.
        council = ensure_council(session, instance.placing_authority)
        run = MatchRun(created_by_id=user.id if user else None, placing_authority=council, council_code=council,
                       **report)
        session.add(run)
    else:
        for name, value in report.items():
            setattr(run, name, value)
    terms = [c for c in explanation.matches.columns if c.startswith(("pen_", "pounds_"))]
    for row in explanation.matches.to_dict(orient="records"):
        run.proposals.append(ProposedMatch(
            referral_id=row["referral_id"], vacancy_id=row["vacancy_id"], property_id=row["property_id"],
            rank=0, tier=row["tier"], weekly_cost=float(row["weekly_cost"]),
            miles_from_home=float(row["miles_from_home"]),
            miles_from_education=_number(row["miles_from_education"]),
            out_of_area=bool(row["out_of_area"]), at_a_distance=bool(row["at_a_distance"]),
            approvals_required=list(row["approvals_required"]),
            score={t: int(row[t]) for t in terms} | {
                "need": int(row["score_need"]), "distance": int(row["score_distance"]), "cost": int(row["score_cost"]),
                "why": str(row["why"] or ""),  # why this home, in a sentence (matching.why)
            },
        ))
    for row in explanation.alternatives.to_dict(orient="records"):
        run.proposals.append(ProposedMatch(
            referral_id=row["referral_id"], vacancy_id=row["vacancy_id"], property_id=row["property_id"],
            rank=int(row["rank"]), tier=row["tier"], weekly_cost=float(row["weekly_cost"]),
            miles_from_home=float(row["miles_from_home"]), miles_from_education=None,
            out_of_area=bool(row["out_of_area"]), at_a_distance=bool(row["at_a_distance"]),
            approvals_required=[],
            score={"penalty": int(row["penalty"]), "cost": int(row["cost"]),
                   "penalty_vs_proposal": _number(row["penalty_vs_proposal"]),
                   "cost_vs_proposal": _number(row["cost_vs_proposal"]),
                   # why the proposal does not use it, in words, and who holds its bed
                   "why_not": str(row["why_not"] or ""), "held_by": str(row["held_by"] or "")},
        ))
    session.flush()
    record(
        session, "match_run", "match_run", run.id, actor=user, actor_name="cli",
        after={"status": result.status, "referrals": len(instance.referrals),
               "placed": len(result.matches), "unplaced": len(result.unplaced)},
    )
    return run
