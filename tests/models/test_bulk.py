"""models.bulk: many rows in one transaction, written as a direct write would write them, all or
nothing, and on SQLite without holding the database's only write lock while they are prepared."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from models.bulk import BulkWrite
from models.db import transaction
from models.enums import OfstedGrade
from models.supply import Provider

PROVIDERS = Provider.__table__


def _providers(n: int, grade: OfstedGrade = OfstedGrade.good) -> list[dict]:
    return [{"id": f"P{k:04d}", "name": f"Provider {k}", "ofsted_grade": grade, "ofsted_urn": None, "in_house": False}
            for k in range(n)]


def _stored(engine) -> dict[str, tuple]:
    with transaction(engine) as s:
        return {p.id: (p.name, p.ofsted_grade, p.created_at is not None) for p in s.scalars(select(Provider))}


def test_inserts_updates_and_deletes_as_the_orm_would_read_them(engine):
    with transaction(engine) as s:
        bulk = BulkWrite(s)
        bulk.insert(PROVIDERS, _providers(1200))
        bulk.run()
    with transaction(engine) as s:
        bulk = BulkWrite(s)
        bulk.update(PROVIDERS, [{"id": "P0001", "name": "Renamed", "ofsted_grade": OfstedGrade.outstanding}])
        bulk.delete(PROVIDERS, [f"P{k:04d}" for k in range(600, 1200)])  # more ids than one IN list holds
        bulk.run()
    stored = _stored(engine)
    assert len(stored) == 600
    assert stored["P0001"] == ("Renamed", OfstedGrade.outstanding, True)  # the enum and the default came back
    assert stored["P0002"] == ("Provider 2", OfstedGrade.good, True)


def test_a_failure_writes_nothing_and_leaves_no_staging_behind(engine):
    with transaction(engine) as s:
        s.add(Provider(id="P0003", name="Already here", in_house=False))
    with pytest.raises(Exception), transaction(engine) as s:  # P0003 again: the primary key refuses it
        bulk = BulkWrite(s)
        bulk.update(PROVIDERS, [{"id": "P0003", "name": "Changed"}])
        bulk.insert(PROVIDERS, _providers(10))
        bulk.run()
    assert _stored(engine) == {"P0003": ("Already here", None, True)}
    with transaction(engine) as s:  # the same connection again: no temporary table was left on it
        bulk = BulkWrite(s)
        bulk.insert(PROVIDERS, _providers(2))
        bulk.run()
    assert set(_stored(engine)) == {"P0000", "P0001", "P0003"}


def test_on_sqlite_nothing_waits_while_rows_are_staged_only_while_they_move(sqlite_engine):
    other = sqlite3.connect(sqlite_engine.url.database, timeout=0)  # refuse at once if locked
    other.execute("CREATE TABLE someone_signing_in (at TEXT)")
    other.commit()

    def another_write_goes_through() -> bool:
        try:
            other.execute("INSERT INTO someone_signing_in VALUES ('now')")
            other.commit()
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False

    with transaction(sqlite_engine) as s:
        bulk = BulkWrite(s)
        bulk.insert(PROVIDERS, _providers(5000))
        bulk.stage()
        assert another_write_goes_through()  # 5,000 rows prepared and converted: no lock on the database
        bulk.move()
        assert not another_write_goes_through()  # the move holds it, until the commit
    assert another_write_goes_through()
    assert len(_stored(sqlite_engine)) == 5000
    other.close()
