"""the Teams bot's conversation references and ticket threads

The bot posts proactively (a ticket's card into its channel, a page into a person's chat), which
needs the conversation and the Bot Connector serviceUrl stored when the bot was installed; each
ticket's card is updated in place, which needs its thread and activity id.

Revision ID: botcore1
Revises: failedreplies1
Create Date: 2026-12-04 01:40:00
"""

import sqlalchemy as sa
from alembic import op

from chatops.db import UTCDateTime

revision = 'botcore1'
down_revision = 'failedreplies1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'bot_conversations',
        sa.Column('id', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('service_url', sa.String(length=512), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=True),
        sa.Column('team_id', sa.String(length=255), nullable=True),
        sa.Column('channel_id', sa.String(length=255), nullable=True),
        sa.Column('user_aad', sa.String(length=64), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_conversations')),
    )
    op.create_index(op.f('ix_bot_conversations_channel_id'), 'bot_conversations', ['channel_id'], unique=False)
    op.create_index(op.f('ix_bot_conversations_user_aad'), 'bot_conversations', ['user_aad'], unique=False)
    op.create_table(
        'bot_threads',
        sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('conversation_id', sa.String(length=255), nullable=False),
        sa.Column('activity_id', sa.String(length=255), nullable=False),
        sa.Column('service_url', sa.String(length=512), nullable=False),
        sa.Column('posted_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_bot_threads_ticket_id_tickets'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_bot_threads')),
    )


def downgrade() -> None:
    op.drop_table('bot_threads')
    op.drop_index(op.f('ix_bot_conversations_user_aad'), table_name='bot_conversations')
    op.drop_index(op.f('ix_bot_conversations_channel_id'), table_name='bot_conversations')
    op.drop_table('bot_conversations')
