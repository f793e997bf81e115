"""Server-side sessions: an opaque id's hash, JSON data, a sliding expiry.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ui_sessions (
            sid_hash   bytea PRIMARY KEY CHECK (octet_length(sid_hash) = 32),
            data       jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        );
        CREATE INDEX ui_sessions_expires_at ON ui_sessions (expires_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ui_sessions")
