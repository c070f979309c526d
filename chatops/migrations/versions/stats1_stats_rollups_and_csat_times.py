"""stats rollups and csat times

Revision ID: stats1
Revises: sla1
Create Date: 2026-11-23 16:18:38.097723
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'stats1'
down_revision = 'sla1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stats_daily',
    sa.Column('fdim', sa.String(length=16), nullable=False),
    sa.Column('fval', sa.String(length=80), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('gdim', sa.String(length=16), nullable=False),
    sa.Column('gval', sa.String(length=80), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('fr_count', sa.Integer(), nullable=False),
    sa.Column('fr_sum', sa.Integer(), nullable=False),
    sa.Column('fr_met', sa.Integer(), nullable=False),
    sa.Column('fr_breached', sa.Integer(), nullable=False),
    sa.Column('res_sum', sa.Integer(), nullable=False),
    sa.Column('res_met', sa.Integer(), nullable=False),
    sa.Column('res_breached', sa.Integer(), nullable=False),
    sa.Column('esc_l2', sa.Integer(), nullable=False),
    sa.Column('esc_l3', sa.Integer(), nullable=False),
    sa.Column('csat_requested', sa.Integer(), nullable=False),
    sa.Column('csat_count', sa.Integer(), nullable=False),
    sa.Column('csat_sum', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('fdim', 'fval', 'day', 'gdim', 'gval', name=op.f('pk_stats_daily')),
    sqlite_with_rowid=False,
    )
    op.create_table('stats_durations',
    sa.Column('fdim', sa.String(length=16), nullable=False),
    sa.Column('fval', sa.String(length=80), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=4), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('fdim', 'fval', 'day', 'metric', 'minutes', name=op.f('pk_stats_durations')),
    sqlite_with_rowid=False,
    )
    op.create_table('stats_facts',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=80), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('created_day', sa.Integer(), nullable=False),
    sa.Column('fr_day', sa.Integer(), nullable=True),
    sa.Column('fr_wall', sa.Integer(), nullable=True),
    sa.Column('fr_business', sa.Integer(), nullable=True),
    sa.Column('fr_sla', sa.Integer(), nullable=True),
    sa.Column('res_day', sa.Integer(), nullable=True),
    sa.Column('res_wall', sa.Integer(), nullable=True),
    sa.Column('res_business', sa.Integer(), nullable=True),
    sa.Column('res_sla', sa.Integer(), nullable=True),
    sa.Column('csat_requested_day', sa.Integer(), nullable=True),
    sa.Column('csat_day', sa.Integer(), nullable=True),
    sa.Column('csat_score', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_stats_facts_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_stats_facts'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('csat_requested_at', chatops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('csat_rated_at', chatops.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('csat_rated_at')
        batch_op.drop_column('csat_requested_at')

    op.drop_table('stats_facts')
    op.drop_table('stats_durations')
    op.drop_table('stats_daily')
