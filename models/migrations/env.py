"""Alembic environment: runs on the engine handed over by ``models.db.migrate`` (or on
``DATABASE_URL`` when called from the ``alembic`` command line)."""

from alembic import context

from models.db import make_engine
from models.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table by building a new one and dropping the old (Alembic's batch
            # mode), which its foreign keys refuse while other tables' rows point at it. They are
            # set aside for the migration (the pragma is ignored inside a transaction, so before
            # it) and every row is checked against them after, as SQLite's own procedure does.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,  # ALTER TABLE on SQLite
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} rows pointing at nothing "
                                       f"(first: table {broken[0][0]}, row {broken[0][1]}): nothing was changed")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


run_migrations_online()
