"""People who use placematch (admins manage them)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import REGIONAL, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.pagination import Limit, Offset, Page, page
from api.security import MIN_PASSWORD_LENGTH, hash_password, revoke_all_tokens
from models.accounts import User, record
from models.enums import Role
from models.schemas import UserPublic
from models.supply import Provider

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)
Admin = Allowed(Role.admin)


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[a-z0-9._-]+$", examples=["s.khan"])
    full_name: str = Field(min_length=1, max_length=200, examples=["Sam Khan"])
    role: Role = Field(examples=[Role.service_manager])
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, examples=["a long passphrase here"])
    provider_id: str | None = Field(default=None, min_length=1, max_length=40,
                                    description="For the provider role only: the provider whose staff they are")


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH)


# Accounts that belong to no council: a provider's staff, and a care co-operative's.
NOT_A_COUNCILS = (Role.provider, *REGIONAL)


def create_user(session, username: str, full_name: str, role: Role, password: str, actor=None,
                actor_name: str = "cli", provider_id: str | None = None, council_code: str | None = None) -> User:
    """A new account. A council's staff join ``council_code``, else the council of the session's
    scope (an admin adds their own council's staff), else the service's (models.tenancy)."""
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ApiError(409, f"username {username} is taken", fields=[("body.username", "taken")])
    if (role == Role.provider) != (provider_id is not None):
        raise ApiError(409, "a provider's staff are bound to their provider, and only they are: give provider_id "
                            "with the provider role, and only with it", fields=[("body.provider_id", "with the "
                                                                                 "provider role only")])
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise ApiError(409, f"there is no provider {provider_id}", fields=[("body.provider_id", "no such provider")])
    user = User(username=username, full_name=full_name, role=role, password_hash=hash_password(password),
                provider_id=provider_id, council_code=None if role in NOT_A_COUNCILS else council_code)
    session.add(user)
    session.flush()
    record(session, "user_created", "user", user.id, actor=actor, actor_name=actor_name, council_code=user.council_code,
           after={"username": username, "role": role.value} | ({"provider": provider_id} if provider_id else {}))
    return user


@router.get("", response_model=Page[UserPublic], summary="List users")
def list_users(session: SessionDep, _: Admin, limit: Limit = 50, offset: Offset = 0,
               role: Role | None = None, active: bool | None = None):
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active == active)
    return page(session, query, limit, offset, UserPublic)


@router.post("", response_model=UserPublic, status_code=201, summary="Create a user")
def add_user(body: UserCreate, session: SessionDep, admin: Admin):
    """An admin adds their own council's staff, and providers' staff. A care co-operative's
    staff see every member's figures, so no one council adds them: the service's operator does
    (``placematch user add``)."""
    if body.role in REGIONAL:
        raise ApiError(409, "a care co-operative's staff are added by the service's operator, not by one council",
                       fields=[("body.role", "a co-operative's role")])
    return UserPublic.model_validate(
        create_user(session, body.username, body.full_name, body.role, body.password, actor=admin,
                    provider_id=body.provider_id), from_attributes=True)


def check_admin_duties(session, admin: User, user: User, body: UserUpdate) -> None:
    """Separation of duties for the people who manage people: no admin changes their own role
    (another admin must), and the last active admin is never demoted or deactivated, so the
    council is never left with no one able to manage accounts."""
    changes_role = body.role is not None and body.role != user.role
    if changes_role and user.id == admin.id:
        raise ApiError(403, "You cannot change your own role: another admin must do it.", code="own_role",
                       fields=[("body.role", "your own role")])
    leaves_admins = user.role == Role.admin and user.active and (
        changes_role or body.active is False)
    if leaves_admins:
        # Locked (PostgreSQL: FOR UPDATE) so two admins demoting each other at once cannot both
        # see the other still there; SQLite lets one writer at a time through anyway.
        admins = session.scalars(select(User.id).where(User.role == Role.admin, User.active.is_(True))
                                 .with_for_update()).all()
        if len(admins) <= 1:
            what = "demoted" if changes_role else "deactivated"
            raise ApiError(409, f"{user.username} is the last active admin and cannot be {what}: "
                                "make someone else an admin first.", code="last_admin")


@router.patch("/{user_id}", response_model=UserPublic, summary="Change a user's name, role, password or access")
def update_user(user_id: RecordId, body: UserUpdate, session: SessionDep, admin: Admin):
    """An admin cannot change their own role, and the last active admin cannot be demoted or
    deactivated. A new password or role revokes every token the user holds: they sign in again."""
    user = session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    check_admin_duties(session, admin, user, body)
    if body.role is not None and body.role != user.role and Role.provider in (body.role, user.role):
        raise ApiError(409, "a provider's staff account and a council account are different accounts: create a "
                            "new one rather than change the role", fields=[("body.role", "to or from provider")])
    if body.role is not None and body.role != user.role and {body.role, user.role} & set(NOT_A_COUNCILS):
        raise ApiError(409, "a care co-operative's account and a council account are different accounts: the "
                            "service's operator creates a new one", fields=[("body.role", "to or from a co-operative's role")])
    before = {"full_name": user.full_name, "role": user.role.value, "active": user.active}
    role_changed = body.role is not None and body.role != user.role
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.role is not None:
        user.role = body.role
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
    revoked = revoke_all_tokens(session, user) if role_changed or body.password is not None else 0
    after = {"full_name": user.full_name, "role": user.role.value, "active": user.active,
             "password_changed": body.password is not None, "tokens_revoked": revoked}
    record(session, "user_updated", "user", user.id, actor=admin, before=before, after=after)
    return UserPublic.model_validate(user, from_attributes=True)
