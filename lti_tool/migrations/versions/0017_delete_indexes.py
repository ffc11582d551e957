"""indexes for deleting users and results: a privacy deletion or a retention round deletes users and attempts,
and the database's cascades looked each one's rows up by a column without an index (attempt.user_id,
lti_membership.user_id, score_submission.result_id), one scan of the table per deleted row

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

INDEXES = (('attempt', 'user_id'), ('lti_membership', 'user_id'), ('score_submission', 'result_id'))


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
