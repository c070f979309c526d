"""flood (炎上) incidents, per-key counters and hits

Revision ID: flood1
Revises: stats1
Create Date: 2026-11-23 19:16:15.398638
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'flood1'
down_revision = 'stats1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flood_counts',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('next_check', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'bucket', name=op.f('pk_flood_counts'))
    )
    op.create_table('flood_hits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('negative', sa.Boolean(), nullable=False),
    sa.Column('at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flood_hits'))
    )
    with op.batch_alter_table('flood_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flood_hits_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_flood_hits_key_at'), ['key', 'at'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('open_key', sa.String(length=255), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('opened_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_incidents_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('open_key', name=op.f('uq_incidents_open_key'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_key_closed_at'), ['key', 'closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_incidents_key_closed_at'))

    op.drop_table('incidents')
    with op.batch_alter_table('flood_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flood_hits_key_at'))
        batch_op.drop_index(batch_op.f('ix_flood_hits_at'))

    op.drop_table('flood_hits')
    op.drop_table('flood_counts')
