"""A provider's Ofsted grade changes: record it, and flag every young person living (or about to
live) in its homes for a panel review within a week (Medway's rule: when a provider's grade
changes while a young person is placed there, the case goes to the ART panel within one week).

A plain function of a Session and a User, as the panel's decisions; the route
(``api.routes.grades``) and the providers' pages call it alike. Audited with before and after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.panel_decisions import LIVE
from api.refusals import Conflict, NotFound
from models.accounts import User, record
from models.enums import OfstedGrade
from models.people import Placement
from models.supply import Property, Provider

REVIEW_WITHIN = dt.timedelta(days=7)  # a changed Ofsted grade: the panel reviews within a week


@dataclass
class GradeChanged:
    provider: Provider
    before: OfstedGrade | None
    after: OfstedGrade | None
    review_due_on: dt.date
    flagged: list[Placement]


def change_ofsted_grade(session: Session, user: User, provider_id: str, grade: OfstedGrade | None, reason: str,
                        today: dt.date) -> GradeChanged:
    """Record a provider's new Ofsted grade, and flag every young person living (or about to
    live) in its homes for a panel review within a week."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    before = provider.ofsted_grade
    if before == grade:
        raise Conflict(f"provider {provider_id} is already graded {_grade(grade)}: nothing to change")
    provider.ofsted_grade = grade
    due = today + REVIEW_WITHIN
    why = (f"Ofsted grade of provider {provider_id} changed from {_grade(before)} to {_grade(grade)} on {today}: "
           f"{reason}")
    flagged = live_placements_at(session, provider_id)
    for placement in flagged:
        _flag_for_review(session, user, placement, due, why)
    session.flush()
    record(session, "ofsted_grade_changed", "provider", provider_id, actor=user,
           before={"ofsted_grade": _grade_code(before)},
           after={"ofsted_grade": _grade_code(grade), "reason": reason,
                  "flagged_placements": [p.id for p in flagged], "review_due_on": due.isoformat()})
    return GradeChanged(provider, before, grade, due, flagged)


def reviews_due(session: Session, limit: int = 200) -> list[Placement]:
    """Live placements flagged for a panel review, the soonest due first (the panel board and
    the home page of the panel and the head of service show them)."""
    return list(session.scalars(
        select(Placement).where(Placement.review_due_on.is_not(None), Placement.status.in_(LIVE))
        .order_by(Placement.review_due_on, Placement.id).limit(limit)
    ))


def live_placements_at(session: Session, provider_id: str) -> list[Placement]:
    return list(session.scalars(
        select(Placement).join(Property, Placement.property_id == Property.id)
        .where(Property.provider_id == provider_id, Placement.status.in_(LIVE))
        .order_by(Placement.id)
    ))


def _flag_for_review(session: Session, user: User, placement: Placement, due: dt.date, why: str) -> None:
    """An earlier review already owed is kept (never pushed back); the reasons accumulate."""
    before = {"review_due_on": _iso(placement.review_due_on), "review_reason": placement.review_reason}
    placement.review_due_on = min(placement.review_due_on, due) if placement.review_due_on else due
    placement.review_reason = f"{placement.review_reason}\n{why}" if placement.review_reason else why
    record(session, "placement_review_flagged", "placement", placement.id, actor=user, before=before,
           after={"review_due_on": _iso(placement.review_due_on), "review_reason": placement.review_reason})


def _grade(grade: OfstedGrade | None) -> str:
    return grade.value.replace("_", " ") if grade else "not graded"


def _grade_code(grade: OfstedGrade | None) -> str | None:
    return grade.value if grade else None


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
