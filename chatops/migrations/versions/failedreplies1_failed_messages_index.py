"""failed replies are read without scanning every message

App Home lists the failed replies of an agent's tickets on every publish and /metrics counts them
on every scrape; this partial index holds only the failed outbound messages.

Revision ID: failedreplies1
Revises: horizon1
Create Date: 2026-12-02 17:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'failedreplies1'
down_revision = 'horizon1'
branch_labels = None
depends_on = None

FAILED = "delivery_state = 'failed'"


def upgrade() -> None:
    op.create_index('ix_messages_failed', 'messages', ['ticket_id'], unique=False,
                    sqlite_where=sa.text(FAILED), postgresql_where=sa.text(FAILED))


def downgrade() -> None:
    op.drop_index('ix_messages_failed', table_name='messages')
