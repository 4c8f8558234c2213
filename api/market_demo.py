"""The referral broadcast on the demo council, end to end: the panel sends every young person
waiting to the framework providers whose homes could meet the hard rules, and the demo's
providers answer as a careful provider would, each answer in its own transaction, by a staff
account of their own (created on first use, ``demo.staff.<provider>``):

* offer the first of its free beds the young person could take (the engine's hard rules,
  api.routes.market.offer_checked), at the home's framework price for the tier and from the
  later of the bed's free date and today;
* otherwise decline, with the reason the rules give: no free bed at all, or the first rule its
  free beds break (a need it cannot meet, risks it cannot manage, a start it cannot make...).

Used by ``placematch broadcast`` and benchmarks/bench_broadcast.py. Demo only: a real
provider's staff answer for themselves in the provider portal or the API.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, select

from api.routes.market import broadcast
from models.accounts import User
from models.db import transaction
from models.enums import ReferralStatus, RequestStatus, Role, Tier
from models.market import ReferralRequest
from models.people import Referral
from models.supply import Property, Vacancy
from providers import offers

# The reason a provider gives when its free beds break a hard rule (matching.rules codes).
REASON_FOR_RULE = {
    "not_available_in_time": "start_date", "tier_not_offered": "needs_not_met", "need_not_met": "needs_not_met",
    "risk_excluded": "risks_not_manageable", "inside_exclusion_zone": "area_not_covered",
    "beyond_distance_cap": "area_not_covered", "solo_needs_self_contained": "resident_mix",
}
DEMO_STAFF_PASSWORD = "placematch-demo-only"


def broadcast_queue(engine: Engine, sender: str) -> dict[str, int]:
    """Send every waiting young person to the eligible providers: {referral id: providers sent it}."""
    with transaction(engine) as session:
        user = session.scalars(select(User).where(User.username == sender)).one()
        waiting = session.scalars(select(Referral).where(Referral.status == ReferralStatus.open)
                                  .order_by(Referral.id)).all()
        return {r.id: len(broadcast(session, r, user)[0]) for r in waiting}


def _staff(session, provider_id: str) -> User:
    from api.routes.users import create_user

    name = f"demo.staff.{provider_id.lower()}"
    found = session.scalars(select(User).where(User.username == name)).first()
    return found or create_user(session, name, f"Demo staff of {provider_id}", Role.provider, DEMO_STAFF_PASSWORD,
                                actor_name="demo", provider_id=provider_id)


def answer_as_demo_providers(engine: Engine) -> Counter:
    """Every request still waiting answered (see the module): counts of offers and of each reason."""
    from api.routes.match_runs import default_placing_authority
    from matching.broadcast import offer_breaks

    with transaction(engine) as session:
        waiting = session.scalars(select(ReferralRequest.id).where(ReferralRequest.status == RequestStatus.sent)
                                  .order_by(ReferralRequest.deadline_at, ReferralRequest.id)).all()
    said: Counter = Counter()
    today, authority = offers.today(), default_placing_authority()
    for request_id in waiting:
        with transaction(engine) as session:
            row = session.get(ReferralRequest, request_id)
            referral = session.get(Referral, row.referral_id)
            user = _staff(session, row.provider_id)
            free = session.execute(
                select(Vacancy, Property).join(Property, Vacancy.property_id == Property.id)
                .where(Property.provider_id == row.provider_id, Vacancy.beds > 0,
                       Vacancy.reserved_for_referral_id.is_(None)).order_by(Vacancy.available_from, Vacancy.id)).all()
            broken: list[str] = []
            for vacancy, home in free:
                prices = {tp.tier: tp.weekly_price for tp in home.prices}
                tier = next((t for t in Tier if t.covers(referral.tier) and prices.get(t)), None)
                if tier is None:
                    broken.append("tier_not_offered")
                    continue
                start = max(today, vacancy.available_from)
                codes = offer_breaks(session, referral, vacancy.id, tier.value, prices[tier], start, today, authority)
                if not codes:
                    offers.offer(session, row, user, vacancy_id=vacancy.id, tier=tier.value,
                                 weekly_price=prices[tier], start=start)
                    said["offered"] += 1
                    break
                broken.append(codes[0])
            else:
                reason = "no_vacancy" if not free else REASON_FOR_RULE.get(Counter(broken).most_common(1)[0][0],
                                                                          "other")
                offers.decline(session, row, user, reason=reason)
                said[reason] += 1
    return said

