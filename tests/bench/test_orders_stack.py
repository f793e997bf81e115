"""The orders bench's stack: the raw transaction it times beside the checkout commits to a
database of its own, so the served orders app never sweeps and publishes its outbox rows (a
thousand per round, in the app whose checkouts are timed in the next round)."""

import psycopg

from bench import orders


def outbox_rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


def test_the_raw_transaction_commits_beside_the_served_apps_database_not_into_it():
    with orders._stack() as stack:
        _, transactions = orders._p50_raw(stack, seconds=0.2)

        assert transactions > 0
        assert outbox_rows(stack.raw_db) == transactions
        assert outbox_rows(stack.orders_db) == 0
