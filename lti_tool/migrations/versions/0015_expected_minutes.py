"""what the learner reads before the test: about how many minutes the teacher says it takes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activity') as batch_op:
        batch_op.add_column(sa.Column('expected_minutes', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('activity') as batch_op:
        batch_op.drop_column('expected_minutes')
