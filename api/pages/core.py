"""What every page shares: templates, the signed-in user from the session cookie, role checks
that answer with a page (sign in, or "not for your role") rather than JSON, and form helpers.

Forms post back to the page's own route and answer with a redirect (303, Post/Redirect/Get),
so reloading a page never repeats a decision. The session cookie is SameSite=Strict and
HttpOnly (see api.routes.auth), and a form that another site's page posts is refused before it
is read (api.origin_check), so another site cannot post a form as the user. A form whose text
cannot be saved (a control character: api.input_checks) answers with a page naming the fields,
and a busy database with a page saying to try again shortly.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.deps import REGIONAL, SESSION_COOKIE, SessionDep
from api.errors import RETRY_AFTER_SECONDS, database_busy
from api.security import user_for_token
from models import glossary
from models.accounts import User
from models.base import COUNCIL_ZONE, council_today
from models.db import transaction
from models.enums import Role

log = logging.getLogger("placematch.pages")
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
LONDON = COUNCIL_ZONE


def say(code: object, table: str) -> str:
    """A code in the glossary's words: ``{{ say(r.tier, "TIERS") }}`` (models.glossary)."""
    return glossary.words(code, getattr(glossary, table))


def long_date(value: dt.date | dt.datetime | None) -> str:
    """A date as people write it: 1 December 2026."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = london(value).date()
    return f"{value.day} {value:%B %Y}"


def london(value: dt.datetime) -> dt.datetime:
    """A stored time (UTC; naive means UTC) in the council's own clock."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(LONDON)


def long_time(value: dt.datetime | None) -> str:
    """A time as people read it, in Europe/London: 1 December 2026, 2:05pm."""
    if value is None:
        return ""
    local = london(value)
    hour = local.hour % 12 or 12
    return f"{long_date(local.date())}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def money(value: float | None, pence: bool = False) -> str:
    return "" if value is None else (f"£{value:,.2f}" if pence else f"£{value:,.0f}")


def sentence(text: str | None) -> str:
    """The first letter a capital, the rest as written (``capitalize`` would lower "R0025")."""
    text = str(text or "")
    return text[:1].upper() + text[1:]


def in_sentence(text: str | None) -> str:
    """The first letter small, for a label inside a sentence, unless it starts a name or an
    abbreviation ("Ofsted", "DoL"): only a capital followed by a small letter is lowered."""
    text = str(text or "")
    return text[:1].lower() + text[1:] if text[:1].isupper() and text[1:2].islower() and not text.startswith(
        ("Ofsted", "Staying Put", "British", "English", "Makaton", "Director", "Head of")) else text


templates.env.globals["say"] = say
templates.env.filters["sentence"] = sentence
templates.env.filters["in_sentence"] = in_sentence
templates.env.filters["long_date"] = long_date
templates.env.filters["long_time"] = long_time
templates.env.filters["money"] = money

ROLE_NAMES = {role: glossary.ROLES[role.value] for role in Role}

# The pages' navigation: (label, path, the roles that see it). A link shows only to the roles
# its page lets in, so nobody is offered a page that will refuse them.
PANEL = (Role.panel_member, Role.head_of_service)
MANAGERS = (Role.service_manager, Role.head_of_service, Role.director)
SUPPLY_READERS = (Role.panel_member, Role.commissioner, Role.service_manager, Role.head_of_service, Role.director)
AUDITORS = (Role.admin, Role.head_of_service)
PLANNERS = tuple(dict.fromkeys((Role.commissioner, Role.head_of_service) + MANAGERS))  # forecast, tenders
NAVIGATION = [
    ("Home", "/", tuple(Role)),
    ("Panel board", "/panel", PANEL),
    ("Approvals", "/approvals", MANAGERS),
    ("Providers", "/providers", SUPPLY_READERS),
    ("Forecast", "/forecast-page", PLANNERS),
    ("Tender scenarios", "/tender-page", PLANNERS),
    ("Tenders", "/tenders", (Role.commissioner, Role.head_of_service, Role.director)),
    ("Market", "/market-page", (Role.commissioner, Role.service_manager, Role.head_of_service, Role.director)),
    ("Referrals sent to you", "/provider-portal", (Role.provider,)),
    ("Audit log", "/audit", AUDITORS),
    ("The region", "/region", REGIONAL),
]


