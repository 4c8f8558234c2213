"""the market's answers: referrals sent to providers and their offers or declines
(referral_request); provider staff as users bound to their provider (app_user.provider_id,
role 'provider')

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_ROLES = ('panel_member', 'commissioner', 'service_manager', 'head_of_service', 'director', 'admin')
NEW_ROLES = OLD_ROLES + ('provider',)
TIERS = ('standard', 'enhanced', 'intensive')
STATUSES = ('sent', 'offered', 'declined')
REASONS = ('no_vacancy', 'needs_not_met', 'risks_not_manageable', 'resident_mix', 'area_not_covered', 'start_date',
           'price', 'other')
BOUND = "(role = 'provider') = (provider_id IS NOT NULL)"


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    money = sa.Numeric(precision=10, scale=2, asdecimal=False)
    # The role column's CHECK constraint lists the codes: widen it (SQLite rebuilds the table).
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=_enum(OLD_ROLES, 'role'), type_=_enum(NEW_ROLES, 'role'),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('provider_id', sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_app_user_provider_id_provider'), 'provider', ['provider_id'],
                                    ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint(op.f('ck_app_user_provider_staff_bound_to_their_provider'), BOUND)
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=_enum(OLD_ROLES, 'role'), type_=_enum(NEW_ROLES, 'role'),
                              existing_nullable=False)
    op.create_table('referral_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.String(length=40), nullable=False),
    sa.Column('provider_id', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('status', _enum(STATUSES, 'requeststatus'), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('decline_reason', _enum(REASONS, 'declinereason'), nullable=True),
    sa.Column('decline_note', sa.String(length=500), nullable=True),
    sa.Column('vacancy_id', sa.String(length=40), nullable=True),
    sa.Column('offered_tier', _enum(TIERS, 'tier'), nullable=True),
    sa.Column('offered_weekly_price', money, nullable=True),
    sa.Column('offered_start', sa.Date(), nullable=True),
    sa.CheckConstraint('offered_weekly_price IS NULL OR offered_weekly_price > 0',
                       name=op.f('ck_referral_request_offer_price_positive')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_request_referral_id_referral'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_referral_request_provider_id_provider'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['app_user.id'], name=op.f('fk_referral_request_sent_by_id_app_user')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['app_user.id'],
                            name=op.f('fk_referral_request_answered_by_id_app_user')),
    sa.ForeignKeyConstraint(['vacancy_id'], ['vacancy.id'], name=op.f('fk_referral_request_vacancy_id_vacancy'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_request')),
    sa.UniqueConstraint('referral_id', 'provider_id', name=op.f('uq_referral_request_referral_id'))
    )
    with op.batch_alter_table('referral_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_request_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_request_provider_id'), ['provider_id'], unique=False)


def downgrade() -> None:
    op.drop_table('referral_request')
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=_enum(NEW_ROLES, 'role'), type_=_enum(OLD_ROLES, 'role'),
                              existing_nullable=False)
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_app_user_provider_staff_bound_to_their_provider'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_app_user_provider_id_provider'), type_='foreignkey')
        batch_op.drop_column('provider_id')
        batch_op.alter_column('role', existing_type=_enum(NEW_ROLES, 'role'), type_=_enum(OLD_ROLES, 'role'),
                              existing_nullable=False)
