"""next-reply deadline: a customer writing again on an answered ticket waits on the next answer

Two moments like the first-response and resolution ones (warning and deadline), set while the
customer waits; a partial index lets overdue-now counts read only the running tickets past it.

Revision ID: next1
Revises: overdue1
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'next1'
down_revision = 'overdue1'
branch_labels = None
depends_on = None

RUNNING = "status NOT IN ('resolved', 'pending')"


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_response_warn_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_response_due_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_tickets_overdue_next', 'tickets', ['next_response_due_at', 'priority'], unique=False,
                    sqlite_where=sa.text(RUNNING), postgresql_where=sa.text(RUNNING))


def downgrade() -> None:
    op.drop_index('ix_tickets_overdue_next', table_name='tickets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('next_response_due_at')
        batch_op.drop_column('next_response_warn_at')
