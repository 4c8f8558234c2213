"""The market's answers to referrals: a referral sent to a provider (its anonymised needs
profile, by providers.offers), with a deadline set by its urgency, and the provider's answer,
an offer of a bed or a decline with a coded reason (issue 15's referral broadcast).

An offer names one of the provider's free beds (a vacancy), a tier, a weekly price and a start
date. It does not take the bed out of the market: the panel's next match run weighs the whole
queue at once, and the offer tells it that this provider would take this young person in that
bed, at that price, from that date. A provider may offer one bed to several young people; the
run gives it to one. The provider's other homes stay in the run at their framework prices. A
decline tells the run the opposite: none of that provider's homes for that young person.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, enum_column, utcnow
from models.enums import DeclineReason, RequestStatus, Tier
from models.supply import Money
from models.tenancy import CouncilOwned


class ReferralRequest(CouncilOwned, Base):
    __tablename__ = "referral_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deadline_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sent_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[RequestStatus] = enum_column(RequestStatus, default=RequestStatus.sent)
    answered_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    answered_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    decline_reason: Mapped[Optional[DeclineReason]] = enum_column(DeclineReason, nullable=True)
    decline_note: Mapped[Optional[str]] = mapped_column(String(500))
    # The offer: the bed (one of the provider's vacancies), the tier, the weekly price, the start.
    vacancy_id: Mapped[Optional[str]] = mapped_column(ForeignKey("vacancy.id", ondelete="SET NULL"))
    offered_tier: Mapped[Optional[Tier]] = enum_column(Tier, nullable=True)
    offered_weekly_price: Mapped[Optional[float]] = mapped_column(Money)
    offered_start: Mapped[Optional[dt.date]]

    __table_args__ = (
        UniqueConstraint("referral_id", "provider_id"),  # sent once: a second broadcast skips them
        CheckConstraint("offered_weekly_price IS NULL OR offered_weekly_price > 0", name="offer_price_positive"),
    )
