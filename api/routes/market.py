"""Referral broadcast over the service: the panel sends a young person's referral to every
framework provider whose homes could meet the hard rules (matching.broadcast); each provider's
staff see the referrals sent to them as anonymised needs profiles and answer with an offer of a
bed or a decline with its reason (providers.offers); commissioners read the market-engagement
figures.

A provider's staff reach only ``/provider/...``: their own homes' vacancies and the referrals
sent to their organisation. A referral sent to another provider, or another provider's vacancy,
is "not found" (404), exactly as an id that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import (
    COMMISSIONING,
    MANAGERS,
    PANEL,
    PROVIDER_STAFF,
    Allowed,
    RecordId,
    SessionDep,
)
from api.errors import ERROR_RESPONSES, ApiError, not_found
from models import glossary
from models.accounts import User
from models.enums import (
    RISK_TO_OTHERS_PREFIX,
    DeclineReason,
    Need,
    RiskToOthers,
    RiskToSelf,
    Tier,
)
from models.market import ReferralRequest
from models.people import Referral
from models.supply import Property, Provider, Vacancy
from providers import offers

router = APIRouter(tags=["referral broadcast"], responses=ERROR_RESPONSES)
PanelMember = Allowed(*PANEL)
ProviderStaff = Allowed(*PROVIDER_STAFF)
EngagementReader = Allowed(*dict.fromkeys(COMMISSIONING + MANAGERS))
AN_ID = r"^[^:\x00-\x1f\x7f-\x9f]+$"
ReferralId = Annotated[str, Path(min_length=1, max_length=40, pattern=AN_ID)]
VacancyId = Annotated[str, Path(min_length=1, max_length=40, pattern=AN_ID)]


class SentTo(BaseModel):
    request_id: int
    provider_id: str
    provider_name: str
    status: str
    status_words: str
    sent_at: dt.datetime
    deadline_at: dt.datetime
    answered_at: Optional[dt.datetime] = None
    decline_reason: Optional[str] = None
    decline_reason_words: Optional[str] = None
    offered_vacancy_id: Optional[str] = None
    offered_tier: Optional[str] = None
    offered_weekly_price: Optional[float] = None
    offered_start: Optional[dt.date] = None


class Broadcast(BaseModel):
    referral_id: str
    sent_now: list[SentTo] = Field(description="The providers this request sent it to")
    all_sent: list[SentTo] = Field(description="Every provider it has been sent to, with their answers")
    summary: str = Field(description="What the providers have answered, in a sentence")


def _sent_to(r: ReferralRequest, names: dict[str, str]) -> SentTo:
    return SentTo(request_id=r.id, provider_id=r.provider_id, provider_name=names.get(r.provider_id, r.provider_id),
                  status=str(r.status), status_words=glossary.REQUEST_STATUSES[str(r.status)], sent_at=r.sent_at,
                  deadline_at=r.deadline_at, answered_at=r.answered_at,
                  decline_reason=str(r.decline_reason) if r.decline_reason else None,
                  decline_reason_words=glossary.DECLINE_REASONS[str(r.decline_reason)] if r.decline_reason else None,
                  offered_vacancy_id=r.vacancy_id,
                  offered_tier=str(r.offered_tier) if r.offered_tier else None,
                  offered_weekly_price=r.offered_weekly_price, offered_start=r.offered_start)


def sent_for(session, referral_id: str) -> list[ReferralRequest]:
    return list(session.scalars(select(ReferralRequest).where(ReferralRequest.referral_id == referral_id)
                                .order_by(ReferralRequest.id)))


def broadcast(session, referral: Referral, user: User) -> tuple[list[ReferralRequest], list[ReferralRequest]]:
    """Send the referral to every eligible framework provider not yet sent it: (sent now, all)."""
    from matching.broadcast import eligible_providers

    eligible = eligible_providers(session, referral, offers.today(), referral.council_code)
    try:
        made = offers.send(session, referral, [e.provider_id for e in eligible], user)
    except offers.AnswerRefused as exc:
        raise ApiError(409, exc.reason) from None
    return made, sent_for(session, referral.id)


def offer_checked(session, row: ReferralRequest, user: User, *, vacancy_id: str, tier: str, weekly_price: float,
                  start: dt.date) -> Vacancy:
    """An offer, refused (offers.AnswerRefused) if the home could not take the young person by the
    engine's hard rules, since the panel could then never accept it; for the API and the portal."""
    from matching.broadcast import offer_breaks

    def hard_rules(referral: Referral, vacancy: Vacancy, begins: dt.date) -> list[str]:
        return offer_breaks(session, referral, vacancy.id, tier, weekly_price, begins, offers.today(),
                            referral.council_code)

    return offers.offer(session, row, user, vacancy_id=vacancy_id, tier=tier, weekly_price=weekly_price, start=start,
                        hard_rules=hard_rules)