def from_a_browser(scope) -> bool:
    """A page request: a GET/HEAD that accepts HTML (a browser navigating), or a POST of an
    HTML form. API clients send JSON and accept JSON (or anything: ``*/*``)."""
    headers = dict(scope.get("headers") or ())
    if scope.get("method") in ("GET", "HEAD"):
        return b"text/html" in headers.get(b"accept", b"")
    return headers.get(b"content-type", b"").startswith(
        (b"application/x-www-form-urlencoded", b"multipart/form-data"))


class BrowserRoute(APIRoute):
    """A page route on a path the API also serves: it matches only a browser's request, so the
    API route on the same path keeps answering every other client unchanged."""

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if match != Match.NONE and not from_a_browser(scope):
            return Match.NONE, {}
        return match, child_scope


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class NotForYourRole(Exception):
    def __init__(self, user: User, roles: tuple[Role, ...]) -> None:
        # A plain copy: the request's transaction rolls back (expiring the ORM object) before
        # the refusal page is drawn.
        self.user = SimpleNamespace(id=user.id, username=user.username, full_name=user.full_name, role=user.role)
        self.roles = roles


def page_user(request: Request, session: SessionDep) -> User:
    token = request.cookies.get(SESSION_COOKIE)
    user = user_for_token(session, token) if token else None
    if user is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return user


PageUser = Annotated[User, Depends(page_user)]


def PageAllowed(*roles: Role):  # noqa: N802 (reads as a type in route signatures)
    """Only these roles see the page; anyone else gets a 403 page that says who may."""

    def check(user: PageUser) -> User:
        if user.role not in roles:
            raise NotForYourRole(user, roles)
        return user

    check.roles = roles
    return Annotated[User, Depends(check)]


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    nav = [(label, path) for label, path, roles in NAVIGATION if user is not None and user.role in roles]
    flash = read_flash(request.cookies.get(FLASH_COOKIE))
    response = templates.TemplateResponse(request, name, {
        "user": user, "role_name": ROLE_NAMES.get(user.role) if user else None, "nav": nav,
        "message": flash.get("done"), "problem": flash.get("problem"),
        "today": council_today(), **context,
    }, status_code=status_code)
    if FLASH_COOKIE in request.cookies:  # shown once: a reload does not say it again
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# The one-line message after a form (Post/Redirect/Get) travels in a short-lived cookie, not in
# the address: an address is kept in the browser's history and the access log, and a message
# taken from it could be written by anyone who sends a link ("?problem=Call this number...") and
# shown in the service's own banner. Another site cannot set this service's cookies.
FLASH_COOKIE = "placematch_flash"
FLASH_SECONDS = 60
FLASH_LONGEST = 1000  # characters of each message (a cookie holds about 4,000 bytes)


def back_to(path: str, *, done: str | None = None, problem: str | None = None) -> RedirectResponse:
    """Post/Redirect/Get: back to ``path`` with a one-line message shown at the top."""
    response = RedirectResponse(path, status_code=303)
    message = {k: v[:FLASH_LONGEST] for k, v in (("done", done), ("problem", problem)) if v}
    if message:
        value = base64.urlsafe_b64encode(json.dumps(message).encode()).decode()
        response.set_cookie(FLASH_COOKIE, value, max_age=FLASH_SECONDS, httponly=True, samesite="strict", path="/")
    return response


