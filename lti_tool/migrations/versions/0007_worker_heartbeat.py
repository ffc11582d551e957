"""passback workers record a heartbeat, read by `lti-tool doctor`, /metrics and the alerts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_heartbeat',
    sa.Column('worker_id', sa.String(length=200), nullable=False),
    sa.Column('started_at', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeat'))
    )
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeat_last_seen_at'), ['last_seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_heartbeat_last_seen_at'))
    op.drop_table('worker_heartbeat')
