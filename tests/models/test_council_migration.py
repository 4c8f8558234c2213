"""Migration 0015 moves a single-council database into one council without losing a thing: every
row of every table reads the same after it (but for the council it now carries), each young
person's record, run, user and audit event is the council's, and the council is named. On
SQLite and PostgreSQL. The database is built at the newest schema and taken back to 0014 first
(the way back is the migration's own downgrade), so the data is exactly what 0014 held."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import MetaData, select, text
from sqlalchemy.exc import DBAPIError

from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.accounts import AuditEvent, AuditLogIsAppendOnly, User, record
from models.db import alembic_config, migrate, transaction
from models.enums import Role
from providers.demo import DEMO_AUTHORITY, build_demo

DEMO_DAY = dt.date(2026, 11, 23)
VIEWS = {"home_resident", "home_resident_step"}


def _everything(engine) -> dict[str, list[tuple]]:
    """Every row of every table, without the council columns, in a stable order."""
    meta = MetaData()
    meta.reflect(engine)
    rows = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name in VIEWS | {"alembic_version", "council"}:
                continue
            columns = [c for c in table.columns if c.name != "council_code"]
            rows[name] = sorted(tuple(map(repr, r)) for r in conn.execute(select(*columns)))
    return rows


def test_single_council_data_moves_into_its_council_without_loss(engine):
    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=DEMO_DAY)
        s.add(User(username="a.admin", full_name="An Admin", role=Role.admin, password_hash="x"))
        record(s, "checked", "referral", "R0001", actor_name="test")
    run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY, policy=Policy(),
              approvals=ApprovalPolicy())
    command.downgrade(alembic_config(engine), "0014")
    before = _everything(engine)
    assert before["referral"] and before["match_run"] and before["proposed_match"] and before["audit_event"]

    migrate(engine)

    assert _everything(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code, name FROM council")).all() == [(DEMO_AUTHORITY, "Medway")]
        for table in ("referral", "placement", "support_plan_step", "match_run", "proposed_match", "vacancy",
                      "framework", "audit_event", "app_user"):
            councils = set(conn.execute(text(f"SELECT DISTINCT council_code FROM {table}")).scalars())
            assert councils == {DEMO_AUTHORITY}, (table, councils)
        # The audit log is append-only again once the migration has stamped it.
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() == len(before["audit_event"])
    with transaction(engine) as s:
        event = s.scalars(select(AuditEvent)).first()
        event.actor = "someone else"
        with pytest.raises(AuditLogIsAppendOnly):
            s.flush()
        s.rollback()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone else'"))


def test_an_empty_database_gets_no_council_until_one_is_used(engine):
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM council")).scalar() == 0
    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=DEMO_DAY)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code FROM council")).scalars().all() == [DEMO_AUTHORITY]


def test_the_demos_reset_drops_the_views_too_and_builds_again(engine):
    """``placematch demo --reset`` on a database holding the demo: PostgreSQL will not drop a
    table a view reads, so the views go first; the demo is then built again."""
    from api.cli import _drop_everything

    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=DEMO_DAY)
    _drop_everything(engine)
    migrate(engine)
    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=DEMO_DAY)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM home_resident")).scalar() > 0