def _names(session) -> dict[str, str]:
    return dict(session.execute(select(Provider.id, Provider.name)).all())


@router.post("/referrals/{referral_id}/broadcast", response_model=Broadcast, status_code=201,
             summary="Send a referral to every framework provider whose homes could meet it")
def send_referral(referral_id: ReferralId, session: SessionDep, user: PanelMember):
    """Each provider gets the anonymised needs profile and a deadline set by the urgency (4 hours
    for today, a day within 5 days, 3 days otherwise). Providers already sent it are not sent it
    again; 409 when the young person is not waiting for a home."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise not_found("referral", referral_id)
    made, every = broadcast(session, referral, user)
    names = _names(session)
    got = offers.answers_by_referral(session, [referral.id]).get(referral.id)
    return Broadcast(referral_id=referral.id, sent_now=[_sent_to(r, names) for r in made],
                     all_sent=[_sent_to(r, names) for r in every],
                     summary=offers.answers_in_words(got) if got else "Not sent to any provider: no framework "
                                                                      "provider's homes could meet the hard rules.")


@router.get("/referrals/{referral_id}/broadcast", response_model=Broadcast,
            summary="The providers a referral was sent to, and their answers")
def read_broadcast(referral_id: ReferralId, session: SessionDep, _: PanelMember):
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise not_found("referral", referral_id)
    names = _names(session)
    every = sent_for(session, referral.id)
    got = offers.answers_by_referral(session, [referral.id]).get(referral.id)
    return Broadcast(referral_id=referral.id, sent_now=[], all_sent=[_sent_to(r, names) for r in every],
                     summary=offers.answers_in_words(got) if got else "Not sent to providers yet.")


# --- a provider's staff ---------------------------------------------------------------------------


class NeedsProfile(BaseModel):
    """What a provider is told about a young person: no name, date of birth, full postcode, their
    own words or the council's reference."""

    age: int
    sex: str
    legal_status: str
    tier: str
    tier_words: str
    support: str
    needs: list[str]
    risks_to_self: list[str]
    risks_to_others: list[str]
    living_with: str
    home_district: Optional[str] = Field(description="The outward code of home's postcode (ME4), nothing finer")
    area_wanted: Optional[str]
    needed_by: dt.date
    urgency: str
    expected_weeks: Optional[int]
    deprivation_of_liberty: bool


class RequestForProvider(BaseModel):
    request_id: int
    status: str
    status_words: str
    sent_at: dt.datetime
    deadline_at: dt.datetime
    answered_at: Optional[dt.datetime] = None
    profile: NeedsProfile
    decline_reason: Optional[str] = None
    offered_vacancy_id: Optional[str] = None
    offered_tier: Optional[str] = None
    offered_weekly_price: Optional[float] = None
    offered_start: Optional[dt.date] = None


def for_provider(session, r: ReferralRequest) -> RequestForProvider:
    referral = session.get(Referral, r.referral_id)
    return RequestForProvider(request_id=r.id, status=str(r.status), status_words=glossary.REQUEST_STATUSES[str(r.status)],
                              sent_at=r.sent_at, deadline_at=r.deadline_at, answered_at=r.answered_at,
                              profile=NeedsProfile(**offers.profile(referral, offers.today())),
                              decline_reason=str(r.decline_reason) if r.decline_reason else None,
                              offered_vacancy_id=r.vacancy_id,
                              offered_tier=str(r.offered_tier) if r.offered_tier else None,
                              offered_weekly_price=r.offered_weekly_price, offered_start=r.offered_start)


def _mine(session, user: User, request_id: int) -> ReferralRequest:
    row = offers.request_for(session, user, request_id)
    if row is None:
        raise not_found("referral request", request_id)
    return row


