"""Referrals sent to providers and their answers (models.market): what a provider is shown (the
anonymised needs profile), the deadline an urgency gives, an offer of a bed, a decline with its
reason, what the next match run is told of both, and the market-engagement figures
commissioners watch.

Who chooses the providers is the matching engine's business (matching.broadcast: those whose
homes could meet the hard rules); this module keeps the rules of the exchange itself:

* A provider sees only the referrals sent to it, and only the profile: age, sex, tier, needs,
  risks, the living arrangement wanted, the district of home and of the area wanted (the
  postcode's outward code), the date a bed is needed by. Never a name, a date of birth, a full
  postcode, the young person's wishes in their own words, or the council's reference.
* An answer is given once, by the deadline, while the young person is still waiting.
* An offer names one of the provider's own free beds (a vacancy with a bed free), a tier that
  meets the need, a weekly price and a start date. The bed stays in the market: the next match
  run weighs the offer with the whole queue (matching.pairs: the pair at the offered tier,
  price and start; the provider's other homes stay at their framework prices), and the panel's
  acceptance claims the bed as any placement does (the last bed once).
* A decline rules the provider's homes out for that young person in the next run, counted in
  the unplaced funnel with its reason.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import glossary
from models.accounts import User, record
from models.base import council_today, utcnow
from models.enums import (
    RISK_TO_OTHERS_PREFIX,
    DeclineReason,
    Need,
    ReferralStatus,
    RequestStatus,
    RiskToOthers,
    RiskToSelf,
    Role,
    Tier,
)
from models.market import ReferralRequest
from models.people import Referral
from models.supply import LotAward, Property, Provider, TierPrice, Vacancy

# How long a provider has to answer, by how soon the young person needs a home: a same-day need
# gets a same-day answer; the others leave a working day, or three, to check the home's mix.
ANSWER_WITHIN = {"today": dt.timedelta(hours=4), "within_5_days": dt.timedelta(days=1),
                 "over_5_days": dt.timedelta(days=3)}
MAX_WEEKLY_PRICE = 50_000.0
MAX_START_DAYS = 365  # an offer starting later than a year ahead is not an offer for this need
MAX_NOTE = 500


class AnswerRefused(ValueError):
    """Why an answer (or a vacancy change) cannot be taken, in words; ``field`` names the form field."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason, self.field = reason, field
        super().__init__(reason)


def today() -> dt.date:
    """The day the market's exchange is judged on (the council's today): the date an offer may
    start from, the ages a profile shows. One place, so a test can hold the clock on the demo's day."""
    return council_today()


def deadline_for(urgency: str, sent_at: dt.datetime) -> dt.datetime:
    return sent_at + ANSWER_WITHIN[str(urgency)]


def district(postcode: str | None) -> str | None:
    """A postcode's outward code (ME4 from ME4 4TR): the district, and nothing finer."""
    if not postcode:
        return None
    parts = postcode.strip().upper().split()
    return parts[0] if len(parts) == 2 else postcode.strip().upper()[:-3].strip() or None


def profile(referral: Referral, on: dt.date) -> dict:
    """The anonymised needs profile a provider is shown, in words (see the module for what is
    left out)."""
    needs_by = on + dt.timedelta(days=referral.urgency.days)  # as the panel counts it (models.enums.Urgency)
    return {
        "age": referral.age_on(on),
        "sex": glossary.SEXES.get(str(referral.sex), str(referral.sex)),
        "legal_status": glossary.LEGAL_STATUSES.get(str(referral.legal_status), str(referral.legal_status)),
        "tier": str(referral.tier),
        "tier_words": glossary.TIERS[str(referral.tier)],
        "support": glossary.TIER_HOURS.get(str(referral.tier), ""),
        "needs": [glossary.NEEDS.get(n, n) for n in referral.needs or []],
        "risks_to_self": [glossary.RISKS_TO_SELF.get(r, r) for r in referral.risks_to_self or []],
        "risks_to_others": [glossary.RISKS_TO_OTHERS.get(r, r) for r in referral.risks_to_others or []],
        "living_with": glossary.LIVING_WITH.get(str(referral.living_with), str(referral.living_with)),
        "home_district": district(referral.home_postcode),
        "area_wanted": district(referral.preferred_postcode) or district(referral.home_postcode),
        "needed_by": needs_by,
        "urgency": glossary.URGENCIES[str(referral.urgency)],
        "expected_weeks": referral.duration_weeks,
        "deprivation_of_liberty": bool(referral.deprivation_of_liberty),
    }


# --- sending -------------------------------------------------------------------------------------


def framework_providers(session: Session) -> set[str]:
    """The providers a referral may be sent to: a price on a lot of a framework, or a place
    awarded on one by a tender."""
    priced = select(Property.provider_id).join(TierPrice, TierPrice.property_id == Property.id).where(
        TierPrice.lot_id.is_not(None))
    awarded = select(LotAward.provider_id)
    return set(session.scalars(priced)) | set(session.scalars(awarded))


