"""outbox items that go before the rest of their lane (an incident's parent post)

Revision ID: outbox1
Revises: flood1
Create Date: 2026-11-24 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'outbox1'
down_revision = 'flood1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('urgent')
