"""Referral broadcast in the browser (api.routes.market has the API): the panel sends a young
person to the framework providers whose homes could meet the hard rules and sees their answers;
a provider's staff answer the referrals sent to their organisation and keep their vacancies up
to date; commissioners read the providers' response times, offer rates and decline reasons.

A provider's staff reach only the provider portal. A request sent to another provider, or
another provider's vacancy, gets the same "not found" page as an id that does not exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import (
    COMMISSIONING,
    MANAGERS,
    PANEL,
    PROVIDER_STAFF,
    RecordId,
    SessionDep,
)
from api.pages.core import PageAllowed, back_to, not_found_page, render
from api.pages.field_errors import FieldErrors
from api.routes.market import broadcast, offer_checked, sent_for
from models import glossary
from models.base import utcnow
from models.enums import (
    RISK_TO_OTHERS_PREFIX,
    DeclineReason,
    Need,
    ReferralStatus,
    RequestStatus,
    RiskToOthers,
    RiskToSelf,
    Tier,
)
from models.market import ReferralRequest
from models.people import Referral
from models.spreadsheet import inert_row
from models.supply import Property, Provider, Vacancy
from providers import offers

router = APIRouter(include_in_schema=False)
Panel = PageAllowed(*PANEL)
ProviderStaff = PageAllowed(*PROVIDER_STAFF)
EngagementReader = PageAllowed(*dict.fromkeys(COMMISSIONING + MANAGERS))


# --- the panel's side -----------------------------------------------------------------------------


def _answers(session, referral_id: str) -> list[dict]:
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    now = utcnow()
    rows = []
    for r in sent_for(session, referral_id):
        home = session.get(Vacancy, r.vacancy_id) if r.vacancy_id else None
        prop = session.get(Property, home.property_id) if home is not None else None
        late = r.status == RequestStatus.sent and now > r.deadline_at
        rows.append({"r": r, "provider": names.get(r.provider_id, r.provider_id), "home": prop, "late": late,
                     "status": "No answer by the deadline" if late else glossary.REQUEST_STATUSES[str(r.status)]})
    return rows


def _referral_page(request: Request, session, user, referral: Referral):
    from matching.broadcast import eligible_providers

    eligible = eligible_providers(session, referral, offers.today(), referral.council_code) \
        if referral.status == ReferralStatus.open else []
    answers = _answers(session, referral.id)
    asked = {a["r"].provider_id for a in answers}
    got = offers.answers_by_referral(session, [referral.id]).get(referral.id)
    return render(request, "market_referral.html", user, r=referral, age=referral.age_on(offers.today()),
                  eligible=eligible, to_send=[e for e in eligible if e.provider_id not in asked], answers=answers,
                  summary=offers.answers_in_words(got) if got else None,
                  deadline_words=_deadline_words(referral), waiting=referral.status == ReferralStatus.open)


def _deadline_words(referral: Referral) -> str:
    within = offers.ANSWER_WITHIN[str(referral.urgency)]
    hours = int(within.total_seconds() // 3600)
    return f"{hours} hours" if hours < 24 else f"{hours // 24} day{'s' if hours // 24 != 1 else ''}"


@router.get("/panel/referrals/{referral_id}/providers")
def referral_providers(request: Request, referral_id: str, session: SessionDep, user: Panel):
    referral = session.get(Referral, referral_id[:40])
    if referral is None:
        return not_found_page(request, user, f"young person {referral_id[:40]}")
    return _referral_page(request, session, user, referral)


@router.post("/panel/referrals/{referral_id}/providers")
def send_to_providers(request: Request, referral_id: str, session: SessionDep, user: Panel):
    from api.errors import ApiError

    referral = session.get(Referral, referral_id[:40])
    if referral is None:
        return not_found_page(request, user, f"young person {referral_id[:40]}")
    try:
        made, _every = broadcast(session, referral, user)
    except ApiError as exc:
        return back_to(f"/panel/referrals/{referral.id}/providers", problem=f"Not sent: {exc.message}")
    if not made:
        return back_to(f"/panel/referrals/{referral.id}/providers",
                       problem="Not sent: no framework provider not already asked has a home that could meet the "
                               "hard rules")
    return back_to(f"/panel/referrals/{referral.id}/providers",
                   done=f"Sent to {len(made)} provider{'s' if len(made) != 1 else ''}: they have "
                        f"{_deadline_words(referral)} to answer")


# --- a provider's staff ---------------------------------------------------------------------------


def _portal(request: Request, session, user, *, errors: FieldErrors | None = None, status_code: int = 200,
            typed: dict | None = None):
    provider = session.get(Provider, user.provider_id)
    now = utcnow()
    today = offers.today()
    rows = []
    for r in offers.requests_for(session, user):
        referral = session.get(Referral, r.referral_id)
        rows.append({"r": r, "p": offers.profile(referral, today), "late": r.status == RequestStatus.sent
                     and now > r.deadline_at, "left": _time_left(r.deadline_at - now)})
    waiting = [x for x in rows if x["r"].status == RequestStatus.sent and not x["late"]]
    done = [x for x in rows if x not in waiting]
    from api.routes.market import my_homes, my_vacancies

    return render(request, "provider_portal.html", user, status_code=status_code, provider=provider,
                  waiting=waiting, done=done, vacancies=my_vacancies(session, user),
                  homes=[{"h": h, "needs": [glossary.plain(n) for n in h.accepts_needs],
                          "risks": [glossary.plain(r) for r in h.excludes_risks]} for h in my_homes(session, user)],
                  need_options=NEED_OPTIONS, risk_options=RISK_OPTIONS,
                  errors=errors or FieldErrors(),
                  typed=typed or {}, today=today)


def _time_left(left: dt.timedelta) -> str:
    if left.total_seconds() <= 0:
        return "deadline passed"
    hours = left.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, int(left.total_seconds() // 60))} minutes left"
    if hours < 48:
        return f"{int(hours)} hour{'s' if int(hours) != 1 else ''} left"
    return f"{int(hours // 24)} days left"


@router.get("/provider-portal")
def portal(request: Request, session: SessionDep, user: ProviderStaff):
    return _portal(request, session, user)


def _request_page(request: Request, session, user, row: ReferralRequest, *, errors: FieldErrors | None = None,
                  status_code: int = 200, typed: dict | None = None):
    referral = session.get(Referral, row.referral_id)
    free = [v for v in _free_beds(session, user)]
    answerable = row.status == RequestStatus.sent and utcnow() <= row.deadline_at \
        and referral.status == ReferralStatus.open
    offered = session.get(Vacancy, row.vacancy_id) if row.vacancy_id else None
    return render(request, "provider_request.html", user, status_code=status_code, row=row,
                  p=offers.profile(referral, offers.today()), free=free, answerable=answerable,
                  tiers=[t for t in Tier if t.covers(referral.tier)], reasons=glossary.DECLINE_REASONS,
                  errors=errors or FieldErrors(), typed=typed or {}, left=_time_left(row.deadline_at - utcnow()),
                  offered_home=session.get(Property, offered.property_id) if offered else None,
                  still_waiting=referral.status == ReferralStatus.open)


def _free_beds(session, user) -> list[dict]:
    stmt = (select(Vacancy, Property).join(Property, Vacancy.property_id == Property.id)
            .where(Property.provider_id == user.provider_id, Vacancy.beds > 0,
                   Vacancy.reserved_for_referral_id.is_(None)).order_by(Property.name, Vacancy.id)
            .execution_options(populate_existing=True))
    out = []
    for v, prop in session.execute(stmt):
        prices = {str(tp.tier): tp.weekly_price for tp in prop.prices}
        out.append({"v": v, "home": prop, "prices": prices})
    return out


@router.get("/provider-portal/requests/{request_id}")
def provider_request(request: Request, request_id: RecordId, session: SessionDep, user: ProviderStaff):
    row = offers.request_for(session, user, request_id)
    if row is None:
        return not_found_page(request, user, f"referral {request_id}")
    return _request_page(request, session, user, row)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _money(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").replace("£", "").strip())
    except ValueError:
        return None
    return value if value == value else None  # not NaN


FIELD_IDS = {"vacancy_id": "offer-vacancy", "tier": "offer-tier", "weekly_price": "offer-price",
             "start": "offer-start", "reason": "decline-reason", "note": "decline-note"}


@router.post("/provider-portal/requests/{request_id}/offer")
def offer_form(request: Request, request_id: RecordId, session: SessionDep, user: ProviderStaff,
               vacancy_id: Annotated[str, Form()] = "", tier: Annotated[str, Form()] = "",
               weekly_price: Annotated[str, Form()] = "", start: Annotated[str, Form()] = ""):
    row = offers.request_for(session, user, request_id)
    if row is None:
        return not_found_page(request, user, f"referral {request_id}")
    typed = {"vacancy_id": vacancy_id, "tier": tier, "weekly_price": weekly_price, "start": start}
    errors = FieldErrors()
    price, begins = _money(weekly_price), _date(start)
    if not vacancy_id:
        errors.add(FIELD_IDS["vacancy_id"], "Choose the home and bed you are offering")
    if price is None:
        errors.add(FIELD_IDS["weekly_price"], "Enter the weekly price in pounds, like 1450")
    if begins is None:
        errors.add(FIELD_IDS["start"], "Enter the start date, like 2026-12-14")
    if not errors:
        try:
            offer_checked(session, row, user, vacancy_id=vacancy_id[:40], tier=tier, weekly_price=price,
                          start=begins)
        except offers.AnswerRefused as exc:
            errors.add(FIELD_IDS.get(exc.field, "offer-vacancy"), exc.reason[:1].upper() + exc.reason[1:])
    if errors:
        return _request_page(request, session, user, row, errors=errors, status_code=422, typed=typed)
    return back_to("/provider-portal", done=f"Offered for referral {row.id}: the panel's next match run "
                                            "weighs your offer")


@router.post("/provider-portal/requests/{request_id}/decline")
def decline_form(request: Request, request_id: RecordId, session: SessionDep, user: ProviderStaff,
                 reason: Annotated[str, Form()] = "", note: Annotated[str, Form()] = ""):
    row = offers.request_for(session, user, request_id)
    if row is None:
        return not_found_page(request, user, f"referral {request_id}")
    errors = FieldErrors()
    if reason not in DeclineReason.codes():
        errors.add(FIELD_IDS["reason"], "Choose the reason you are declining")
    else:
        try:
            offers.decline(session, row, user, reason=reason, note=note)
        except offers.AnswerRefused as exc:
            errors.add(FIELD_IDS.get(exc.field, "decline-reason"), exc.reason[:1].upper() + exc.reason[1:])
    if errors:
        return _request_page(request, session, user, row, errors=errors, status_code=422,
                             typed={"reason": reason, "note": note})
    return back_to("/provider-portal", done=f"Declined referral {row.id}: "
                                            f"{glossary.DECLINE_REASONS[reason].lower()}")


NEED_OPTIONS = [(n.value, glossary.NEEDS[n.value]) for n in Need]
RISK_OPTIONS = [(r.value, glossary.RISKS_TO_SELF[r.value]) for r in RiskToSelf] + \
    [(RISK_TO_OTHERS_PREFIX + r.value, glossary.RISKS_TO_OTHERS[r.value]) for r in RiskToOthers]


@router.post("/provider-portal/homes/{property_id}")
def home_form(request: Request, property_id: str, session: SessionDep, user: ProviderStaff,
              accepts_needs: Annotated[list[str], Form(max_length=60)] = [],  # noqa: B006 (FastAPI's form default)
              excludes_risks: Annotated[list[str], Form(max_length=60)] = []):  # noqa: B006
    """What one of the provider's homes can meet, from its checkboxes (providers.offers.update_home)."""
    property_id = property_id[:40]
    try:
        home = offers.update_home(session, user, property_id, accepts_needs=accepts_needs, excludes_risks=excludes_risks)
    except LookupError:
        return not_found_page(request, user, f"home {property_id}")
    except offers.AnswerRefused as exc:
        return back_to("/provider-portal#homes", problem=f"Not saved: {exc.reason}")
    return back_to("/provider-portal#homes", done=f"Saved what {home.name or home.id} can meet: "
                                                 f"{len(home.accepts_needs)} needs, {len(home.excludes_risks)} risks "
                                                 "it cannot manage")


