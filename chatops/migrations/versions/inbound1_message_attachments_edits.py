"""inbound messages keep their media and know when the customer edited or deleted them

A JSON list of attachments (type, url, alt, ref, name) and two moments, edited and deleted,
on messages; the text before an edit is kept in the `message_edited` ticket event.

Revision ID: inbound1
Revises: lifecycle1
Create Date: 2026-12-04 01:40:00
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'inbound1'
down_revision = 'lifecycle1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('edited_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', chatops.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('edited_at')
        batch_op.drop_column('attachments')
