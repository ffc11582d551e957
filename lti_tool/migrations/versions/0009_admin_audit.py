"""admin audit log and login throttle: who changed what on the admin pages; failed logins shared by all processes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('datetime_created', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=500), nullable=False),
    sa.Column('actor_issuer', sa.String(length=500), nullable=True),
    sa.Column('actor_registration_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('remote_addr', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit_entry'))
    )
    with op.batch_alter_table('admin_audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_admin_audit_entry_registration', ['registration_id', 'id'], unique=False)
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', lti_tool.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lockouts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )


def downgrade() -> None:
    op.drop_table('login_throttle')
    with op.batch_alter_table('admin_audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_audit_entry_registration')
    op.drop_table('admin_audit_entry')
