"""What routes are given: a database session in one transaction, the signed-in user, and role
checks (the full-stack FastAPI template's ``SessionDep`` / ``CurrentUser`` style).

Every route names the roles that may use it (``Allowed(...)``); there is no route a signed-in
user reaches by default, and the pages use the same checks.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.security import user_for_token
from models.accounts import User
from models.db import session_factory
from models.enums import Role

SESSION_COOKIE = "placematch_session"
bearer = HTTPBearer(auto_error=False, description="The token from POST /auth/token")


async def get_engine(request: Request) -> Engine:
    # async: no I/O, so FastAPI calls it on the event loop instead of a worker thread
    return request.app.state.engine


# At most this many requests of one service process hold a database session at once; the rest
# wait their turn on the event loop, holding nothing. A session keeps its connection from first
# use to its commit, and the commit needs a worker thread: without this bound, requests waiting
# for a pooled connection (each in a worker thread) can take every thread while the requests
# holding the connections wait for a thread to commit in, and the service stalls. Below the
# connection pool's 15 (SQLAlchemy's default 5 + 10 overflow) and anyio's 40 threads.
SESSIONS_PER_PROCESS = 10
_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _session_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()  # one per loop: a semaphore belongs to the loop it waits on
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(SESSIONS_PER_PROCESS)
    return slots


async def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> AsyncIterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error.

    An async generator on purpose: a sync one would hold a worker thread for the whole request
    (FastAPI runs it in one thread from start to end). Opening a session does no I/O (it
    connects on first use, in the route's thread); the commit or rollback at the end runs in a
    worker thread, before the answer is sent, so a failed commit (a stale version) still becomes
    409.
    """
    async with _session_slots():
        session = session_factory(engine)()
        session.begin()
        try:
            yield session
        except BaseException:
            await run_in_threadpool(_finish, session, False)
            raise
        await run_in_threadpool(_finish, session, True)


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# scope="function": the transaction ends (commit or rollback) when the route returns, before the
# answer is sent. By default FastAPI ends a yield dependency after sending, so a browser
# following a redirect could ask for the next page before the change was saved, and a failed
# commit could no longer become an error answer.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# A record's number in a path: bounded as the databases store it (PostgreSQL INTEGER), so an
# impossible id is refused as invalid input rather than reaching the database.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token the request carries, or None. The pages' session cookie is not read here:
    the JSON API takes bearer tokens only (issue 13, item 5). A browser sends the cookie by itself
    with every request to placematch, so an API that honoured it could be driven by any page the
    browser shows; a bearer token is sent only by a program that was given it."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


COOKIE_REFUSED = ("this is the JSON API, which takes a bearer token only: sign in with POST /auth/token and send "
                  "the token as 'Authorization: Bearer ...' (the pages' session cookie is for the pages)")


def current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    token = token_of(request, credentials)
    if token is None and request.cookies.get(SESSION_COOKIE):
        raise ApiError(401, COOKIE_REFUSED, code="bearer_token_required")
    user = user_for_token(session, token) if token else None
    if user is None:
        raise ApiError(401, "sign in first (POST /auth/token), or the token has expired",
                       code="not_signed_in")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def Allowed(*roles: Role):  # noqa: N802 (reads as a type in route signatures)
    """A dependency that lets only these roles through (403 for anyone else)."""
    names = ", ".join(r.value for r in roles)

    async def check(user: CurrentUser) -> User:  # no I/O: runs on the event loop
        if user.role not in roles:
            raise ApiError(403, f"this needs one of these roles: {names}", code="forbidden")
        return user

    check.roles = roles  # read by api.app to write the roles into each route's documentation
    return Annotated[User, Depends(check)]


def roles_of(dependant) -> tuple[Role, ...] | None:
    """The roles a route's dependencies allow (None: the route checks no role)."""
    for dep in dependant.dependencies:
        found = getattr(dep.call, "roles", None) or roles_of(dep)
        if found:
            return found
    return None


# Who may do what, named once.
# The council's own staff. A provider's staff (Role.provider) reach only their own routes
# (api.routes.market): never the council's market, queue or plans.
STAFF = tuple(r for r in Role if r is not Role.provider)
PROVIDER_STAFF = (Role.provider,)
PANEL = (Role.panel_member, Role.head_of_service)  # the head of service chairs the panel
COMMISSIONING = (Role.commissioner, Role.head_of_service)
MANAGERS = (Role.service_manager, Role.head_of_service, Role.director)
CASE_READERS = PANEL + (Role.service_manager, Role.director)  # who may read a young person's case
AUDITORS = (Role.admin, Role.head_of_service)
REGIONAL = (Role.rcc_commissioner, Role.rcc_analyst)  # a care co-operative's staff: figures, never records
