"""overdue-now counts read only the open tickets past a deadline

`/stats` and App Home count open tickets past their live SLA deadline on every call; with these
partial indexes (open and unanswered by first-response deadline; running by resolution deadline)
the count reads the overdue rows only, not every ticket ever opened.

Revision ID: overdue1
Revises: snapshot1
Create Date: 2026-12-02 12:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'overdue1'
down_revision = 'snapshot1'
branch_labels = None
depends_on = None

OPEN_UNANSWERED = "status <> 'resolved' AND first_response_at IS NULL"
RUNNING = "status NOT IN ('resolved', 'pending')"


def upgrade() -> None:
    op.create_index('ix_tickets_overdue_fr', 'tickets', ['first_response_due_at', 'priority'], unique=False,
                    sqlite_where=sa.text(OPEN_UNANSWERED), postgresql_where=sa.text(OPEN_UNANSWERED))
    op.create_index('ix_tickets_overdue_res', 'tickets', ['resolution_due_at', 'priority'], unique=False,
                    sqlite_where=sa.text(RUNNING), postgresql_where=sa.text(RUNNING))


def downgrade() -> None:
    op.drop_index('ix_tickets_overdue_res', table_name='tickets')
    op.drop_index('ix_tickets_overdue_fr', table_name='tickets')
