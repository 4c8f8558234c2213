"""People who use placematch (admins manage them)."""

from __future__ import annotations


from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.pagination import Limit, Offset, Page, page
from api.security import MIN_PASSWORD_LENGTH, hash_password
from models.accounts import User, record
from models.enums import Role
from models.schemas import UserPublic

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)
Admin = Allowed(Role.admin)


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[a-z0-9._-]+$", examples=["s.khan"])
    full_name: str = Field(min_length=1, max_length=200, examples=["Sam Khan"])
    role: Role = Field(examples=[Role.service_manager])
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, examples=["a long passphrase here"])


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH)


def create_user(session, username: str, full_name: str, role: Role, password: str, actor=None,
                actor_name: str = "cli") -> User:
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ApiError(409, f"username {username} is taken", fields=[("body.username", "taken")])
    user = User(username=username, full_name=full_name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    record(session, "user_created", "user", user.id, actor=actor, actor_name=actor_name,
           after={"username": username, "role": role.value})
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
    return UserPublic.model_validate(
        create_user(session, body.username, body.full_name, body.role, body.password, actor=admin), from_attributes=True)


@router.patch("/{user_id}", response_model=UserPublic, summary="Change a user's name, role, password or access")
def update_user(user_id: RecordId, body: UserUpdate, session: SessionDep, admin: Admin):
    user = session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    before = {"full_name": user.full_name, "role": user.role.value, "active": user.active}
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.role is not None:
        user.role = body.role
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
    after = {"full_name": user.full_name, "role": user.role.value, "active": user.active,
             "password_changed": body.password is not None}
    record(session, "user_updated", "user", user.id, actor=admin, before=before, after=after)
    return UserPublic.model_validate(user, from_attributes=True)
