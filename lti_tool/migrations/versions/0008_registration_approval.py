"""registrations a tool admin approves: review_status on registrations, and single-use registration invitations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every registration that exists was made by a tool admin or accepted under the old rules: approved.
    with op.batch_alter_table('lti_registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_status', sa.String(length=20), server_default='approved',
                                      nullable=False))
    op.create_table('registration_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('datetime_created', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', lti_tool.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', lti_tool.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registration.id'],
                            name=op.f('fk_registration_invitation_registration_id_lti_registration'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_invitation_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('registration_invitation')
    with op.batch_alter_table('lti_registration', schema=None) as batch_op:
        batch_op.drop_column('review_status')
