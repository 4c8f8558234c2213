"""Signing in and out: a token for the API (and, for the pages, the same token in a cookie)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import SESSION_COOKIE, CurrentUser, SessionDep, bearer, token_of
from api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from api.errors import body as error_body
from api.security import (TOKEN_HOURS, Throttled, check_password, dummy_check, is_known_device, issue_token,
                          record_attempt, revoke_token, throttle, user_for_token)
from models.accounts import User, record
from models.base import utcnow
from models.enums import Role

router = APIRouter(prefix="/auth", tags=["sign-in"], responses=ERROR_RESPONSES)
# Sign-in routes may also answer 429 (too many failed attempts), with Retry-After in seconds.
SIGN_IN_RESPONSES = {429: {"model": ErrorBody, "description": "too many failed sign-ins: wait, then try again",
                           "headers": {"Retry-After": {"description": "seconds to wait",
                                                       "schema": {"type": "integer"}}}}}
WRONG = "wrong username or password"


class SignInThrottled(ApiError):
    """A sign-in refused unchecked: too many failures for this account or from this address."""

    def __init__(self, throttled: Throttled, now: dt.datetime) -> None:
        # The same words whether the account or the address is locked, and whether the name
        # exists: the refusal must not tell an attacker any more than "wait".
        super().__init__(429, throttled.message(now), code="too_many_attempts")
        self.throttled = throttled
        self.retry_after = max(1, int((throttled.until - now).total_seconds()) + 1)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    username: str
    role: Role


def throttled_answer(exc: SignInThrottled) -> JSONResponse:
    """429 in the service's error shape, with Retry-After (seconds) for clients that wait."""
    return JSONResponse(error_body(exc.status, exc.code, exc.message), status_code=exc.status,
                        headers={"Retry-After": str(exc.retry_after)})


def client_address(request: Request) -> str:
    # The connection's peer. Behind a reverse proxy, run uvicorn with --proxy-headers (and
    # --forwarded-allow-ips for that proxy only) so this is the client's: a forwarded-for header
    # is never read here, since anyone can write one.
    return request.client.host if request.client else "unknown"


def sign_in(session, username: str, password: str, address: str = "unknown",
            device: str | None = None) -> tuple[User, str, dt.datetime]:
    """A token for this username and password, or ApiError: 401 (the same answer, in the same
    time, for an unknown username, a wrong password and a deactivated account) or 429 (throttled).
    ``device``: the browser's device cookie (api.security.is_known_device), if it has one.

    A refusal is committed before it is raised, so the rollback that follows an error keeps the
    failed attempt and its audit event."""
    now = utcnow()
    name = username[:80]
    user = session.scalar(select(User).where(User.username == name))
    throttled = throttle(session, name, address, now, known_device=is_known_device(session, name, device, now))
    if throttled is not None:
        # The password is not checked at all while locked: a right guess must look like a wrong one.
        _refuse(session, user, address, f"throttled_{throttled.scope}")
        raise SignInThrottled(throttled, now)
    if user is None:
        dummy_check(password)  # as long as a real check: the time taken says nothing
        right = False
    else:
        right = check_password(user, password)  # checked even when inactive, for the same reason
    if not right or not user.active:
        record_attempt(session, name, address, succeeded=False, now=now)
        reason = "unknown_user" if user is None else "wrong_password" if not right else "inactive"
        _refuse(session, user, address, reason)
        raise ApiError(401, WRONG, code="not_signed_in")
    record_attempt(session, name, address, succeeded=True, now=now)
    token, expires = issue_token(session, user)
    record(session, "sign_in", "user", user.id, actor=user, after={"address": address})
    return user, token, expires


def _refuse(session, user: User | None, address: str, reason: str) -> None:
    # The name typed for an unknown user is not kept in the audit: people type their password
    # into the username field. A known user's id is, so an admin can see who is under attack.
    record(session, "sign_in_failed", "user", user.id if user is not None else "unknown", actor_name="anonymous",
           after={"address": address, "reason": reason})
    session.commit()


@router.post("/token", response_model=Token, responses=SIGN_IN_RESPONSES,
             summary="Sign in: exchange a username and password for a token")
def token(request: Request, session: SessionDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()]):
    try:
        user, value, expires = sign_in(session, username, password, client_address(request))
    except SignInThrottled as exc:
        return throttled_answer(exc)
    return Token(access_token=value, expires_at=expires, username=user.username, role=user.role)


@router.post("/sign-out", status_code=204, summary="Revoke the token this request carries")
def sign_out(request: Request, user: CurrentUser, session: SessionDep,
             credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    revoke_token(session, token_of(request, credentials))
    record(session, "sign_out", "user", user.id, actor=user)


class Me(BaseModel):
    username: str
    full_name: str
    role: Role


@router.get("/me", response_model=Me, summary="Who is signed in")
def me(user: CurrentUser) -> Me:
    return Me(username=user.username, full_name=user.full_name, role=user.role)


@router.post("/session", response_model=Me, responses=SIGN_IN_RESPONSES,
             summary="Sign in for the pages: the token goes in a session cookie")
def start_session(request: Request, response: Response, session: SessionDep,
                  username: Annotated[str, Form()], password: Annotated[str, Form()]):
    try:
        user, value, _ = sign_in(session, username, password, client_address(request))
    except SignInThrottled as exc:
        return throttled_answer(exc)
    # HttpOnly: page scripts cannot read it; SameSite=Strict: other sites cannot send it.
    response.set_cookie(SESSION_COOKIE, value, max_age=TOKEN_HOURS * 3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return Me(username=user.username, full_name=user.full_name, role=user.role)


def session_user(request: Request, session: SessionDep) -> User:
    """The user of the pages' session cookie: only for ending that session. Every other API route
    takes a bearer token only (api.deps.current_user); this one is about the cookie itself, and,
    being a DELETE, is refused when another site's page sends it (api.origin_check)."""
    user = user_for_token(session, request.cookies.get(SESSION_COOKIE, "")) if SESSION_COOKIE in request.cookies \
        else None
    if user is None:
        raise ApiError(401, "there is no pages session to end (no session cookie, or it has expired)",
                       code="not_signed_in")
    return user


@router.delete("/session", status_code=204, summary="Sign out of the pages: revoke the session and clear its cookie")
def end_session(request: Request, response: Response, user: Annotated[User, Depends(session_user)],
                session: SessionDep) -> None:
    revoke_token(session, request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")
    record(session, "sign_out", "user", user.id, actor=user)
