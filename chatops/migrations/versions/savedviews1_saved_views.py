"""saved views per agent

Each agent's saved ticket filters for App Home and `/ticket views`, the agent's saved-views
state (defaults given once, the view Home shows), and an index that lets a view's count by
channel be read from the index alone.

Revision ID: savedviews1
Revises: inbound1
Create Date: 2026-12-04 02:15:00
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'savedviews1'
down_revision = 'inbound1'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'saved_views',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'name'),
    )
    op.create_index('ix_saved_views_user_id_position', 'saved_views', ['user_id', 'position'], unique=False)
    op.create_table(
        'saved_view_users',
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('seeded_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('shown_view_id', Id, nullable=True),
        sa.ForeignKeyConstraint(['shown_view_id'], ['saved_views.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_index('ix_tickets_channel_status', 'tickets', ['channel', 'status', 'priority'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tickets_channel_status', table_name='tickets')
    op.drop_table('saved_view_users')
    op.drop_index('ix_saved_views_user_id_position', table_name='saved_views')
    op.drop_table('saved_views')