def send(session: Session, referral: Referral, provider_ids: list[str], user: User) -> list[ReferralRequest]:
    """Send the referral to these providers (those not already sent it), each with the deadline
    its urgency gives. Refused (AnswerRefused) unless the young person is waiting."""
    if referral.status != ReferralStatus.open:
        raise AnswerRefused("only a young person waiting for a home can be sent to providers")
    already = set(session.scalars(select(ReferralRequest.provider_id).where(
        ReferralRequest.referral_id == referral.id)))
    now = utcnow()
    made = [ReferralRequest(referral_id=referral.id, provider_id=p, sent_at=now, sent_by_id=user.id,
                            deadline_at=deadline_for(referral.urgency, now), status=RequestStatus.sent)
            for p in dict.fromkeys(provider_ids) if p not in already]
    session.add_all(made)
    session.flush()
    if made:
        record(session, "referral_sent_to_providers", "referral", referral.id, actor=user,
               after={"providers": [r.provider_id for r in made], "deadline": made[0].deadline_at.isoformat()})
    return made


# --- a provider's side ---------------------------------------------------------------------------


def request_for(session: Session, user: User, request_id: int) -> ReferralRequest | None:
    """The request, if it was sent to this user's provider; None otherwise (so that an id sent to
    another provider reads exactly as one that does not exist)."""
    if user.role != Role.provider or user.provider_id is None:
        return None
    row = session.get(ReferralRequest, request_id)
    return row if row is not None and row.provider_id == user.provider_id else None


def requests_for(session: Session, user: User) -> list[ReferralRequest]:
    return list(session.scalars(select(ReferralRequest).where(ReferralRequest.provider_id == user.provider_id)
                                .order_by(ReferralRequest.deadline_at, ReferralRequest.id)))


def _answerable(session: Session, request: ReferralRequest, now: dt.datetime) -> Referral:
    if request.status != RequestStatus.sent:
        raise AnswerRefused(f"this referral has already been answered ({glossary.REQUEST_STATUSES[request.status]})")
    if now > request.deadline_at:
        raise AnswerRefused(f"the deadline for an answer passed at {request.deadline_at:%H:%M on %-d %B %Y} (UTC)")
    referral = session.get(Referral, request.referral_id)
    if referral is None or referral.status != ReferralStatus.open:
        raise AnswerRefused("the young person is no longer waiting for a home")
    return referral


def offer(session: Session, request: ReferralRequest, user: User, *, vacancy_id: str, tier: str,
          weekly_price: float, start: dt.date, now: dt.datetime | None = None,
          hard_rules: Callable[[Referral, Vacancy, dt.date], list[str]] | None = None) -> Vacancy:
    """Offer one of the provider's free beds (see the module); the vacancy offered.

    ``hard_rules`` (the engine's, matching.broadcast.offer_breaks, passed in by the caller since
    this layer sits below the engine) names the rules the offered bed would break for the young
    person at this tier, price and start: any, and the offer is refused naming them, since the
    panel could never accept it."""
    now = now or utcnow()
    referral = _answerable(session, request, now)
    vacancy = session.get(Vacancy, vacancy_id)
    home = session.get(Property, vacancy.property_id) if vacancy is not None else None
    if home is None or home.provider_id != request.provider_id or \
            vacancy.reserved_for_referral_id not in (None, referral.id):
        raise AnswerRefused("choose one of your own homes' free beds", "vacancy_id")
    if vacancy.beds < 1:
        raise AnswerRefused("that home has no free bed left: update your vacancies, or choose another home",
                            "vacancy_id")
    if tier not in Tier.codes() or not Tier(tier).covers(referral.tier):
        raise AnswerRefused(f"the young person needs {glossary.TIERS[str(referral.tier)].lower()} support: offer "
                            "at that tier or above", "tier")
    # The home's listed tiers are what it is contracted (and staffed) to provide: an offer picks
    # one of them and names its price for this young person.
    if Tier(tier) not in {tp.tier for tp in home.prices}:
        listed = ", ".join(glossary.TIERS[str(t)].lower() for t in sorted({tp.tier for tp in home.prices},
                                                                          key=lambda t: Tier(t).rank)) or "none"
        raise AnswerRefused(f"that home is not listed for {glossary.TIERS[tier].lower()} support (it is listed "
                            f"for: {listed}); offer a tier it provides", "tier")
    if not 0 < weekly_price <= MAX_WEEKLY_PRICE:
        raise AnswerRefused(f"give a weekly price above £0 and up to £{MAX_WEEKLY_PRICE:,.0f}", "weekly_price")
    on = today()
    if not on <= start <= on + dt.timedelta(days=MAX_START_DAYS):
        raise AnswerRefused(f"give a start date from today to {MAX_START_DAYS} days ahead", "start")
    begins = max(start, vacancy.available_from)
    broken = hard_rules(referral, vacancy, begins) if hard_rules is not None else []
    if broken:
        raise AnswerRefused("that home could not take this young person: "
                            + "; ".join(glossary.words(code, glossary.RULES) for code in broken[:3]), "vacancy_id")
    request.status, request.answered_at, request.answered_by_id = RequestStatus.offered, now, user.id
    request.vacancy_id, request.offered_tier = vacancy.id, Tier(tier)
    request.offered_weekly_price = round(float(weekly_price), 2)
    request.offered_start = begins
    session.flush()
    record(session, "referral_offer_made", "referral_request", request.id, actor=user,
           after={"provider": request.provider_id, "vacancy": vacancy.id, "tier": tier,
                  "weekly_price": request.offered_weekly_price, "start": request.offered_start.isoformat()})
    return vacancy


