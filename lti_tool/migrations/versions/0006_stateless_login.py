"""stateless OIDC login: drop lti_login_state; launches record their login id, once (unique)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Logins in progress during the upgrade fail once ("open the activity again"): their state was in this table.
    with op.batch_alter_table('lti_login_state', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_login_state_expires_at')
    op.drop_table('lti_login_state')
    with op.batch_alter_table('lti_launch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_lti_launch_login_id', ['login_id'])


def downgrade() -> None:
    with op.batch_alter_table('lti_launch', schema=None) as batch_op:
        batch_op.drop_constraint('uq_lti_launch_login_id', type_='unique')
        batch_op.drop_column('login_id')
    op.create_table('lti_login_state',
    sa.Column('state', sa.String(length=100), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('login_params', sa.JSON(), nullable=False),
    sa.Column('expires_at', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registration.id'], name='fk_lti_login_state_registration_id_lti_registration', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state', name='pk_lti_login_state')
    )
    with op.batch_alter_table('lti_login_state', schema=None) as batch_op:
        batch_op.create_index('ix_lti_login_state_expires_at', ['expires_at'], unique=False)
