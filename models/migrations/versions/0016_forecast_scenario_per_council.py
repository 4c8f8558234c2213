"""forecast scenarios named per council: two councils may each keep a what-if called
"Baseline"; the region's own names stay unique among the region's.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

REGION_ONLY = sa.text('council_code IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('forecast_scenario') as batch:
        batch.drop_constraint(op.f('uq_forecast_scenario_name'), type_='unique')
        batch.create_unique_constraint(op.f('uq_forecast_scenario_council_code'), ['council_code', 'name'])
    # NULLs are distinct in a unique constraint, so the region's names need an index of their own.
    op.create_index('uq_forecast_scenario_region_name', 'forecast_scenario', ['name'], unique=True,
                    sqlite_where=REGION_ONLY, postgresql_where=REGION_ONLY)


def downgrade() -> None:
    op.drop_index('uq_forecast_scenario_region_name', table_name='forecast_scenario')
    with op.batch_alter_table('forecast_scenario') as batch:
        batch.drop_constraint(op.f('uq_forecast_scenario_council_code'), type_='unique')
        batch.create_unique_constraint(op.f('uq_forecast_scenario_name'), ['name'])
