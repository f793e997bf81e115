"""Carts, orders, order items, the transactional outbox and idempotency keys.

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
        CREATE TABLE carts (
            user_id    text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 255),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE cart_items (
            user_id    text NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
            product_id text NOT NULL CHECK (product_id ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
            quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
            added_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, product_id)
        );

        CREATE TABLE orders (
            id         uuid PRIMARY KEY,
            user_id    text NOT NULL,
            status     text NOT NULL CHECK (status IN ('placed')),
            currency   char(3) NOT NULL,
            total      numeric(12, 2) NOT NULL CHECK (total >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX orders_by_user_newest ON orders (user_id, created_at DESC, id DESC);

        CREATE TABLE order_items (
            order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            product_id text NOT NULL,
            name       text NOT NULL,
            unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
            quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
            PRIMARY KEY (order_id, product_id)
        );

        -- Written in the checkout transaction; the relay publishes and marks rows, never deletes
        -- them before the retention period.
        CREATE TABLE outbox (
            event_id        uuid PRIMARY KEY,
            event_type      text NOT NULL,
            order_id        uuid NOT NULL REFERENCES orders (id),
            payload         jsonb NOT NULL,
            trace_context   jsonb NOT NULL DEFAULT '{}',
            created_at      timestamptz NOT NULL DEFAULT now(),
            published_at    timestamptz,
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error      text
        );
        CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE published_at IS NULL;

        CREATE TABLE idempotency_keys (
            user_id          text NOT NULL,
            key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
            cart_fingerprint text NOT NULL,
            order_id         uuid NOT NULL REFERENCES orders (id),
            created_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, key)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys, outbox, order_items, orders, cart_items, carts")
