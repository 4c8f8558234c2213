"""What routes are given: a database session in one transaction, the signed-in user, and role
checks (the full-stack FastAPI template's ``SessionDep`` / ``CurrentUser`` style).

Every route names the roles that may use it (``Allowed(...)``); there is no route a signed-in
user reaches by default, and the pages use the same checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
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


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with session_factory(engine)() as session:
        with session.begin():
            yield session


SessionDep = Annotated[Session, Depends(get_session)]

# A record's number in a path: bounded as the databases store it (PostgreSQL INTEGER), so an
# impossible id is refused as invalid input rather than reaching the database.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return request.cookies.get(SESSION_COOKIE)


def current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    token = token_of(request, credentials)
    user = user_for_token(session, token) if token else None
    if user is None:
        raise ApiError(401, "sign in first (POST /auth/token), or the token has expired",
                       code="not_signed_in")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def Allowed(*roles: Role):  # noqa: N802 (reads as a type in route signatures)
    """A dependency that lets only these roles through (403 for anyone else)."""
    names = ", ".join(r.value for r in roles)

    def check(user: CurrentUser) -> User:
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
ANYONE = tuple(Role)
PANEL = (Role.panel_member, Role.head_of_service)  # the head of service chairs the panel
COMMISSIONING = (Role.commissioner, Role.head_of_service)
MANAGERS = (Role.service_manager, Role.head_of_service, Role.director)
CASE_READERS = PANEL + (Role.service_manager, Role.director)  # who may read a young person's case
AUDITORS = (Role.admin, Role.head_of_service)
