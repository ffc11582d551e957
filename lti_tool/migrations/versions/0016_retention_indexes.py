"""retention index: the housekeeping round's retention looks for attempts by when they were last updated, which
scanned the table without an index on datetime_updated (users' and memberships' are left unindexed: every launch
rewrites them, and an index would make each of those updates write every index of the table)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TABLES = ('attempt',)


def upgrade() -> None:
    for table in TABLES:
        op.create_index(op.f(f'ix_{table}_datetime_updated'), table, ['datetime_updated'], unique=False)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(op.f(f'ix_{table}_datetime_updated'), table_name=table)