@router.get("/provider/requests", response_model=list[RequestForProvider],
            summary="The referrals sent to your organisation, as anonymised needs profiles")
def my_requests(session: SessionDep, user: ProviderStaff):
    return [for_provider(session, r) for r in offers.requests_for(session, user)]


@router.get("/provider/requests/{referral_request_id}", response_model=RequestForProvider,
            summary="One referral sent to your organisation")
def my_request(referral_request_id: RecordId, session: SessionDep, user: ProviderStaff):
    return for_provider(session, _mine(session, user, referral_request_id))


@router.get("/provider/requests/{referral_request_id}/placements-standard", response_model=dict,
            summary="One referral sent to your organisation, as the Placements Data Standard's needs profile (JSON)")
def my_request_in_the_standard(referral_request_id: RecordId, session: SessionDep, user: ProviderStaff):
    from providers.placements_standard import needs_profile

    row = _mine(session, user, referral_request_id)
    return needs_profile(session.get(Referral, row.referral_id), offers.today(), row.id)


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vacancy_id: str = Field(min_length=1, max_length=40, description="One of your homes' vacancies with a free bed")
    tier: Tier = Field(description="The support offered: the tier needed or above")
    weekly_price: float = Field(gt=0, le=offers.MAX_WEEKLY_PRICE)
    start: dt.date = Field(description="The date the young person could move in")


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DeclineReason
    note: str = Field("", max_length=offers.MAX_NOTE, description="Optional; no one's personal details")


def _refused(exc: offers.AnswerRefused) -> ApiError:
    return ApiError(409, exc.reason, fields=[(f"body.{exc.field}", exc.reason)] if exc.field else ())


@router.post("/provider/requests/{referral_request_id}/offer", response_model=RequestForProvider,
             summary="Offer a bed for a referral sent to you")
def make_offer(referral_request_id: RecordId, body: OfferBody, session: SessionDep, user: ProviderStaff):
    """The bed stays yours until the panel's next match run proposes it and the panel accepts
    (409 when the deadline has passed, the referral was answered already, the home has no free
    bed left, is not listed for the tier, or could not take the young person by the hard rules)."""
    row = _mine(session, user, referral_request_id)
    try:
        offer_checked(session, row, user, vacancy_id=body.vacancy_id, tier=body.tier.value,
                      weekly_price=body.weekly_price, start=body.start)
    except offers.AnswerRefused as exc:
        raise _refused(exc) from None
    return for_provider(session, row)


@router.post("/provider/requests/{referral_request_id}/decline", response_model=RequestForProvider,
             summary="Decline a referral sent to you, with the reason")
def decline_request(referral_request_id: RecordId, body: DeclineBody, session: SessionDep, user: ProviderStaff):
    row = _mine(session, user, referral_request_id)
    try:
        offers.decline(session, row, user, reason=body.reason.value, note=body.note)
    except offers.AnswerRefused as exc:
        raise _refused(exc) from None
    return for_provider(session, row)


class MyVacancy(BaseModel):
    vacancy_id: str
    property_id: str
    home: str
    postcode: str
    beds: int
    available_from: dt.date
    support_hours: Optional[int] = Field(None, description="A floating support package's free support hours a week "
                                                           "(none for a home counted in beds)")
    kept_for_one_young_person: bool = Field(description="Kept for one young person by the council (Staying Put): "
                                                        "the council changes it, not you")


class VacancyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beds: int = Field(ge=0, le=500, description="Beds free (a floating support package: the most young people "
                                                "it takes at once)")
    available_from: dt.date
    support_hours: Optional[int] = Field(None, ge=1, le=1000, description="A floating support package's free "
                                                                        "support hours a week")


def my_vacancies(session, user: User) -> list[MyVacancy]:
    stmt = (select(Vacancy, Property).join(Property, Vacancy.property_id == Property.id)
            .where(Property.provider_id == user.provider_id).order_by(Property.name, Vacancy.id))
    return [MyVacancy(vacancy_id=v.id, property_id=p.id, home=p.name or p.id, postcode=p.postcode, beds=v.beds,
                      available_from=v.available_from, support_hours=v.support_hours,
                      kept_for_one_young_person=v.reserved_for_referral_id is not None)
            for v, p in session.execute(stmt)]


@router.get("/provider/vacancies", response_model=list[MyVacancy], summary="Your homes' vacancies")
def list_my_vacancies(session: SessionDep, user: ProviderStaff):
    return my_vacancies(session, user)


