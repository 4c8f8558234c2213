"""A panel's match runs, the placements they propose, the panel's decisions on them, and the
approval requests a placement raises."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, UtcDateTime, enum_column
from models.enums import (
    ApprovalRule,
    ApprovalStatus,
    DecisionKind,
    MatchRunStatus,
    Role,
    Tier,
)
from models.supply import Money
from models.tenancy import CouncilOwned

if TYPE_CHECKING:
    from models.accounts import User


class MatchRun(CouncilOwned, Timestamped, Base):
    """One solve of the panel queue: its inputs (policy, locks, bans) and the solver's report."""

    __tablename__ = "match_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[MatchRunStatus] = enum_column(MatchRunStatus, default=MatchRunStatus.queued)
    panel_date: Mapped[dt.date]
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locks: Mapped[list[str]] = mapped_column(default=list)  # "referral_id:vacancy_id"
    bans: Mapped[list[str]] = mapped_column(default=list)
    # A re-run's memory of the panel: the run it re-ran, and for each of its locks and bans who
    # set it, on which run, when and why (a rejection is one of its bans), plus what the panel
    # lifted before it. Snapshots, so the run shows what it was given even if names change.
    rerun_of_id: Mapped[Optional[int]] = mapped_column(ForeignKey("match_run.id"))
    carried: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    referral_count: Mapped[int] = mapped_column(default=0)
    solver_status: Mapped[Optional[str]] = mapped_column(String(20))
    objective: Mapped[dict[str, Any]] = mapped_column(default=dict)  # value per level
    best_bound: Mapped[Optional[float]] = mapped_column(Float)
    gap: Mapped[Optional[float]] = mapped_column(Float)
    error: Mapped[Optional[str]] = mapped_column(Text)
    placing_authority: Mapped[Optional[str]] = mapped_column(String(9))
    # The service's background job: the worker process solving it, and what it has reached.
    worker_pid: Mapped[Optional[int]]
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())

    proposals: Mapped[list["ProposedMatch"]] = relationship(
        back_populates="match_run", cascade="all, delete-orphan"
    )


class ProposedMatch(CouncilOwned, Base):
    """A pair the engine proposes (rank 0) or offers as an alternative (rank 1, 2, ...)."""

    __tablename__ = "proposed_match"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_run_id: Mapped[int] = mapped_column(ForeignKey("match_run.id", ondelete="CASCADE"))
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id"), index=True)
    vacancy_id: Mapped[str] = mapped_column(ForeignKey("vacancy.id"))
    property_id: Mapped[str] = mapped_column(ForeignKey("property.id"))
    rank: Mapped[int] = mapped_column(default=0)
    tier: Mapped[Tier] = enum_column(Tier)
    weekly_cost: Mapped[float] = mapped_column(Money)
    miles_from_home: Mapped[float]
    miles_from_education: Mapped[Optional[float]]
    out_of_area: Mapped[bool]
    at_a_distance: Mapped[bool]
    approvals_required: Mapped[list[str]] = mapped_column(default=list)
    score: Mapped[dict[str, Any]] = mapped_column(default=dict)  # objective terms by name

    match_run: Mapped[MatchRun] = relationship(back_populates="proposals")


class Decision(CouncilOwned, Timestamped, Base):
    """What the panel decided about a proposal or a pair, always with a reason."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("match_run.id"))
    proposed_match_id: Mapped[Optional[int]] = mapped_column(ForeignKey("proposed_match.id"))
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id"), index=True)
    vacancy_id: Mapped[Optional[str]] = mapped_column(ForeignKey("vacancy.id"))
    kind: Mapped[DecisionKind] = enum_column(DecisionKind)
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))


class ApprovalRequest(CouncilOwned, Timestamped, Base):
    """One approval a placement needs (reg. 11 or a council rule), decided by one role."""

    __tablename__ = "approval_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placement.id", ondelete="CASCADE"), index=True)
    rule: Mapped[ApprovalRule] = enum_column(ApprovalRule)
    role: Mapped[Role] = enum_column(Role)
    status: Mapped[ApprovalStatus] = enum_column(ApprovalStatus, default=ApprovalStatus.pending)
    case_summary: Mapped[Optional[str]] = mapped_column(Text)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    # Two managers deciding the same request at once: the second is told it changed.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What asked for it: the panel decision (accept or override) that raised it, whose maker may
    # not decide it, and the version of the approvals policy whose ``rule`` it is
    # (api.panel_decisions.policy_version). Empty on requests raised before they were kept.
    panel_decision_id: Mapped[Optional[int]] = mapped_column(ForeignKey("decision.id"))
    policy_version: Mapped[Optional[str]] = mapped_column(String(64))

    # Who decided, by name, for the API and the pages (loaded with the page of requests).
    decider: Mapped[Optional["User"]] = relationship(foreign_keys=[decided_by_id], lazy="selectin",
                                                     viewonly=True)

    __mapper_args__ = {"version_id_col": version}
