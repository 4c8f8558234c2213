"""approval requests: what asked for each, the panel decision that raised it (whose maker may
not decide it) and the version of the approvals policy whose rule it is

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('panel_decision_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('policy_version', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_approval_request_panel_decision_id_decision'), 'decision',
                                    ['panel_decision_id'], ['id'])
    # Requests already raised: their placement's accept or override, the last one made for its
    # young person and vacancy before the request (a decision is made before the requests it
    # raises, and only one placement of a young person is live at a time). The policy's
    # version then was not kept: it stays empty rather than guessed.
    op.execute(sa.text(
        "UPDATE approval_request SET panel_decision_id = ("
        " SELECT max(d.id) FROM decision d JOIN placement p"
        " ON p.referral_id = d.referral_id AND p.vacancy_id = d.vacancy_id"
        " WHERE p.id = approval_request.placement_id AND d.kind IN ('accept', 'override')"
        " AND d.created_at <= approval_request.created_at)"
    ))


def downgrade() -> None:
    # Only what asked for each request goes; the requests and their decisions stay.
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_approval_request_panel_decision_id_decision'), type_='foreignkey')
        batch_op.drop_column('policy_version')
        batch_op.drop_column('panel_decision_id')
