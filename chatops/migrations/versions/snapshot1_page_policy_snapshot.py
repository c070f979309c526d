"""pages keep the escalation policy they opened with; scheduler pass/item failures are recorded

A rules.yaml edit used to change every open page's steps (and could point a page past its
policy's last step); a failing item used to roll back the whole scheduler batch, silently.

Revision ID: snapshot1
Revises: replies1
Create Date: 2026-12-02 12:20:00
"""

import sqlalchemy as sa
from alembic import op

from chatops.db import UTCDateTime

revision = 'snapshot1'
down_revision = 'replies1'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_snapshot', sa.JSON(), nullable=True))
    op.create_table(
        'scheduler_errors',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('pass_name', sa.String(32), nullable=False),
        sa.Column('item', sa.String(64), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(500), nullable=False),
        sa.Column('first_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_at', UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('pass_name', 'item', name=op.f('uq_scheduler_errors_pass_name_item')),
    )


def downgrade() -> None:
    op.drop_table('scheduler_errors')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('policy_snapshot')