@router.post("/provider-portal/vacancies/{vacancy_id}")
def vacancy_form(request: Request, vacancy_id: str, session: SessionDep, user: ProviderStaff,
                 beds: Annotated[str, Form()] = "", available_from: Annotated[str, Form()] = "",
                 support_hours: Annotated[str, Form()] = ""):
    vacancy_id = vacancy_id[:40]
    mine = session.get(Vacancy, vacancy_id)
    if mine is None or session.get(Property, mine.property_id).provider_id != user.provider_id:
        return not_found_page(request, user, f"vacancy {vacancy_id}")  # before the form: ids are not confirmed
    errors = FieldErrors()
    free, begins = (int(beds) if beds.strip().isdigit() else None), _date(available_from)
    field = f"beds-{vacancy_id}"
    if free is None:
        errors.add(field, "Enter the free beds as a whole number, like 2")
    if begins is None:
        errors.add(f"from-{vacancy_id}", "Enter the date the beds are free from, like 2026-12-14")
    hours = None
    if mine.support_hours is not None:
        hours = int(support_hours) if support_hours.strip().isdigit() else None
        if hours is None:
            errors.add(f"hours-{vacancy_id}", "Enter the support hours a week free as a whole number, like 40")
    if not errors:
        try:
            offers.update_vacancy(session, user, vacancy_id, beds=free, available_from=begins, support_hours=hours)
        except LookupError:
            return not_found_page(request, user, f"vacancy {vacancy_id}")
        except offers.AnswerRefused as exc:
            where = {"beds": field, "support_hours": f"hours-{vacancy_id}"}.get(exc.field, f"from-{vacancy_id}")
            errors.add(where, exc.reason[:1].upper() + exc.reason[1:])
    if errors:
        return _portal(request, session, user, errors=errors, status_code=422,
                       typed={"vacancy": vacancy_id, "beds": beds, "available_from": available_from,
                              "support_hours": support_hours})
    package = f", {hours} support hours a week" if hours is not None else ""
    return back_to("/provider-portal#vacancies", done=f"Saved vacancy {vacancy_id}: {free} bed"
                                                      f"{'s' if free != 1 else ''}{package} free from {begins:%-d %B %Y}")


