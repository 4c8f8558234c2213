"""Alembic environment: runs on the engine handed over by ``models.db.migrate`` (or on
``DATABASE_URL`` when called from the ``alembic`` command line)."""

from alembic import context

from models.db import make_engine
from models.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine()
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
