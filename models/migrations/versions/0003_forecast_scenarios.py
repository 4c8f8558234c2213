"""forecast scenarios: named what-if changes to the sufficiency forecast

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('forecast_scenario',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('adjustments', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_forecast_scenario_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_scenario')),
    sa.UniqueConstraint('name', name=op.f('uq_forecast_scenario_name'))
    )


def downgrade() -> None:
    op.drop_table('forecast_scenario')
