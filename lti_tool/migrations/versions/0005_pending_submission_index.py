"""partial index on pending score submissions per attempt (the worker's claim query)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('score_submission', schema=None) as batch_op:
        batch_op.create_index('ix_score_submission_pending_attempt', ['attempt_id'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    with op.batch_alter_table('score_submission', schema=None) as batch_op:
        batch_op.drop_index('ix_score_submission_pending_attempt')
