"""Delivery state of outbound replies: queued, sent (accepted by the network) or failed.

Revision ID: replies1
Revises: ingest1
"""

import sqlalchemy as sa
from alembic import op

revision = 'replies1'
down_revision = 'ingest1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the delivery columns to messages."""
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("delivery_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the delivery columns."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery_error")
        batch.drop_column("delivery_state")
