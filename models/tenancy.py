"""Councils as tenants: which council's records a session may see, and whose records it writes.

A Regional Care Co-operative runs one placematch for many councils. Each council (a placing
authority, by its ONS code) owns its young people's records: referrals, placements and their
support plans, match runs and their proposals, the panel's decisions, approval requests,
referrals sent to providers, trial stays, and its own staff and audit. Providers' homes are the
shared market; a vacancy, a framework or a plan belongs either to one council (only it sees and
uses it) or to the region (``council_code`` empty: every member does).

This module is the application's line of defence. A session given a :class:`Scope` (every
signed-in request's session is given its user's, in api.security) has every ORM query it runs
filtered to what the scope may see, through SQLAlchemy's ``do_orm_execute`` hook with
``with_loader_criteria``, so no route can forget the filter: another council's record is simply
not there (the API's 404). Every record it adds is stamped with its council (from the record it
belongs to, else the scope's council) and refused if it names another. On PostgreSQL the
migration adds row-level security as a second line (models/migrations/versions/0015): a scoped
session's transaction runs as the role ``placematch_app``, which cannot bypass the policies,
with its council in a setting they read, so even a raw SQL statement sees one council's rows.

A session with no scope (the command line, migrations, the demo builder, a background job until
it takes its run's council) sees every council: it is the service acting for itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from sqlalchemy import ForeignKey, String, event, false, insert, or_, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria

from models.base import Base

# The council a single-council service serves when nothing says otherwise (the demo's, Medway):
# ``PLACEMATCH_PLACING_AUTHORITY`` overrides it, and a database holding one council serves that one.
DEFAULT_COUNCIL = "E06000035"
COUNCIL_ENV = "PLACEMATCH_PLACING_AUTHORITY"
# The PostgreSQL role a scoped transaction runs as: no BYPASSRLS, not the tables' owner.
APP_ROLE = "placematch_app"


class Council(Base):
    """A council using the service (a tenant): its ONS code, its name, and the Regional Care
    Co-operative it is a member of (empty for a council on its own)."""

    __tablename__ = "council"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    rcc: Mapped[Optional[str]] = mapped_column(String(80))


class CouncilOwned:
    """A record one council owns: seen and changed only by that council's staff."""

    council_code: Mapped[str] = mapped_column(String(9), ForeignKey("council.code"), index=True)


class CouncilOrRegion:
    """A record of one council (``council_code``) or of the whole region (empty): the market's
    vacancies and frameworks, and plans. A council sees its own and the region's."""

    council_code: Mapped[Optional[str]] = mapped_column(String(9), ForeignKey("council.code"), index=True)


class CouncilStaff:
    """A user: a council's staff carry their council; a provider's or a co-operative's do not."""

    council_code: Mapped[Optional[str]] = mapped_column(String(9), ForeignKey("council.code"), index=True)


class CouncilAudited:
    """An audit event: of the council whose record or staff it concerns (empty: the service's own,
    or a co-operative's)."""

    council_code: Mapped[Optional[str]] = mapped_column(String(9), ForeignKey("council.code"), index=True)


@dataclass(frozen=True)
class Scope:
    """Whose records a session may see: exactly one of a council (its staff), a provider (its
    staff: their homes and the referrals sent to them, from any council) or a co-operative (its
    staff: the shared market and the region's figures, never a young person's record)."""

    council: str | None = None
    provider: str | None = None
    region: str | None = None


REGIONAL_ROLES = ("rcc_commissioner", "rcc_analyst")


def scope_for(user) -> Scope:
    """The scope a signed-in user's requests run in."""
    role = str(user.role.value if hasattr(user.role, "value") else user.role)
    if role == "provider":
        return Scope(provider=user.provider_id)
    if role in REGIONAL_ROLES:
        return Scope(region="region")
    if not user.council_code:
        raise CrossCouncilWrite(f"user {user.id} is a council's staff with no council")
    return Scope(council=user.council_code)


class CrossCouncilWrite(RuntimeError):
    """A record would be written for a council other than the session's own."""


def scope_of(session: Session) -> Scope | None:
    return session.info.get("scope")


def enter(session: Session, scope: Scope) -> None:
    """From now on this session sees and writes only what ``scope`` may. On PostgreSQL the
    transaction in progress (and every later one) runs as the application role, with the scope
    in the settings the row-level security policies read."""
    session.info["scope"] = scope
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        _set_database_scope(session.connection(), scope)


