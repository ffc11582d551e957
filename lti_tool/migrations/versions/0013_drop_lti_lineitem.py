"""drop lti_lineitem: the tool keeps a link's column URL on the link itself; the table was never written

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('lti_lineitem')


def downgrade() -> None:
    op.create_table('lti_lineitem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=True),
    sa.Column('score_maximum', sa.Double(), nullable=True),
    sa.Column('resource_id', sa.String(length=500), nullable=True),
    sa.Column('tag', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['context_id'], ['lti_context.id'], name=op.f('fk_lti_lineitem_context_id_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_link.id'], name=op.f('fk_lti_lineitem_resource_link_id_lti_resource_link'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_lineitem')),
    sa.UniqueConstraint('context_id', 'url', name='uq_lti_lineitem_per_context')
    )
