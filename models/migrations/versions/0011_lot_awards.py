"""tenders: the files of each tender evaluated (its definition, bids, scores and moderation, as
uploaded), and the lot awards made from them: the providers accepted on each lot, with the
prices they bid per tier, the beds they offered and their place in the lot's ranking

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = sa.Numeric(precision=10, scale=2, asdecimal=False)
    op.create_table('lot_award',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.String(length=40), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('price_score', sa.Float(), nullable=False),
    sa.Column('quality_score', sa.Float(), nullable=False),
    sa.Column('total_score', sa.Float(), nullable=False),
    sa.Column('capacity_beds', sa.Integer(), nullable=False),
    sa.Column('price_standard', money, nullable=True),
    sa.Column('price_enhanced', money, nullable=True),
    sa.Column('price_intensive', money, nullable=True),
    sa.CheckConstraint('capacity_beds >= 1', name=op.f('ck_lot_award_capacity')),
    sa.CheckConstraint('COALESCE(price_standard, 0) >= 0 AND COALESCE(price_enhanced, 0) >= 0 '
                       'AND COALESCE(price_intensive, 0) >= 0', name=op.f('ck_lot_award_prices_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_lot_award_lot_id_lot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_lot_award_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_award')),
    sa.UniqueConstraint('lot_id', 'provider_id', name=op.f('uq_lot_award_lot_id'))
    )
    with op.batch_alter_table('lot_award', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_award_lot_id'), ['lot_id'], unique=False)
    op.create_table('tender_evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tender_file', sa.String(length=200), nullable=False),
    sa.Column('tender_text', sa.Text(), nullable=False),
    sa.Column('bids_file', sa.String(length=200), nullable=False),
    sa.Column('bids_data', sa.LargeBinary(), nullable=False),
    sa.Column('scores_file', sa.String(length=200), nullable=False),
    sa.Column('scores_data', sa.LargeBinary(), nullable=False),
    sa.Column('moderation_file', sa.String(length=200), nullable=True),
    sa.Column('moderation_data', sa.LargeBinary(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('framework_id', sa.Integer(), nullable=True),
    sa.Column('awarded_by_id', sa.Integer(), nullable=True),
    sa.Column('awarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_tender_evaluation_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['framework_id'], ['framework.id'], name=op.f('fk_tender_evaluation_framework_id_framework')),
    sa.ForeignKeyConstraint(['awarded_by_id'], ['app_user.id'], name=op.f('fk_tender_evaluation_awarded_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tender_evaluation'))
    )


def downgrade() -> None:
    # The awards and the tenders' files go; the frameworks and lots they were made on stay.
    op.drop_table('tender_evaluation')
    with op.batch_alter_table('lot_award', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_award_lot_id'))
    op.drop_table('lot_award')
