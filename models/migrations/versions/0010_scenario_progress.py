"""scenario results: the progress of a run in the background, kept in its row so every process
of the service shows it, and the time it was last heard from, so a run whose process died is
failed rather than left running

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scenario_result', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replications_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('simulating_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_replication_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('heard_at', sa.DateTime(timezone=True), nullable=True))
    # A run left "running" by a service before this revision has no process watching it now:
    # the next start of the service fails it (api.scenario_runs.fail_silent), by its created_at.


def downgrade() -> None:
    # Only the progress of runs goes; their results stay.
    with op.batch_alter_table('scenario_result', schema=None) as batch_op:
        batch_op.drop_column('heard_at')
        batch_op.drop_column('first_replication_at')
        batch_op.drop_column('simulating_since')
        batch_op.drop_column('replications_done')
