"""surface threads, outbox lanes, seen deliveries, integration state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:17:15.324118
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=True))

    op.create_table('integration_state',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_integration_state'))
    )
    op.create_table('outbox_lanes',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('not_before', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_outbox_lanes'))
    )
    op.create_table('seen_deliveries',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('seen_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_seen_deliveries'))
    )
    with op.batch_alter_table('seen_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_deliveries_seen_at'), ['seen_at'], unique=False)

    op.create_table('surface_threads',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=80), nullable=False),
    sa.Column('ts', sa.String(length=64), nullable=False),
    sa.Column('posted_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_surface_threads_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'surface', name=op.f('pk_surface_threads')),
    sa.UniqueConstraint('surface', 'channel', 'ts', name=op.f('uq_surface_threads_surface_channel_ts'))
    )



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('meta')

    op.drop_table('surface_threads')
    with op.batch_alter_table('seen_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_deliveries_seen_at'))

    op.drop_table('seen_deliveries')
    op.drop_table('outbox_lanes')
    op.drop_table('integration_state')

