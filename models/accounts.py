"""People who use placematch, and the append-only audit log of what they did."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, Timestamped, UtcDateTime, enum_column, utcnow
from models.enums import Role
from models.tenancy import CouncilAudited, CouncilStaff

# A council's staff belong to their council; a provider's and a care co-operative's to none.
COUNCIL_STAFF_CHECK = "(role IN ('provider', 'rcc_commissioner', 'rcc_analyst')) = (council_code IS NULL)"


class User(CouncilStaff, Timestamped, Base):
    # "user" is reserved in PostgreSQL.
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = enum_column(Role)
    # A slow, salted hash (argon2 or bcrypt); the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # A provider's staff see only their own organisation's homes and the referrals sent to it.
    provider_id: Mapped[Optional[str]] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))

    __table_args__ = (CheckConstraint("(role = 'provider') = (provider_id IS NOT NULL)",
                                      name="provider_staff_bound_to_their_provider"),
                      CheckConstraint(COUNCIL_STAFF_CHECK, name="council_staff_bound_to_their_council"))


class ApiToken(Base):
    """A bearer token (API) or session (pages) a user signed in with. Only the token's SHA-256
    is stored, so a copy of the database does not let anyone sign in; signing out revokes it."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(default=False)


class SignInAttempt(Base):
    """One sign-in attempt: the name typed, the client address, when, and whether it succeeded.

    In the database, not in a process's memory, so the throttle holds across the service's
    worker processes and a restart. Not the audit log (that records failures too, for people to
    read): this is the throttle's working data, and rows older than a day are pruned. The name is
    kept as typed (known or not), so an unknown name is throttled exactly like a real one.
    """

    __tablename__ = "sign_in_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(default=False)


class KnownDevice(Base):
    """A browser a user has signed in from before: only the SHA-256 of the random proof kept in
    its cookie is stored. Failures from an office's shared address lock that address, but not a
    known browser's sign-in (api.security.throttle): one attacker behind the address must not
    lock a whole office out. The user's own account limit still applies to it."""

    __tablename__ = "known_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    proof_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEvent(CouncilAudited, Base):
    """Who did what to which record, when, with the record before and after.

    Append-only: the ORM refuses to update or delete an event, and the migration adds
    database triggers that refuse it too, so a direct SQL statement cannot rewrite history.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    actor: Mapped[str] = mapped_column(String(80))  # username, or "system" / "cli"
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[Optional[dict[str, Any]]]
    after: Mapped[Optional[dict[str, Any]]]


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_rewrites(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")


def record(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    actor: Optional[User] = None,
    actor_name: str = "system",
    before: Optional[dict[str, Any]] = None,
    after: Optional[dict[str, Any]] = None,
    council_code: Optional[str] = None,
) -> AuditEvent:
    """Add an audit event to the session (it commits with the change it records)."""
    ev = AuditEvent(
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else actor_name,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        # The council whose staff acted (or whose record it is); models.tenancy fills in the rest.
        council_code=council_code or (actor.council_code if actor else None),
    )
    session.add(ev)
    return ev
