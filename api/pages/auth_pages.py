"""Signing in and out of the pages, and each role's home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from api import grade_changes
from api.deps import REGIONAL, SESSION_COOKIE, SessionDep
from api.errors import ApiError
from api.pages.core import (
    AUDITORS,
    MANAGERS,
    PANEL,
    PLANNERS,
    SUPPLY_READERS,
    PageUser,
    render,
)
from api.routes.auth import SignInThrottled, client_address, sign_in
from api.security import (
    DEVICE_COOKIE,
    DEVICE_KNOWN,
    TOKEN_HOURS,
    is_known_device,
    remember_device,
    revoke_token,
)
from models.accounts import record
from models.base import council_today
from models.enums import ApprovalStatus, ReferralStatus, Role
from models.panel import ApprovalRequest, MatchRun
from models.people import Referral

router = APIRouter(include_in_schema=False)


def _safe_next(path: str | None) -> str:
    """Only a path on this site (never //elsewhere or a full address): no open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/"):
    return render(request, "sign_in.html", None, next=_safe_next(next))


@router.post("/sign-in")
def sign_in_form(request: Request, session: SessionDep, username: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
    device = request.cookies.get(DEVICE_COOKIE)
    try:
        user, token, _ = sign_in(session, username.strip(), password, client_address(request), device)
    except SignInThrottled as exc:
        # Plain words ("Too many attempts: try again in 15 minutes."), never a code.
        page = render(request, "sign_in.html", None, status_code=429, next=_safe_next(next),
                      username=username, error=exc.message)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except ApiError:
        return render(request, "sign_in.html", None, status_code=401, next=_safe_next(next),
                      username=username, error="Wrong username or password.")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=TOKEN_HOURS * 3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    if not is_known_device(session, user.username, device):  # this browser now vouches for this user
        response.set_cookie(DEVICE_COOKIE, remember_device(session, user), max_age=int(DEVICE_KNOWN.total_seconds()),
                            httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out_form(request: Request, session: SessionDep, user: PageUser):
    revoke_token(session, request.cookies.get(SESSION_COOKIE, ""))
    record(session, "sign_out", "user", user.id, actor=user)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, session: SessionDep, user: PageUser):
    cards = []
    if user.role in PANEL:
        waiting = session.scalar(select(func.count()).select_from(Referral).where(
            Referral.status == ReferralStatus.open))
        runs = session.scalar(select(func.count()).select_from(MatchRun))
        cards.append(("Panel board", "/panel", f"{waiting} young people waiting; {runs} match runs so far"))
    if user.role in (Role.panel_member, Role.head_of_service):
        due = grade_changes.reviews_due(session)
        if due:
            late = sum(p.review_due_on < council_today() for p in due)
            cards.append(("Placements to review", "/panel#reviews",
                          f"{len(due)} placement{'s' if len(due) != 1 else ''} to review after an Ofsted grade "
                          f"changed; the next by {due[0].review_due_on.day} {due[0].review_due_on:%B %Y}"
                          + (f" ({late} overdue)" if late else "")))
    if user.role in MANAGERS:
        pending = session.scalar(select(func.count()).select_from(ApprovalRequest).where(
            ApprovalRequest.status == ApprovalStatus.pending, ApprovalRequest.role == user.role))
        cards.append(("Your approvals", "/approvals", f"{pending} placements waiting for your decision"))
    if user.role in SUPPLY_READERS:
        cards.append(("Providers and vacancies", "/providers", "Frameworks, lots, tier prices, homes and grades"))
    if user.role in PLANNERS:
        cards.append(("Sufficiency forecast", "/forecast-page",
                      "Young people 14-25 and the beds they will need, with ranges, 1-10 years ahead"))
        cards.append(("Tender scenarios", "/tender-page",
                      "Framework options tested against the forecast: cost, unmet need and distance"))
    if user.role in (Role.commissioner, Role.head_of_service, Role.director):
        cards.append(("Tenders", "/tenders", "Bids scored price against quality, ranked per lot, and the award"))
    if user.role == Role.provider:
        from models.base import utcnow
        from models.market import ReferralRequest

        waiting = session.scalar(select(func.count()).select_from(ReferralRequest).where(
            ReferralRequest.provider_id == user.provider_id, ReferralRequest.status == "sent",
            ReferralRequest.deadline_at >= utcnow()))
        cards.append(("Referrals sent to you", "/provider-portal",
                      f"{waiting} waiting for your answer; your homes' vacancies"))
    if user.role in AUDITORS:
        cards.append(("Audit log", "/audit", "Every decision, sign-in and import: who, what, when"))
    if user.role in REGIONAL:
        cards.append(("The region", "/region", "Each member council's young people waiting and placed, counted, "
                                               "and the shared market's free beds"))
    return render(request, "home.html", user, cards=cards)