@router.put("/provider/vacancies/{vacancy_id}", response_model=MyVacancy,
            summary="Change a vacancy of one of your homes: the beds free and from when")
def change_my_vacancy(vacancy_id: VacancyId, body: VacancyChange, session: SessionDep, user: ProviderStaff):
    try:
        offers.update_vacancy(session, user, vacancy_id, beds=body.beds, available_from=body.available_from,
                              support_hours=body.support_hours)
    except LookupError:
        raise not_found("vacancy", vacancy_id) from None
    except offers.AnswerRefused as exc:
        raise ApiError(422, exc.reason, fields=[(f"body.{exc.field}", exc.reason)]) from None
    return next(v for v in my_vacancies(session, user) if v.vacancy_id == vacancy_id)


class MyHome(BaseModel):
    property_id: str
    name: str
    postcode: str
    service_type: str
    setting: str
    total_beds: int
    age_min: int
    age_max: int
    sex: str
    ofsted_grade: Optional[str] = Field(description="The provider's Ofsted grade")
    tier_prices: dict[str, float] = Field(description="Weekly price by tier, as the framework lists them")
    accepts_needs: list[str]
    excludes_risks: list[str]


RiskCode = Literal[tuple(RiskToSelf.codes() + [RISK_TO_OTHERS_PREFIX + r for r in RiskToOthers.codes()])]


class HomeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepts_needs: list[Need] = Field(max_length=50, description="The needs the home can meet")
    excludes_risks: list[RiskCode] = Field(max_length=50, description="The risks it cannot manage "
                                                                      "(a risk to others is to_others:...)")


def my_homes(session, user: User) -> list[MyHome]:
    stmt = (select(Property).where(Property.provider_id == user.provider_id).order_by(Property.name, Property.id))
    return [MyHome(property_id=p.id, name=p.name or p.id, postcode=p.postcode, service_type=str(p.service_type),
                   setting=str(p.setting), total_beds=p.total_beds, age_min=p.age_min, age_max=p.age_max,
                   sex=str(p.sex), ofsted_grade=str(p.provider.ofsted_grade) if p.provider.ofsted_grade else None,
                   tier_prices={str(tp.tier): float(tp.weekly_price) for tp in p.prices},
                   accepts_needs=list(p.accepts_needs), excludes_risks=list(p.excludes_risks))
            for p in session.scalars(stmt)]


@router.get("/provider/properties", response_model=list[MyHome], summary="Your homes, as the council's market lists them")
def list_my_homes(session: SessionDep, user: ProviderStaff):
    return my_homes(session, user)


@router.put("/provider/properties/{property_id}", response_model=MyHome,
            summary="Say what one of your homes can meet: the needs it accepts, the risks it cannot manage")
def change_my_home(property_id: VacancyId, body: HomeChange, session: SessionDep, user: ProviderStaff):
    try:
        offers.update_home(session, user, property_id, accepts_needs=[n.value for n in body.accepts_needs],
                           excludes_risks=list(body.excludes_risks))
    except LookupError:
        raise not_found("home", property_id) from None
    except offers.AnswerRefused as exc:
        raise ApiError(422, exc.reason, fields=[(f"body.{exc.field}", exc.reason)]) from None
    return next(h for h in my_homes(session, user) if h.property_id == property_id)


# --- the commissioners' view ------------------------------------------------------------------------


class EngagementRow(BaseModel):
    key: str
    name: str
    sent: int
    answered: int
    offered: int
    declined: int
    unanswered: int = Field(description="Not answered by the deadline")
    offer_rate: Optional[float]
    median_hours_to_answer: Optional[float]
    decline_reasons: dict[str, int]


@router.get("/market-engagement", response_model=list[EngagementRow],
            summary="Providers' response times, offer rates and decline reasons")
def market_engagement(session: SessionDep, _: EngagementReader,
                      by: Annotated[Literal["provider", "tier"], Query()] = "provider"):
    return [EngagementRow(key=e.key, name=e.name, sent=e.sent, answered=e.answered, offered=e.offered,
                          declined=e.declined, unanswered=e.unanswered, offer_rate=e.offer_rate,
                          median_hours_to_answer=e.median_hours, decline_reasons=e.reasons)
            for e in offers.engagement(session, by)]
