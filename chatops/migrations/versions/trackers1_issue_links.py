"""tracker issues linked to tickets

A Jira or GitHub issue created from a ticket is stored with its key, so the tracker's webhook
finds the ticket it belongs to and the ticket's views list its issues.

Revision ID: trackers1
Revises: botcore1
Create Date: 2026-12-04 01:45:00
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'trackers1'
down_revision = 'botcore1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'issue_links',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('tracker', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name='state'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tracker', 'key'),
    )
    op.create_index('ix_issue_links_ticket_id', 'issue_links', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_issue_links_ticket_id', table_name='issue_links')
    op.drop_table('issue_links')
