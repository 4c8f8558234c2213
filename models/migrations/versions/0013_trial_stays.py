"""trial stays: a few nights at a proposed home before the placement starts (trial_stay)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

STATUSES = ('booked', 'cancelled')


def upgrade() -> None:
    op.create_table('trial_stay',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.String(length=40), nullable=False),
    sa.Column('vacancy_id', sa.String(length=40), nullable=False),
    sa.Column('property_id', sa.String(length=40), nullable=False),
    sa.Column('proposed_match_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('nights', sa.Integer(), nullable=False),
    sa.Column('nightly_cost', sa.Numeric(precision=10, scale=2, asdecimal=False), nullable=False),
    sa.Column('status', sa.Enum(*STATUSES, name='trialstatus', native_enum=False, create_constraint=True, length=32),
              nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=2000), nullable=True),
    sa.CheckConstraint('nights BETWEEN 1 AND 14', name=op.f('ck_trial_stay_nights_in_range')),
    sa.CheckConstraint('nightly_cost >= 0', name=op.f('ck_trial_stay_nightly_cost_not_negative')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_trial_stay_referral_id_referral'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vacancy_id'], ['vacancy.id'], name=op.f('fk_trial_stay_vacancy_id_vacancy'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['property_id'], ['property.id'], name=op.f('fk_trial_stay_property_id_property'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposed_match_id'], ['proposed_match.id'],
                            name=op.f('fk_trial_stay_proposed_match_id_proposed_match'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booked_by_id'], ['app_user.id'], name=op.f('fk_trial_stay_booked_by_id_app_user')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['app_user.id'],
                            name=op.f('fk_trial_stay_cancelled_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trial_stay'))
    )
    with op.batch_alter_table('trial_stay', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trial_stay_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index('uq_trial_stay_one_booked', ['referral_id'], unique=True,
                              sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))


def downgrade() -> None:
    op.drop_table('trial_stay')
