"""The database: engine, sessions and migrations.

SQLite in a local file by default, so a newcomer needs nothing set up; ``DATABASE_URL``
(e.g. ``postgresql+psycopg://user:pass@localhost/placematch``) switches to PostgreSQL. The
schema is always created by the Alembic migrations in ``models/migrations``, never by
``create_all``, so SQLite and PostgreSQL databases have the same history.

Every engine hides SQL parameters (``hide_parameters=True``): the values bound into a query are
young people's names, dates of birth and postcodes, and they must not reach a log, an echo or
an error message (SQLAlchemy puts them in every DBAPI error it raises). SQLite runs in WAL mode
(readers never wait for a writer) with a busy timeout, so a write waits for the lock a while
before it is refused; the service answers a write that still cannot get it with 503 and
Retry-After (api.errors), never 500.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///placematch.db"
# How long a SQLite write waits for another writer's lock before it is refused ("database is
# locked"). PLACEMATCH_SQLITE_BUSY_TIMEOUT_MS overrides it (0: refuse at once).
SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, *, busy_timeout_ms: int | None = None, **kwargs) -> Engine:
    """An engine on ``url`` (default: DATABASE_URL, else the local SQLite file). Parameters are
    always hidden from logs and errors, whatever ``kwargs`` say. ``busy_timeout_ms``: SQLite
    only, how long a write waits for the lock (default SQLITE_BUSY_TIMEOUT_MS)."""
    url = url or database_url()
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would look for psycopg2.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs["hide_parameters"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        timeout = busy_timeout_ms if busy_timeout_ms is not None else _busy_timeout_ms()
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, record, timeout))
    return engine


def _busy_timeout_ms() -> int:
    text = os.environ.get("PLACEMATCH_SQLITE_BUSY_TIMEOUT_MS", "")
    return int(text) if text.strip().isdigit() else SQLITE_BUSY_TIMEOUT_MS


def _sqlite_pragmas(dbapi_connection, _record, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite ignores foreign keys unless asked
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # WAL: readers and one writer at once (the default journal makes every reader wait for a
    # writer's commit). Kept in the file; an in-memory database stays "memory" and ignores it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, user=None, *, council: str | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error. Given the user it
    is done for (or the council it acts for), it sees and writes only what that council may
    (models.tenancy)."""
    from models import tenancy

    with session_factory(engine)() as session:
        if user is not None:
            session.info["scope"] = tenancy.scope_for(user)
        elif council is not None:
            session.info["scope"] = tenancy.Scope(council=council)
        with session.begin():
            yield session


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (creating it in an empty database)."""
    command.upgrade(alembic_config(engine), revision)


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
