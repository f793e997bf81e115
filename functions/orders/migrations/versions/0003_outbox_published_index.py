"""Index the published outbox rows by publication time, for the prune after each sweep.

Without it the prune (`published_at < now() - retention`) reads every published row kept for
the retention period — a million rows at a steady 2 orders/s for a week — on every sweep.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX outbox_published")
