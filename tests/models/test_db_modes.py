"""How every engine is set up: SQL parameters (names, dates of birth, postcodes) never reach a
log or an error message, on both databases; SQLite runs in WAL mode with a busy timeout."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.db import make_engine

SECRET = "ZZ9 9ZZ Jordan-Example 2008-02-29"


def test_sql_parameters_are_not_logged_even_with_echo_on(engine, caplog):
    echoing = make_engine(engine.url.render_as_string(hide_password=False), echo=True)
    try:
        caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
        with echoing.connect() as conn:
            assert conn.execute(text("SELECT :postcode AS p"), {"postcode": SECRET}).scalar() == SECRET
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "SELECT" in logged  # echo is on: the statement is logged ...
        assert SECRET not in logged and "ZZ9" not in logged  # ... but not the value bound into it
        assert "hidden" in logged
    finally:
        echoing.dispose()


def test_a_failing_statement_does_not_quote_its_parameters(engine):
    with pytest.raises(DBAPIError) as failed:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table (postcode) VALUES (:postcode)"), {"postcode": SECRET})
    assert SECRET not in str(failed.value) and "ZZ9" not in str(failed.value)


def test_parameters_stay_hidden_whatever_the_caller_asks(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}", hide_parameters=False)
    try:
        assert eng.hide_parameters
    finally:
        eng.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_busy_timeout_can_be_set_per_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=250)
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250
    finally:
        eng.dispose()
