"""PostgreSQL's row-level security, the second line of defence behind the application's own
scoping (models.tenancy): a council's transaction runs as the role placematch_app, which cannot
bypass the policies, so a raw SQL statement, or an ORM query with the application's filter
taken away, still sees one council's young people only. PostgreSQL only (SQLite has no
row-level security: the application's scoping is all there is)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models import tenancy
from models.db import migrate, session_factory, transaction
from models.people import Referral
from models.supply import Vacancy
from postgres_server import fresh_postgres
from providers.demo import build_demo

MEDWAY, KENT = "E06000035", "E10000016"
DEMO_DAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def two_councils():
    engine = fresh_postgres()
    migrate(engine)
    with transaction(engine) as s:
        build_demo(s, seed=2026, as_of=DEMO_DAY)
        tenancy.ensure_council(s, KENT)
        first = s.scalars(select(Referral).order_by(Referral.id)).first()
        copy = {c.key: getattr(first, c.key) for c in Referral.__table__.columns if c.key != "created_at"}
        s.add(Referral(**copy | {"id": "KENT-1", "council_code": KENT, "sibling_group": None}))
        vacancy = s.scalars(select(Vacancy).order_by(Vacancy.id)).first()
        s.add(Vacancy(id="KENT-V1", property_id=vacancy.property_id, beds=1, available_from=DEMO_DAY,
                      council_code=KENT))
    yield engine
    engine.dispose()


def scoped(engine, scope: tenancy.Scope) -> Session:
    session = session_factory(engine)()
    session.info["scope"] = scope
    session.begin()
    return session


def test_the_application_role_cannot_bypass_the_policies(two_councils):
    with two_councils.connect() as conn:
        role = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'placematch_app'")).one()
        owner = conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'referral'")).scalar()
        secured = conn.execute(text("SELECT relrowsecurity FROM pg_class WHERE relname = 'referral'")).scalar()
    assert tuple(role) == (False, False) and owner != "placematch_app" and secured


def test_a_raw_query_as_the_application_role_sees_one_councils_young_people(two_councils):
    session = scoped(two_councils, tenancy.Scope(council=MEDWAY))
    try:
        assert session.execute(text("SELECT current_user")).scalar() == "placematch_app"
        ids = set(session.execute(text("SELECT id FROM referral")).scalars())
        councils = set(session.execute(text("SELECT DISTINCT council_code FROM referral")).scalars())
    finally:
        session.close()
    assert ids and "KENT-1" not in ids and councils == {MEDWAY}


def test_with_the_applications_filter_taken_away_the_database_still_refuses(two_councils):
    event.remove(Session, "do_orm_execute", tenancy._filter_to_scope)
    try:
        session = scoped(two_councils, tenancy.Scope(council=MEDWAY))
        try:
            assert session.get(Referral, "KENT-1") is None
            assert "KENT-1" not in set(session.scalars(select(Referral.id)))
            assert "KENT-V1" not in set(session.scalars(select(Vacancy.id)))
        finally:
            session.close()
        kent = scoped(two_councils, tenancy.Scope(council=KENT))
        try:
            assert set(kent.scalars(select(Referral.id))) == {"KENT-1"}
        finally:
            kent.close()
    finally:
        event.listen(Session, "do_orm_execute", tenancy._filter_to_scope)


def test_the_application_role_cannot_change_or_add_another_councils_rows(two_councils):
    session = scoped(two_councils, tenancy.Scope(council=MEDWAY))
    try:
        changed = session.execute(text("UPDATE referral SET wishes = 'x' WHERE id = 'KENT-1'")).rowcount
        assert changed == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            session.execute(text("UPDATE referral SET council_code = :k WHERE id = "
                                 "(SELECT id FROM referral ORDER BY id LIMIT 1)"), {"k": KENT})
    finally:
        session.rollback()
        session.close()


def test_no_scope_set_means_no_rows_and_a_regional_scope_sees_the_market_only(two_councils):
    with two_councils.connect() as conn:
        with conn.begin():
            conn.execute(text("SET LOCAL ROLE placematch_app"))  # the role, with no council given
            assert conn.execute(text("SELECT count(*) FROM referral")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM placement")).scalar() == 0
    regional = scoped(two_councils, tenancy.Scope(region="region"))
    try:
        assert regional.execute(text("SELECT count(*) FROM referral")).scalar() == 0
        assert regional.execute(text("SELECT count(*) FROM audit_event")).scalar() == 0
        assert "KENT-V1" in set(regional.execute(text("SELECT id FROM vacancy")).scalars())
    finally:
        regional.close()


def test_a_providers_staff_see_only_the_referrals_sent_to_them(two_councils):
    with transaction(two_councils) as s:
        medway = s.scalars(select(Referral.id).where(Referral.council_code == MEDWAY).order_by(Referral.id)).all()
        provider = s.scalars(select(Vacancy).order_by(Vacancy.id)).first().property.provider_id
        from models.market import ReferralRequest

        s.add(ReferralRequest(referral_id=medway[0], provider_id=provider,
                              deadline_at=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)))
    session = scoped(two_councils, tenancy.Scope(provider=provider))
    try:
        assert set(session.execute(text("SELECT id FROM referral")).scalars()) == {medway[0]}
    finally:
        session.close()


def test_the_audit_log_stays_append_only_for_the_application_role(two_councils):
    from models.accounts import record

    session = scoped(two_councils, tenancy.Scope(council=MEDWAY))
    try:
        record(session, "checked", "referral", "R0001", actor_name="test")
        session.commit()
        assert session.execute(text("SELECT count(*) FROM audit_event")).scalar() >= 1
        for statement in ("DELETE FROM audit_event", "UPDATE audit_event SET actor = 'x'"):
            with pytest.raises(DBAPIError, match="permission denied"):
                with session.begin_nested():
                    session.execute(text(statement))
    finally:
        session.rollback()
        session.close()
