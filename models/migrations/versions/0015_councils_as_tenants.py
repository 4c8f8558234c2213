"""councils as tenants: the council table; every young person's record, match run, decision,
approval, referral sent, trial stay, user and audit event carries its council (council_code);
vacancies, frameworks and plans belong to a council or (empty) to the region; the care
co-operative's roles; on PostgreSQL, row-level security for the application role placematch_app.

Today's single-council data moves into one council without loss: PLACEMATCH_PLACING_AUTHORITY if
set, else the one council whose frameworks (or match runs) the database holds, else the demo's
(Medway, E06000035). The audit log is append-only; this migration is the one writer allowed to
stamp its council on the events already kept (the triggers are lifted for that one statement).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
import os

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OLD_ROLES = ('panel_member', 'commissioner', 'service_manager', 'head_of_service', 'director', 'admin', 'provider')
NEW_ROLES = OLD_ROLES + ('rcc_commissioner', 'rcc_analyst')
COUNCIL_STAFF = "(role IN ('provider', 'rcc_commissioner', 'rcc_analyst')) = (council_code IS NULL)"
# A young person's records: always one council's.
OWNED = ('referral', 'placement', 'support_plan_step', 'match_run', 'proposed_match', 'decision',
         'approval_request', 'referral_request', 'trial_stay')
# The market, tenders and plans: one council's, or the region's (empty).
SHARED = ('vacancy', 'framework', 'forecast_scenario', 'scenario_result', 'tender_evaluation')
DEFAULT_COUNCIL = 'E06000035'

# What a scoped transaction has set (models.tenancy): '' or unset means none, and matches nothing.
COUNCIL = "current_setting('placematch.council', true)"
PROVIDER = "current_setting('placematch.provider', true)"
REGION = "current_setting('placematch.region', true)"
POLICIES = {
    # A provider's staff see the referrals sent to them, whichever council sent them.
    'referral': f"council_code = {COUNCIL} OR id IN (SELECT referral_id FROM referral_request "
                f"WHERE provider_id = {PROVIDER})",
    'referral_request': f"council_code = {COUNCIL} OR provider_id = {PROVIDER}",
    **{t: f"council_code = {COUNCIL}" for t in OWNED if t not in ('referral', 'referral_request')},
    **{t: f"council_code IS NULL OR council_code = {COUNCIL} OR {PROVIDER} <> '' OR {REGION} <> ''" for t in SHARED},
    'app_user': f"council_code IS NULL OR council_code = {COUNCIL}",
}
# Views (the app role reads them): on SQLite a later migration that rebuilds a table they read
# (batch mode) must drop and re-create them around it.
# Who lives in each home, by risks and tier only (no name, no referral): what every council's
# matching must know of a shared home's residents, whichever council placed them. On PostgreSQL
# a view reads its tables with its owner's rights, so it sees past the policies: that is the point.
VIEWS = {
    'home_resident': """CREATE VIEW home_resident AS
        SELECT p.id AS placement_id, p.property_id, p.tier, p.status, r.risks_to_self, r.risks_to_others
        FROM placement p JOIN referral r ON r.id = p.referral_id""",
    'home_resident_step': """CREATE VIEW home_resident_step AS
        SELECT s.placement_id, s.starts_on, s.tier FROM support_plan_step s""",
    # Each council's counts, for the care co-operative's staff, who may see no young person.
    'council_referral_figures': """CREATE VIEW council_referral_figures AS
        SELECT council_code, status, tier, urgency, COUNT(*) AS referrals
        FROM referral GROUP BY council_code, status, tier, urgency""",
    'council_placement_figures': """CREATE VIEW council_placement_figures AS
        SELECT council_code, status, tier, COUNT(*) AS placements, SUM(weekly_cost) AS weekly_cost
        FROM placement GROUP BY council_code, status, tier""",
}


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _the_council(bind) -> str | None:
    """The council today's data belongs to, or None for an empty database."""
    has_data = any(bind.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first()
                   for t in OWNED + SHARED + ('app_user',))
    if not has_data:
        return None
    if os.environ.get('PLACEMATCH_PLACING_AUTHORITY'):
        return os.environ['PLACEMATCH_PLACING_AUTHORITY']
    for query in ("SELECT DISTINCT placing_authority_code FROM framework",
                  "SELECT DISTINCT placing_authority FROM match_run WHERE placing_authority IS NOT NULL"):
        codes = [row[0] for row in bind.execute(sa.text(query))]
        if len(codes) == 1:
            return codes[0]
    return DEFAULT_COUNCIL


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table('council',
                    sa.Column('code', sa.String(length=9), nullable=False),
                    sa.Column('name', sa.String(length=120), nullable=False),
                    sa.Column('rcc', sa.String(length=80), nullable=True),
                    sa.PrimaryKeyConstraint('code', name=op.f('pk_council')))
    council = _the_council(bind)
    if council is not None:
        name = bind.execute(sa.text("SELECT name FROM local_authority WHERE code = :c"), {"c": council}).scalar()
        bind.execute(sa.text("INSERT INTO council (code, name) VALUES (:c, :n)"), {"c": council, "n": name or council})

    for table in OWNED + SHARED:
        _give_a_council(bind, table, council, required=table in OWNED)
    with op.batch_alter_table('app_user') as batch:
        batch.alter_column('role', existing_type=_enum(OLD_ROLES, 'role'), type_=_enum(NEW_ROLES, 'role'),
                           existing_nullable=False)
    _give_a_council(bind, 'app_user', council, where="role <> 'provider'")
    with op.batch_alter_table('app_user') as batch:
        batch.create_check_constraint(op.f('ck_app_user_council_staff_bound_to_their_council'), COUNCIL_STAFF)
    with op.batch_alter_table('approval_request') as batch:
        batch.alter_column('role', existing_type=_enum(OLD_ROLES, 'role'), type_=_enum(NEW_ROLES, 'role'),
                           existing_nullable=False)

    _stamp_the_audit_log(bind, council)
    for statement in VIEWS.values():
        op.execute(statement)
    if dialect == 'postgresql':
        _row_level_security()


