"""panel memory: a re-run remembers the run it re-ran and who set each lock and ban, and why;
a new decision kind, lift (the panel takes back a carried lock, ban or rejection)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD = ('accept', 'reject', 'override', 'lock', 'ban')
NEW = OLD + ('lift',)


def _kind_type(values):
    return sa.Enum(*values, name='decisionkind', native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table('match_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rerun_of_id', sa.Integer(), nullable=True))
        # Runs already recorded carry no memory: an empty list (their locks and bans are
        # shown as given with the run, by whoever submitted it).
        batch_op.add_column(sa.Column('carried', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.create_foreign_key(batch_op.f('fk_match_run_rerun_of_id_match_run'), 'match_run',
                                    ['rerun_of_id'], ['id'])
    # The kind column's CHECK constraint lists the codes: widen it (SQLite rebuilds the table).
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=_kind_type(OLD), type_=_kind_type(NEW), existing_nullable=False)


def downgrade() -> None:
    # Lifts cannot be kept under the old constraint, and a panel's decisions are not deleted
    # to make room: refuse rather than lose them.
    lifts = op.get_bind().execute(sa.text("SELECT count(*) FROM decision WHERE kind = 'lift'")).scalar()
    if lifts:
        raise RuntimeError(f"cannot downgrade below 0006: {lifts} lift decision(s) would be lost")
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=_kind_type(NEW), type_=_kind_type(OLD), existing_nullable=False)
    with op.batch_alter_table('match_run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_match_run_rerun_of_id_match_run'), type_='foreignkey')
        batch_op.drop_column('carried')
        batch_op.drop_column('rerun_of_id')
