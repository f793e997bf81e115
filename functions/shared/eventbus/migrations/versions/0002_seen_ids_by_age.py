"""Index the seen message ids by age, for the scheduled prune of the duplicate-detection table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX seen_message_ids_by_age ON seen_message_ids (queue, seen_at)")


def downgrade() -> None:
    op.execute("DROP INDEX seen_message_ids_by_age")