def _give_a_council(bind, table: str, council: str | None, *, required: bool = False, where: str = "1 = 1") -> None:
    """Add ``table.council_code`` (a key to the council, indexed), filled with ``council`` for the
    rows ``where`` holds; NOT NULL when ``required``."""
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column('council_code', sa.String(length=9), nullable=True))
    if council is not None:
        bind.execute(sa.text(f"UPDATE {table} SET council_code = :c WHERE {where}"), {"c": council})
    with op.batch_alter_table(table) as batch:
        if required:
            batch.alter_column('council_code', existing_type=sa.String(length=9), nullable=False)
        batch.create_foreign_key(batch.f(f'fk_{table}_council_code_council'), 'council', ['council_code'], ['code'])
        batch.create_index(batch.f(f'ix_{table}_council_code'), ['council_code'], unique=False)


def _stamp_the_audit_log(bind, council: str | None) -> None:
    _lift_audit_triggers(bind)
    _give_a_council(bind, 'audit_event', council)
    _restore_audit_triggers(bind)


def _lift_audit_triggers(bind) -> None:
    if bind.dialect.name == 'sqlite':
        # SQLite rebuilds the table to change it, and its triggers would go with the old one.
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    else:
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change")


def _restore_audit_triggers(bind) -> None:
    if bind.dialect.name == 'sqlite':
        op.execute("""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
                      BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""")
        op.execute("""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
                      BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""")
    else:
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change")


def _row_level_security() -> None:
    """The second line of defence: policies the application role cannot bypass. The tables'
    owner (who runs migrations, the command line and the demo builder) is not subject to them."""
    op.execute("""DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'placematch_app') THEN
                      CREATE ROLE placematch_app NOLOGIN NOBYPASSRLS;
                    END IF;
                  END $$""")
    # The service signs in as the owner and takes the application role for every scoped transaction.
    op.execute("GRANT placematch_app TO CURRENT_USER")
    op.execute("GRANT USAGE ON SCHEMA public TO placematch_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO placematch_app")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO placematch_app")
    op.execute("REVOKE ALL ON alembic_version FROM placematch_app")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM placematch_app")  # append-only, twice over
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO placematch_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO placematch_app")
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY council_rows ON {table} USING ({condition}) WITH CHECK ({condition})")
    op.execute("ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY council_reads ON audit_event FOR SELECT USING (council_code = {COUNCIL})")
    op.execute("CREATE POLICY council_writes ON audit_event FOR INSERT "
               f"WITH CHECK (council_code IS NULL OR council_code = {COUNCIL})")


def downgrade() -> None:
    bind = op.get_bind()
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    if bind.dialect.name == 'postgresql':
        for table in tuple(POLICIES) + ('audit_event',):
            op.execute(f"DROP POLICY IF EXISTS council_rows ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP POLICY IF EXISTS council_reads ON audit_event")
        op.execute("DROP POLICY IF EXISTS council_writes ON audit_event")
    with op.batch_alter_table('approval_request') as batch:
        batch.alter_column('role', existing_type=_enum(NEW_ROLES, 'role'), type_=_enum(OLD_ROLES, 'role'),
                           existing_nullable=False)
    with op.batch_alter_table('app_user') as batch:
        batch.drop_constraint(op.f('ck_app_user_council_staff_bound_to_their_council'), type_='check')
        batch.drop_index(batch.f('ix_app_user_council_code'))
        batch.drop_constraint(batch.f('fk_app_user_council_code_council'), type_='foreignkey')
        batch.drop_column('council_code')
        batch.alter_column('role', existing_type=_enum(NEW_ROLES, 'role'), type_=_enum(OLD_ROLES, 'role'),
                           existing_nullable=False)
    for table in OWNED + SHARED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_council_code'))
            batch.drop_constraint(batch.f(f'fk_{table}_council_code_council'), type_='foreignkey')
            batch.drop_column('council_code')
    _lift_audit_triggers(bind)
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_index(batch.f('ix_audit_event_council_code'))
        batch.drop_constraint(batch.f('fk_audit_event_council_code_council'), type_='foreignkey')
        batch.drop_column('council_code')
    _restore_audit_triggers(bind)
    op.drop_table('council')
