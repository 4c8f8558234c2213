"""Signing in and out: a token for the API (and, for the pages, the same token in a cookie)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import SESSION_COOKIE, CurrentUser, SessionDep, bearer, token_of
from api.errors import ERROR_RESPONSES, ApiError
from api.security import TOKEN_HOURS, check_password, issue_token, revoke_token
from models.accounts import User, record
from models.enums import Role

router = APIRouter(prefix="/auth", tags=["sign-in"], responses=ERROR_RESPONSES)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    username: str
    role: Role


def sign_in(session, username: str, password: str) -> tuple[User, str, dt.datetime]:
    user = session.scalar(select(User).where(User.username == username))
    # The same answer for an unknown user and a wrong password: no probing for usernames.
    if user is None or not user.active or not check_password(user, password):
        raise ApiError(401, "wrong username or password", code="not_signed_in")
    token, expires = issue_token(session, user)
    record(session, "sign_in", "user", user.id, actor=user)
    return user, token, expires


@router.post("/token", response_model=Token, summary="Sign in: exchange a username and password for a token")
def token(session: SessionDep, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Token:
    user, value, expires = sign_in(session, username, password)
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


@router.post("/session", response_model=Me, summary="Sign in for the pages: the token goes in a session cookie")
def start_session(request: Request, response: Response, session: SessionDep,
                  username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Me:
    user, value, _ = sign_in(session, username, password)
    # HttpOnly: page scripts cannot read it; SameSite=Strict: other sites cannot send it.
    response.set_cookie(SESSION_COOKIE, value, max_age=TOKEN_HOURS * 3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return Me(username=user.username, full_name=user.full_name, role=user.role)


@router.delete("/session", status_code=204, summary="Sign out of the pages: revoke the session and clear its cookie")
def end_session(request: Request, response: Response, user: CurrentUser, session: SessionDep) -> None:
    revoke_token(session, request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")
    record(session, "sign_out", "user", user.id, actor=user)
