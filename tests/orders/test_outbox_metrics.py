"""The outbox gauges read the newest orders database that answers, and never an app's database
after the app stopped: reading it would reopen its pool (against a database that may be gone)
and wait out the pool timeout at every metrics scrape."""

from functions.orders import outbox_metrics
from functions.shared.db import Database
from tests.conftest import orders_settings


def test_a_closed_database_is_skipped_without_reopening_its_pool(orders_db: str, monkeypatch):
    monkeypatch.setattr(outbox_metrics, "_databases", [])
    live = Database(
        orders_settings(orders_db, "http://127.0.0.1:9", "https://127.0.0.1:9"), "outbox-live"
    )
    stopped = Database(
        orders_settings(orders_db, "http://127.0.0.1:9", "https://127.0.0.1:9"), "outbox-stopped"
    )
    try:
        outbox_metrics.observe_outbox(live)
        outbox_metrics.observe_outbox(stopped)  # the newest
        stopped.close()

        reading = outbox_metrics._newest_reading()
        assert reading[0] == outbox_metrics._read(live)[0]  # the backlog (the age moves on)
        assert stopped._pool is None  # not reopened
        assert outbox_metrics._databases == [live]
    finally:
        live.close()
