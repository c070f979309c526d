"""sla clock, pages, on-call overrides, scheduler lease

Revision ID: sla1
Revises: 0003
Create Date: 2026-11-23 16:19:49.990125
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'sla1'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oncall_overrides',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oncall_overrides'))
    )
    with op.batch_alter_table('oncall_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oncall_overrides_schedule_ends_at'), ['schedule', 'ends_at'], unique=False)

    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=False),
    sa.Column('expires_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )
    op.create_table('pages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('policy', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('notified', sa.Integer(), nullable=False),
    sa.Column('last_target', sa.String(length=64), nullable=True),
    sa.Column('next_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledged_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('triggered', 'acknowledged', 'resolved')", name=op.f('ck_pages_status')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_pages_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pages')),
    sa.UniqueConstraint('reason', name=op.f('uq_pages_reason'))
    )
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pages_status_next_at'), ['status', 'next_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pages_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_response_warn_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution_warn_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_next_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_sla_next_at'), ['sla_next_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_sla_next_at'))
        batch_op.drop_column('sla_paused_at')
        batch_op.drop_column('sla_next_at')
        batch_op.drop_column('resolution_warn_at')
        batch_op.drop_column('first_response_warn_at')

    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pages_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_pages_status_next_at'))

    op.drop_table('pages')
    op.drop_table('scheduler_leases')
    with op.batch_alter_table('oncall_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oncall_overrides_schedule_ends_at'))

    op.drop_table('oncall_overrides')
