"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:39:21.241030
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_user_id', sa.String(length=255), nullable=False),
    sa.Column('handle', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('linked_to_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('first_seen_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("tier IN ('standard', 'premium')", name=op.f('ck_customers_tier')),
    sa.ForeignKeyConstraint(['linked_to_id'], ['customers.id'], name=op.f('fk_customers_linked_to_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('source', 'external_user_id', name=op.f('uq_customers_source_external_user_id'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('channel', sa.String(length=80), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=True),
    sa.Column('matched_rules', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('notify', sa.JSON(), nullable=False),
    sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_customer_message_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_response_due_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('csat_score', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("level IN ('L1', 'L2', 'L3')", name=op.f('ck_tickets_level')),
    sa.CheckConstraint("priority IN ('red', 'orange', 'green')", name=op.f('ck_tickets_priority')),
    sa.CheckConstraint("status IN ('new', 'open', 'pending', 'resolved')", name=op.f('ck_tickets_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tickets_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_tickets_source_external_id'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_assignee_status'), ['assignee', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_customer_id_account_last_customer_message_at'), ['customer_id', 'account', 'last_customer_message_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_source_account_conversation_id'), ['source', 'account', 'conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status_priority_created_at'), ['status', 'priority', 'created_at'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('in_reply_to', sa.String(length=255), nullable=True),
    sa.Column('author_id', sa.String(length=255), nullable=True),
    sa.Column('author_handle', sa.String(length=255), nullable=True),
    sa.Column('author_name', sa.String(length=255), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('lang', sa.String(length=8), nullable=True),
    sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('inbound', 'outbound', 'note')", name=op.f('ck_messages_direction')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_messages_customer_id_customers')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_messages_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('direction', 'source', 'external_id', name=op.f('uq_messages_direction_source_external_id'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_source_conversation_id'), ['source', 'conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_source_external_id'), ['source', 'external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_ticket_id_created_at'), ['ticket_id', 'created_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('ordering_key', sa.String(length=255), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', chatops.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'done', 'dead')", name=op.f('ck_outbox_state')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_outbox_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_ordering_key_id'), ['ordering_key', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_state_next_attempt_at'), ['state', 'next_attempt_at'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('at', chatops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_kind_at'), ['kind', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id_id'), ['ticket_id', 'id'], unique=False)

    op.create_table('ticket_tags',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_tags_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'tag', name=op.f('pk_ticket_tags'))
    )
    with op.batch_alter_table('ticket_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_tags_tag_ticket_id'), ['tag', 'ticket_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('ticket_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_tags_tag_ticket_id'))

    op.drop_table('ticket_tags')
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_events_kind_at'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_state_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_ordering_key_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_ticket_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_messages_source_external_id'))
        batch_op.drop_index(batch_op.f('ix_messages_source_conversation_id'))

    op.drop_table('messages')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_status_priority_created_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_source_account_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_customer_id_account_last_customer_message_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_created_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_assignee_status'))

    op.drop_table('tickets')
    op.drop_table('customers')