# --- the commissioners' view ------------------------------------------------------------------------


def _engagement_rows(session, by: str) -> list[dict]:
    return [{"e": e, "reasons": "; ".join(f"{glossary.DECLINE_REASONS[k].lower()} {n}"
                                          for k, n in sorted(e.reasons.items(), key=lambda kv: (-kv[1], kv[0])))}
            for e in offers.engagement(session, by)]


@router.get("/market-page")
def market_page(request: Request, session: SessionDep, user: EngagementReader):
    return render(request, "market_engagement.html", user, providers=_engagement_rows(session, "provider"),
                  tiers=_engagement_rows(session, "tier"))


@router.get("/market-page/engagement.csv")
def engagement_csv(request: Request, session: SessionDep, user: EngagementReader):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Grouped by", "Provider or tier", "Reference", "Referrals sent", "Answered", "Offers",
                     "Declines", "Not answered by the deadline", "Offer rate", "Median hours to answer",
                     "Decline reasons"])
    for by, label in (("provider", "Provider"), ("tier", "Tier needed")):
        for row in _engagement_rows(session, by):
            e = row["e"]
            writer.writerow(inert_row([label, e.name, e.key, e.sent, e.answered, e.offered, e.declined, e.unanswered,
                                       "" if e.offer_rate is None else f"{e.offer_rate:.0%}",
                                       "" if e.median_hours is None else f"{e.median_hours:.1f}", row["reasons"]]))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="market-engagement.csv"'})
