"""approvals: a new rule, rules_broken (an override that breaks a hard rule needs approval)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD = ('out_of_area', 'at_a_distance', 'over_20_miles', 'unregistered', 'emergency', 'cost_ceiling')
NEW = OLD + ('rules_broken',)


def _rule_type(values):
    return sa.Enum(*values, name='approvalrule', native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    # The rule column's CHECK constraint lists the codes: widen it (SQLite rebuilds the table).
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.alter_column('rule', existing_type=_rule_type(OLD), type_=_rule_type(NEW), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.alter_column('rule', existing_type=_rule_type(NEW), type_=_rule_type(OLD), existing_nullable=False)