def _set_database_scope(connection, scope: Scope) -> None:
    connection.execute(
        text("SELECT set_config('placematch.council', :c, true), set_config('placematch.provider', :p, true), "
             "set_config('placematch.region', :r, true)"),
        {"c": scope.council or "", "p": scope.provider or "", "r": scope.region or ""})
    connection.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))


@event.listens_for(Session, "after_begin")
def _scope_each_transaction(session: Session, _transaction, connection) -> None:
    scope = scope_of(session)
    if scope is not None and connection.dialect.name == "postgresql":
        _set_database_scope(connection, scope)


# --- reading: every ORM statement of a scoped session is filtered ------------------------------


def _mapped(mixin: type) -> list[type]:
    return [m.class_ for m in Base.registry.mappers if issubclass(m.class_, mixin)]


@lru_cache(maxsize=1024)
def _criteria(scope: Scope) -> tuple:
    """The filter of every mapped class a scope restricts, as plain expressions (one per class).
    Built once per scope (they are immutable) and reused by every statement: building them per
    statement was a fifth of a list request's time."""
    from models.accounts import User
    from models.enums import Role
    from models.market import ReferralRequest
    from models.people import Referral

    rules: dict[type, Any] = {}
    if scope.council is not None:
        council = scope.council
        rules |= {cls: cls.council_code == council for cls in _mapped(CouncilOwned) + _mapped(CouncilAudited)}
        rules |= {cls: or_(cls.council_code.is_(None), cls.council_code == council) for cls in _mapped(CouncilOrRegion)}
        # A council's administrators manage their own staff, and the providers' staff.
        rules[User] = or_(User.council_code == council, User.role == Role.provider)
    elif scope.provider is not None:
        provider = scope.provider
        rules |= {cls: false() for cls in _mapped(CouncilOwned) + _mapped(CouncilAudited)}
        # Only the referrals sent to them (from any council), and no other young person's record.
        rules[Referral] = Referral.id.in_(select(ReferralRequest.referral_id)
                                          .where(ReferralRequest.provider_id == provider))
        rules[ReferralRequest] = ReferralRequest.provider_id == provider
        rules[User] = User.provider_id == provider
    else:
        # A co-operative's staff: the region's market and plans; no young person, no council's staff.
        rules |= {cls: false() for cls in _mapped(CouncilOwned) + _mapped(CouncilAudited)}
        rules[User] = User.council_code.is_(None) & (User.role != Role.provider)
    return tuple(with_loader_criteria(cls, rule, include_aliases=True) for cls, rule in rules.items())


@event.listens_for(Session, "do_orm_execute")
def _filter_to_scope(state) -> None:
    scope = scope_of(state.session)
    if scope is None or state.is_column_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*_criteria(scope))


# --- writing: every record added is stamped with its council, and checked ----------------------


def _parents() -> dict[type, tuple[type, str]]:
    """Where a record's council comes from: the record it belongs to."""
    from models.market import ReferralRequest
    from models.panel import ApprovalRequest, Decision, ProposedMatch
    from models.people import Placement, Referral, SupportPlanStep
    from models.trials import TrialStay

    return {Placement: (Referral, "referral_id"), SupportPlanStep: (Placement, "placement_id"),
            ProposedMatch: (Referral, "referral_id"), Decision: (Referral, "referral_id"),
            ApprovalRequest: (Placement, "placement_id"), ReferralRequest: (Referral, "referral_id"),
            TrialStay: (Referral, "referral_id")}


def service_council(session: Session) -> str:
    """The council the service acts for when a record does not say: ``PLACEMATCH_PLACING_AUTHORITY``,
    else the one council in the database, else the demo's (created on first use). A database
    of several councils has no such council: the record must say (else the write is refused)."""
    if os.environ.get(COUNCIL_ENV):
        return ensure_council(session, os.environ[COUNCIL_ENV])
    with session.no_autoflush:
        codes = session.scalars(select(Council.code).limit(2)).all()
    if len(codes) == 1:
        return codes[0]
    if not codes:
        return ensure_council(session, DEFAULT_COUNCIL)
    raise CrossCouncilWrite("this database holds several councils: say which council the record is for")


