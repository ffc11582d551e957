"""attempt rules: how many times a learner may take an activity's test, which try an attempt is on, and when a
teacher last reset it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), nullable=True))
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tries', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('datetime_reset', lti_tool.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_column('datetime_reset')
        batch_op.drop_column('tries')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_column('max_attempts')
