"""A ticket can follow the customer's earlier ticket: a message long after that one was resolved
opens a new ticket linked to it instead of reopening it (rules.yaml `threading.reopen_days`).

Revision ID: horizon1
Revises: next1
"""

import sqlalchemy as sa
from alembic import op

revision = 'horizon1'
down_revision = 'next1'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add tickets.follows_ticket_id (nullable, indexed: `tickets show` looks up the continuation)."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("follows_ticket_id", _ID, nullable=True))
        batch.create_foreign_key("fk_tickets_follows_ticket_id_tickets", "tickets", ["follows_ticket_id"], ["id"])
        batch.create_index("ix_tickets_follows_ticket_id", ["follows_ticket_id"], unique=False)


def downgrade() -> None:
    """Drop the link."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_follows_ticket_id")
        batch.drop_constraint("fk_tickets_follows_ticket_id_tickets", type_="foreignkey")
        batch.drop_column("follows_ticket_id")
