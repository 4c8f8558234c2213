"""The schema as users rely on it, on SQLite and PostgreSQL: migrations build it, rules the
database enforces hold, and the audit log cannot be rewritten."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models.accounts import AuditLogIsAppendOnly
from models.db import transaction
from models.enums import LegalStatus, Role, ServiceType, Setting, Sex, Tier, Urgency
from models.orm import AuditEvent, Property, Provider, Referral, User, Vacancy, record


def _property(**kw) -> Property:
    base = dict(
        id="P1", provider_id="PR1", postcode="ME4 4AA", easting=575850, northing=167644,
        la_code="E06000035", service_type=ServiceType.supported_accommodation,
        setting=Setting.shared_care_experienced, ofsted_registered=True, sex=Sex.any,
        age_min=16, age_max=21, total_beds=3,
    )
    base.update(kw)
    return Property(**base)


def test_migrations_create_every_table(engine):
    tables = set(inspect(engine).get_table_names())
    assert {"referral", "vacancy", "property", "provider", "framework", "lot", "tier_price",
            "placement", "support_plan_step", "match_run", "proposed_match", "decision",
            "approval_request", "audit_event", "app_user", "local_authority"} <= tables


def test_referral_round_trips_lists_and_enums(engine):
    with transaction(engine) as s:
        s.add(Referral(
            id="R1", date_of_birth=dt.date(2009, 2, 1), sex=Sex.female,
            legal_status=LegalStatus.eligible, home_postcode="ME4 4AA", home_la_code="E06000035",
            home_easting=575850, home_northing=167644, tier=Tier.enhanced, urgency=Urgency.today,
            needs=["mental_health", "esol"], risks_to_self=["going_missing"],
            type_suitability={"emergency": "unsuitable"}, referred_on=dt.date(2026, 11, 2),
        ))
    with transaction(engine) as s:
        r = s.get(Referral, "R1")
        assert r.needs == ["mental_health", "esol"]
        assert r.tier is Tier.enhanced and r.legal_status is LegalStatus.eligible
        assert r.age_on(dt.date(2026, 11, 2)) == 17
        assert r.suitability("emergency") == "unsuitable"
        assert r.suitability("supported_lodgings") == "suitable"


def test_negative_beds_are_refused_by_the_database(engine):
    with transaction(engine) as s:
        s.add(Provider(id="PR1", name="Provider"))
        s.add(_property())
    with pytest.raises(IntegrityError):
        with transaction(engine) as s:
            s.add(Vacancy(id="V1", property_id="P1", beds=-1, available_from=dt.date(2026, 11, 1)))
    with transaction(engine) as s:
        assert s.scalars(select(Vacancy)).all() == []


def test_property_age_range_outside_16_25_is_refused(engine):
    with transaction(engine) as s:
        s.add(Provider(id="PR1", name="Provider"))
    with pytest.raises(IntegrityError):
        with transaction(engine) as s:
            s.add(_property(age_min=14))


def test_a_code_outside_the_enum_is_refused_by_the_database(engine):
    with transaction(engine) as s:
        s.add(User(username="u", full_name="U", role=Role.admin, password_hash="x"))
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("UPDATE app_user SET role = 'overlord'"))


def test_audit_log_is_append_only_in_the_orm_and_in_sql(engine):
    with transaction(engine) as s:
        record(s, "import", "referral", "R1", actor_name="cli", after={"rows": 3})
    with pytest.raises(AuditLogIsAppendOnly):
        with transaction(engine) as s:
            ev = s.scalars(select(AuditEvent)).one()
            ev.action = "nothing happened"
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with transaction(engine) as s:
        ev = s.scalars(select(AuditEvent)).one()
        assert (ev.action, ev.after) == ("import", {"rows": 3})
