"""the audit log of customer-level actions, and customers found by handle

`audit_events` records linking, unlinking, export, erasure and retention passes (actions on
customers, not on one ticket); the handle index lets ingest's link suggestion look up the same
handle on other networks, and the linked_to_id index finds a record's linked records, without
scanning every customer.

Revision ID: lifecycle1
Revises: trackers1
Create Date: 2026-12-04 02:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatops.db

revision = 'lifecycle1'
down_revision = 'trackers1'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'audit_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('at', chatops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('customer_id', ID, nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_audit_events_customer_id_customers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    op.create_index(op.f('ix_audit_events_at'), 'audit_events', ['at'], unique=False)
    op.create_index(op.f('ix_audit_events_customer_id'), 'audit_events', ['customer_id'], unique=False)
    op.create_index(op.f('ix_customers_handle'), 'customers', ['handle'], unique=False)
    op.create_index(op.f('ix_customers_linked_to_id'), 'customers', ['linked_to_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_customers_linked_to_id'), table_name='customers')
    op.drop_index(op.f('ix_customers_handle'), table_name='customers')
    op.drop_index(op.f('ix_audit_events_customer_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_at'), table_name='audit_events')
    op.drop_table('audit_events')
