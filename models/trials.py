"""Trial stays: a few nights at a home before a placement starts, booked by the panel from a
proposal (Medway's 2024 tender asked for them before a move from foster or residential care, so
a young person can meet the home and the people living there first).

A trial uses the proposed bed for its nights and is paid by the night (the weekly price the
proposal would cost, over seven). It does not claim the bed: accepting the proposal does, and the
placement then starts the day the trial ends. Booking, cancelling and the rules on dates are
api.trial_stays'.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, enum_column, utcnow
from models.enums import TrialStatus
from models.supply import Money
from models.tenancy import CouncilOwned


class TrialStay(CouncilOwned, Base):
    __tablename__ = "trial_stay"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    vacancy_id: Mapped[str] = mapped_column(ForeignKey("vacancy.id", ondelete="CASCADE"))
    property_id: Mapped[str] = mapped_column(ForeignKey("property.id", ondelete="CASCADE"))
    proposed_match_id: Mapped[Optional[int]] = mapped_column(ForeignKey("proposed_match.id", ondelete="SET NULL"))
    starts_on: Mapped[dt.date]  # the first night
    nights: Mapped[int]
    nightly_cost: Mapped[float] = mapped_column(Money)
    status: Mapped[TrialStatus] = enum_column(TrialStatus, default=TrialStatus.booked)
    reason: Mapped[str] = mapped_column(String(2000))
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    booked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    cancelled_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    cancelled_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    cancel_reason: Mapped[Optional[str]] = mapped_column(String(2000))

    __table_args__ = (
        CheckConstraint("nights BETWEEN 1 AND 14", name="nights_in_range"),
        CheckConstraint("nightly_cost >= 0", name="nightly_cost_not_negative"),
        # One trial booked for a young person at a time (a second is refused, in words, first).
        Index("uq_trial_stay_one_booked", "referral_id", unique=True,
              sqlite_where=text("status = 'booked'"), postgresql_where=text("status = 'booked'")),
    )

    @property
    def ends_on(self) -> dt.date:
        """The morning after the last night: the day the placement may start."""
        return self.starts_on + dt.timedelta(days=self.nights)

    @property
    def cost(self) -> float:
        return round(self.nights * float(self.nightly_cost), 2)
