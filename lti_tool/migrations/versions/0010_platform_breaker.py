"""passback circuit breaker per registration; each queued score keeps the timestamp of its first attempt

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('platform_breaker',
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', lti_tool.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', lti_tool.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('probe_at', lti_tool.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('probes', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_http_status', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registration.id'],
                            name=op.f('fk_platform_breaker_registration_id_lti_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('registration_id', name=op.f('pk_platform_breaker'))
    )
    with op.batch_alter_table('score_submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_timestamp', lti_tool.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('score_submission', schema=None) as batch_op:
        batch_op.drop_column('score_timestamp')
    op.drop_table('platform_breaker')
