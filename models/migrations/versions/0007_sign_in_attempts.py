"""sign-in attempts: the throttle's record of who tried to sign in, from where, and when

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempt'))
    )
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_username'), ['username'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_address'), ['address'], unique=False)


def downgrade() -> None:
    # Only the throttle's working data: nothing of record is lost.
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_address'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_username'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_at'))
    op.drop_table('sign_in_attempt')