def decline(session: Session, request: ReferralRequest, user: User, *, reason: str, note: str = "",
            now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    _answerable(session, request, now)
    if reason not in DeclineReason.codes():
        raise AnswerRefused("choose the reason you are declining", "reason")
    if len(note) > MAX_NOTE:
        raise AnswerRefused(f"keep the note to {MAX_NOTE} characters", "note")
    request.status, request.answered_at, request.answered_by_id = RequestStatus.declined, now, user.id
    request.decline_reason, request.decline_note = DeclineReason(reason), note.strip() or None
    session.flush()
    record(session, "referral_declined", "referral_request", request.id, actor=user,
           after={"provider": request.provider_id, "reason": reason})


def update_vacancy(session: Session, user: User, vacancy_id: str, *, beds: int, available_from: dt.date,
                   support_hours: int | None = None) -> Vacancy:
    """A provider's staff changing one of their homes' vacancies (free beds, from when, and for
    a floating support package its free support hours a week); not a bed kept for one young
    person (Staying Put), which the council arranges."""
    vacancy = session.get(Vacancy, vacancy_id)
    home = session.get(Property, vacancy.property_id) if vacancy is not None else None
    if home is None or home.provider_id != user.provider_id or vacancy.reserved_for_referral_id is not None:
        raise LookupError(vacancy_id)
    if not 0 <= beds <= home.total_beds:
        raise AnswerRefused(f"give the free beds as a whole number from 0 to {home.total_beds} (the home's beds)",
                            "beds")
    on = today()
    if not on - dt.timedelta(days=31) <= available_from <= on + dt.timedelta(days=MAX_START_DAYS):
        raise AnswerRefused(f"give the date the beds are free from, up to {MAX_START_DAYS} days ahead",
                            "available_from")
    package = vacancy.support_hours is not None
    if support_hours is not None and not package:
        raise AnswerRefused("only a floating support package has support hours: this vacancy is counted in beds",
                            "support_hours")
    if package and support_hours is not None and not 1 <= support_hours <= 1000:
        raise AnswerRefused("give the support hours a week free as a whole number from 1 to 1000", "support_hours")
    before = {"beds": vacancy.beds, "available_from": vacancy.available_from.isoformat()}
    after = {"beds": beds, "available_from": available_from.isoformat()}
    if package:
        before["support_hours"] = vacancy.support_hours
        vacancy.support_hours = support_hours if support_hours is not None else vacancy.support_hours
        after["support_hours"] = vacancy.support_hours
    vacancy.beds, vacancy.available_from = beds, available_from
    session.flush()
    record(session, "vacancy_updated_by_provider", "vacancy", vacancy.id, actor=user, before=before, after=after)
    return vacancy


def update_home(session: Session, user: User, property_id: str, *, accepts_needs: list[str],
                excludes_risks: list[str]) -> Property:
    """A provider's staff saying what one of their homes can meet: the needs it accepts and the
    risks it cannot manage (the match run's need_not_met and risk_excluded rules read them)."""
    home = session.get(Property, property_id)
    if home is None or home.provider_id != user.provider_id:
        raise LookupError(property_id)
    unknown = sorted(set(accepts_needs) - set(Need.codes()))
    if unknown:
        raise AnswerRefused(f"not a need placematch records: {', '.join(unknown)}", "accepts_needs")
    risks = set(RiskToSelf.codes()) | {RISK_TO_OTHERS_PREFIX + r for r in RiskToOthers.codes()}
    unknown = sorted(set(excludes_risks) - risks)
    if unknown:
        raise AnswerRefused(f"not a risk placematch records: {', '.join(unknown)}", "excludes_risks")
    before = {"accepts_needs": list(home.accepts_needs), "excludes_risks": list(home.excludes_risks)}
    home.accepts_needs, home.excludes_risks = sorted(set(accepts_needs)), sorted(set(excludes_risks))
    session.flush()
    record(session, "home_updated_by_provider", "property", home.id, actor=user, before=before,
           after={"accepts_needs": home.accepts_needs, "excludes_risks": home.excludes_risks})
    return home


# --- what the market said, for the engine ---------------------------------------------------------


def answers_for_run(session: Session, referral_ids: list[str]) -> list[dict]:
    """The answers the next match run weighs (matching.pairs): one record an answered request,
    with the offer's vacancy, weekly price and start (None for a decline)."""
    stmt = select(ReferralRequest).where(ReferralRequest.referral_id.in_(referral_ids),
                                         ReferralRequest.status.in_([RequestStatus.offered, RequestStatus.declined]))
    return [{"referral_id": r.referral_id, "provider_id": r.provider_id,
             "vacancy_id": r.vacancy_id if r.status == RequestStatus.offered else None,
             "tier": str(r.offered_tier) if r.offered_tier else None,
             "weekly_price": r.offered_weekly_price, "start": r.offered_start}
            for r in session.scalars(stmt.order_by(ReferralRequest.id))
            if r.status == RequestStatus.declined or r.vacancy_id is not None]  # an offered bed since removed: none


# --- what the market said, for people ------------------------------------------------------------


def answers_by_referral(session: Session, referral_ids: list[str] | None = None) -> dict[str, dict]:
    """For each referral sent to providers: how many were asked, offered, declined (by reason)
    and did not answer by the deadline."""
    stmt = select(ReferralRequest)
    if referral_ids is not None:
        stmt = stmt.where(ReferralRequest.referral_id.in_(referral_ids))
    now = utcnow()
    out: dict[str, dict] = {}
    for r in session.scalars(stmt):
        got = out.setdefault(r.referral_id, {"asked": 0, "offered": 0, "declined": {}, "unanswered": 0,
                                             "waiting": 0})
        got["asked"] += 1
        if r.status == RequestStatus.offered:
            got["offered"] += 1
        elif r.status == RequestStatus.declined:
            got["declined"][str(r.decline_reason)] = got["declined"].get(str(r.decline_reason), 0) + 1
        elif now > r.deadline_at:
            got["unanswered"] += 1
        else:
            got["waiting"] += 1
    return out


def answers_in_words(got: dict) -> str:
    """"Sent to 6 providers: 1 offered a bed; 3 declined (no free bed in time 2, cannot manage the
    risks 1); 2 did not answer by the deadline."""
    parts = []
    if got["offered"]:
        parts.append(f"{got['offered']} offered a bed")
    declined = sum(got["declined"].values())
    if declined:
        reasons = ", ".join(f"{glossary.DECLINE_REASONS[k].lower()} {n}"
                            for k, n in sorted(got["declined"].items(), key=lambda kv: (-kv[1], kv[0])))
        parts.append(f"{declined} declined ({reasons})")
    if got["unanswered"]:
        parts.append(f"{got['unanswered']} did not answer by the deadline")
    if got["waiting"]:
        parts.append(f"{got['waiting']} still to answer")
    asked = got["asked"]
    return f"Sent to {asked} provider{'s' if asked != 1 else ''}: " + "; ".join(parts) + "."


@dataclass
class Engagement:
    """One provider's (or one tier's) answers: the market-engagement figures."""

    key: str
    name: str
    sent: int = 0
    answered: int = 0
    offered: int = 0
    declined: int = 0
    unanswered: int = 0  # no answer by the deadline
    hours: list = None  # hours from sending to answering, for each answer
    reasons: dict = None

    @property
    def offer_rate(self) -> float | None:
        return self.offered / self.sent if self.sent else None

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None


def engagement(session: Session, by: str = "provider") -> list[Engagement]:
    """Response times, offer rates and decline reasons per provider (``by="provider"``) or per
    tier the young people needed (``by="tier"``)."""
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    stmt = select(ReferralRequest, Referral.tier).join(Referral, Referral.id == ReferralRequest.referral_id)
    now = utcnow()
    rows: dict[str, Engagement] = {}
    for r, tier in session.execute(stmt):
        key = r.provider_id if by == "provider" else str(tier)
        e = rows.setdefault(key, Engagement(key, names.get(key, key) if by == "provider" else glossary.TIERS[key],
                                            hours=[], reasons={}))
        e.sent += 1
        if r.answered_at is not None:
            e.answered += 1
            e.hours.append((r.answered_at - r.sent_at).total_seconds() / 3600)
            if r.status == RequestStatus.declined:
                e.declined += 1
                e.reasons[str(r.decline_reason)] = e.reasons.get(str(r.decline_reason), 0) + 1
            else:
                e.offered += 1
        elif now > r.deadline_at:
            e.unanswered += 1
    return sorted(rows.values(), key=lambda e: (e.name.lower(), e.key))
