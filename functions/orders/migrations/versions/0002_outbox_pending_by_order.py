"""Index the unpublished outbox rows by order, for the publish right after each checkout.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX outbox_pending_by_order ON outbox (order_id) WHERE published_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX outbox_pending_by_order")
