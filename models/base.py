"""Declarative base and the column types every table shares."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, DateTime, Enum, MetaData, TypeDecorator, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Lists of codes (needs, risks, postcodes) are stored as JSON arrays: portable across
    # SQLite and PostgreSQL and read whole by the eligibility rules, never queried inside.
    type_annotation_map = {list[str]: JSON, dict[str, Any]: JSON, dict[str, str]: JSON}


def enum_column(enum_cls: type[enum.Enum], **kwargs: Any):
    """A VARCHAR column holding the enum's code, with a CHECK constraint listing the codes.

    Non-native enums keep migrations simple on both databases (no CREATE TYPE) and store the
    same code the CSV files carry.
    """
    return mapped_column(
        Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=32,
            validate_strings=True,
            values_callable=lambda cls: [m.value for m in cls],
            name=enum_cls.__name__.lower(),
        ),
        **kwargs,
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


COUNCIL_ZONE = ZoneInfo("Europe/London")


def council_today() -> dt.date:
    """Today's date where the council is (England), whatever zone the machine keeps: a start
    date due "today", a panel held "today" and an audit searched by day all mean the council's
    day, and a server on UTC would turn the date an hour late for half the year."""
    return dt.datetime.now(COUNCIL_ZONE).date()


class UtcDateTime(TypeDecorator):
    """A moment, stored in UTC and read back with its offset on every database.

    PostgreSQL's ``timestamptz`` does this itself; SQLite has no time zones and hands back the
    stored wall time without one, so answers would carry times with no offset ("12:00" of which
    zone?). Times are written in UTC here whatever zone they come in, and read back as UTC.
    A time without an offset is refused on the way in: whose clock it meant cannot be known.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a time without its offset ({value.isoformat()}): give it in UTC")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now()
    )
