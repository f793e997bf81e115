"""The local queue: messages with peek-locks, duplicate detection, and a dead-letter table.

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
        CREATE TABLE messages (
            sequence_number        bigserial PRIMARY KEY,
            queue                  text NOT NULL,
            message_id             text NOT NULL,
            subject                text NOT NULL,
            content_type           text NOT NULL,
            body                   bytea NOT NULL,
            application_properties jsonb NOT NULL DEFAULT '{}',
            enqueued_at            timestamptz NOT NULL DEFAULT now(),
            delivery_count         integer NOT NULL DEFAULT 0,
            lock_token             uuid UNIQUE,
            locked_until           timestamptz
        );
        CREATE INDEX messages_by_queue ON messages (queue, sequence_number);

        -- Service Bus duplicate detection: a message id seen within the window is dropped.
        CREATE TABLE seen_message_ids (
            queue      text NOT NULL,
            message_id text NOT NULL,
            seen_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (queue, message_id)
        );

        CREATE TABLE dead_letters (
            sequence_number        bigint PRIMARY KEY,
            queue                  text NOT NULL,
            message_id             text NOT NULL,
            subject                text NOT NULL,
            content_type           text NOT NULL,
            body                   bytea NOT NULL,
            application_properties jsonb NOT NULL,
            enqueued_at            timestamptz NOT NULL,
            delivery_count         integer NOT NULL,
            reason                 text NOT NULL,
            description            text NOT NULL DEFAULT '',
            dead_lettered_at       timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE dead_letters, seen_message_ids, messages")