def _the_one_council(session: Session) -> str | None:
    """The service's council when it serves one; None (the region's) when it serves several."""
    with session.no_autoflush:
        several = session.scalar(select(Council.code).offset(1).limit(1)) is not None
    return None if several else service_council(session)


def ensure_council(session: Session, code: str, *, rcc: str | None = None) -> str:
    """The council ``code``, added (named as the ONS names it, where known) if it is not yet one."""
    from models.supply import LocalAuthority

    with session.no_autoflush:
        pending = any(isinstance(c, Council) and c.code == code for c in session.new)
        if not pending and session.get(Council, code) is None:
            authority = session.get(LocalAuthority, code)
            # Written at once, on the session's connection: this may run inside a flush, which must
            # find the council there before it writes the records that name it.
            session.connection().execute(insert(Council.__table__).values(
                code=code, name=authority.name if authority else code, rcc=rcc))
    return code


@event.listens_for(Session, "before_flush")
def _stamp_and_check(session: Session, _context, _instances) -> None:
    scope = scope_of(session)
    new = [o for o in session.new if isinstance(o, (CouncilOwned, CouncilOrRegion, CouncilStaff, CouncilAudited))]
    if not new and scope is None:
        return
    parents = _parents()
    pending = {(type(o), _key(o)): o for o in session.new}
    # Parents before children: a referral's council is known before its placement asks for it.
    for obj in sorted(new, key=lambda o: _depth(type(o), parents)):
        if obj.council_code is None:
            obj.council_code = _council_for(session, obj, scope, parents, pending)
        if isinstance(obj, CouncilOwned):
            _check(obj, scope)
    if scope is not None:
        for obj in session.dirty:
            if isinstance(obj, CouncilOwned) and session.is_modified(obj):
                _check(obj, scope)


def _key(obj) -> Any:
    state = obj.__mapper__.primary_key_from_instance(obj)
    return state[0] if len(state) == 1 else tuple(state)


def _depth(cls: type, parents: dict) -> int:
    depth = 0
    while cls in parents:
        cls, depth = parents[cls][0], depth + 1
    return depth


def _council_for(session: Session, obj, scope: Scope | None, parents: dict, pending: dict) -> str | None:
    if type(obj) in parents:
        parent_cls, column = parents[type(obj)]
        key = getattr(obj, column)
        parent = pending.get((parent_cls, key))
        if parent is None and key is not None:
            with session.no_autoflush:
                parent = session.get(parent_cls, key)
        if parent is not None:
            return parent.council_code
        if scope is not None:
            # Under a scope, a record it cannot see is another council's (or none at all).
            raise CrossCouncilWrite(f"{obj.__tablename__} refers to {parent_cls.__tablename__} {key}, "
                                    "which is not this council's")
    if isinstance(obj, CouncilStaff):
        from models.enums import Role

        if obj.role in (Role.provider, *map(Role, REGIONAL_ROLES)):
            return None
    if scope is not None:
        if scope.council is None and isinstance(obj, (CouncilOwned, CouncilStaff)):
            raise CrossCouncilWrite(f"a {obj.__tablename__} record belongs to a council: "
                                    "this session acts for none")
        return scope.council
    if isinstance(obj, (CouncilOwned, CouncilStaff)):
        return service_council(session)
    # A shared record or an event written by the service itself: the council, when there is one.
    return _the_one_council(session)


def council_for_new_rows(session: Session, table) -> str | None:
    """The council new rows of ``table`` written by a bulk Core insert (models.bulk) belong to:
    the scope's council, else the service's for a young person's record, else (the market) the
    one council of a single-council service or the region."""
    scope = scope_of(session)
    owned = not table.c.council_code.nullable
    if scope is not None:
        if scope.council is None and owned:
            raise CrossCouncilWrite(f"a {table.name} record belongs to a council: this session acts for none")
        return scope.council
    return service_council(session) if owned else _the_one_council(session)


def _check(obj, scope: Scope | None) -> None:
    if scope is None:
        return
    if scope.council is not None and obj.council_code != scope.council:
        raise CrossCouncilWrite(f"a {obj.__tablename__} record of another council cannot be written here")
    if scope.region is not None:
        raise CrossCouncilWrite(f"a co-operative's staff cannot write a council's {obj.__tablename__} record")
