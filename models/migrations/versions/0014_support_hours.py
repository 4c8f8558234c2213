"""floating support sized in hours: a vacancy's free support hours a week (vacancy.support_hours)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vacancy') as batch:
        batch.add_column(sa.Column('support_hours', sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f('ck_vacancy_support_hours_in_range'),
                                      'support_hours IS NULL OR support_hours BETWEEN 1 AND 1000')


def downgrade() -> None:
    with op.batch_alter_table('vacancy') as batch:
        batch.drop_constraint(op.f('ck_vacancy_support_hours_in_range'), type_='check')
        batch.drop_column('support_hours')