def read_flash(value: str | None) -> dict[str, str]:
    """The message a flash cookie holds ({"done": ..., "problem": ...}); {} for none or nonsense."""
    if not value or len(value) > 8 * FLASH_LONGEST:  # base64 of JSON of two messages, with room
        return {}
    try:
        message = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return {}
    if not isinstance(message, dict):
        return {}
    return {k: str(v)[:FLASH_LONGEST] for k, v in message.items() if k in ("done", "problem") and isinstance(v, str)}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        return RedirectResponse(f"/sign-in?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(NotForYourRole)
    async def _forbidden(request: Request, exc: NotForYourRole):
        return render(request, "forbidden.html", exc.user, status_code=403,
                      allowed=[ROLE_NAMES[r] for r in exc.roles])

    # Missing resources answer a browser with the 404 page, never JSON or a 500: an id in a page's
    # path that cannot name a record (``/panel/runs/abc``, an id beyond the database's range),
    # and an address no route serves. API clients keep the JSON error shape (api.errors).
    api_invalid = app.exception_handlers[RequestValidationError]
    api_http_error = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        if _is_page_route(request) and any(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
            return await _not_found_page(request)
        if _is_page_route(request):  # a form or an address a page cannot read: a page in words
            return await refused_form(request, exc)
        return await api_invalid(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and request.scope.get("route") is None and from_a_browser(request.scope):
            return await _not_found_page(request)
        return await api_http_error(request, exc)

    # A busy database (another writer holds the lock: api.errors) answers a page with a page that
    # says so and when to try again; the API keeps its JSON 503. Drawn without the signed-in user:
    # looking them up would wait on the same database.
    api_busy = app.exception_handlers[OperationalError]

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):
        if not (_is_page_route(request) and database_busy(exc)):
            return await api_busy(request, exc)
        page = render(request, "refused.html", None, status_code=503, message=None, problem=None,
                      title="placematch is busy", explanation=BUSY_PAGE,
                      advice="Nothing was saved. Go back, wait a moment and send the form again.")
        page.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return page


    # A fault in a page (a bug, a lost database): a page saying so, never a traceback or JSON.
    # The error itself goes to the log by the server (its type and where, never the data).
    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception):
        if not from_a_browser(request.scope):
            raise exc
        log.error("page %s failed: %s", request.scope.get("route") and request.scope["route"].path,
                  type(exc).__name__)
        return render(request, "refused.html", None, status_code=500, message=None, problem=None,
                      title="Sorry, something went wrong", explanation=FAULT_PAGE,
                      advice="Go back and try again. If it happens again, tell your system administrator "
                             "the time it happened.")


FAULT_PAGE = "placematch could not show this page because of a fault. Nothing you sent was half-saved: " \
             "a form is saved whole or not at all."


# What a busy database's page says (api.errors.BUSY_MESSAGE is the API's).
BUSY_PAGE = "placematch is busy, try again in a few seconds."


async def refused_form(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """A page's form or address refused (text that cannot be saved: api.input_checks, a
    number that is not one, a value too long): a page naming each field in words."""
    fields = [(str(e["loc"][-1]).replace("_", " ").capitalize(), field_problem(e)) for e in exc.errors()]
    user = await run_in_threadpool(_signed_in_or_none, request)
    return render(request, "refused.html", user, status_code=422, message=None, problem=None,
                  title="The form was not sent", fields=fields,
                  explanation="Some of what was typed cannot be used, so nothing was changed:",
                  advice="Go back, correct the fields named here and send the form again.")


def field_problem(error: dict) -> str:
    """One validation error in words (never pydantic's own message, which names types)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "control_character":  # already in words (api.input_checks), naming the character
        return error["msg"]
    if kind == "missing":
        return "give a value"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "give a whole number"
    if kind in ("float_parsing", "float_type"):
        return "give a number"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return "give a date, for example 1 December 2026 as 2026-12-01"
    if kind == "string_too_long":
        return f"use at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"use at least {ctx.get('min_length')} characters"
    if kind in ("greater_than_equal", "greater_than"):
        return f"give a number of at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"give a number of at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_pattern_mismatch":
        return "remove the control characters (such as a tab or a line break) it contains"
    return "this value cannot be used"


def _is_page_route(request: Request) -> bool:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return endpoint is not None and (getattr(endpoint, "__module__", "") or "").startswith(f"{__package__}.")


async def _not_found_page(request: Request) -> HTMLResponse:
    user = await run_in_threadpool(_signed_in_or_none, request)
    return not_found_page(request, user)


def not_found_page(request: Request, user, what: str = "page or record at this address") -> HTMLResponse:
    return render(request, "not_found.html", user, status_code=404, what=what)


def _signed_in_or_none(request: Request):
    """The signed-in user, for the page's header and navigation (None if not signed in), as a
    plain copy: the handler's own short transaction is over before the page is drawn."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with transaction(request.app.state.engine) as session:
        user = user_for_token(session, token)
        return None if user is None else SimpleNamespace(id=user.id, username=user.username,
                                                         full_name=user.full_name, role=user.role)
