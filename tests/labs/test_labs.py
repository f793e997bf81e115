"""Every local failure lab (labs/) run as a specification of its expected outcome: counts before
and after, every order with its full timeline once the fault clears, dead letters exactly as
expected. One private stack serves all labs; each lab heals its own fault and compares counts
relative to its own `before`."""

from collections.abc import Iterator

import pytest

from labs import (
    backlog_burst,
    bus_down,
    catalog_down,
    cosmos_down,
    cosmos_throttled,
    duplicate_delivery,
    poison_message,
    postgres_down_catalog,
    postgres_down_orders,
    worker_killed,
)
from labs.stack import TIMELINE, Counts, Stack, quiet, running


@pytest.fixture(scope="module")
def lab() -> Iterator[Stack]:
    with running(lock_seconds=2) as stack:
        yield stack


def assert_nothing_lost(before: Counts, after: Counts, new_orders: int) -> None:
    assert after.orders == before.orders + new_orders
    assert after.complete_timelines == after.orders  # no order without its full timeline
    assert after.timeline_events == after.orders * len(TIMELINE)
    assert after.queued == 0
    assert after.dead_letters == before.dead_letters


def test_postgres_down_for_catalog_gives_503s_and_recovers_without_restart(lab: Stack):
    result = postgres_down_catalog.run(lab, quiet)

    assert result.seen["product_status"] == 503
    assert result.seen["retry_after"] == "5"
    assert result.seen["ready_status"] == 503
    assert result.seen["ready_checks"] == {"database": "unavailable"}
    assert result.seen["checkout_during"] == 503
    assert result.seen["recovered"] is True
    assert result.seen["checkout_after"] == 201
    assert_nothing_lost(result.before, result.after, new_orders=1)


def test_postgres_down_for_orders_creates_no_half_orders(lab: Stack):
    result = postgres_down_orders.run(lab, quiet)

    assert result.seen["cart_during"] == 503
    assert result.seen["checkout_during"] == 503
    assert result.seen["ready_during"] == 503
    assert result.seen["orders_during"] == result.before.orders
    assert result.seen["checkout_after"] == 201
    assert_nothing_lost(result.before, result.after, new_orders=1)


def test_catalog_down_at_checkout_keeps_the_cart_for_a_later_checkout(lab: Stack):
    result = catalog_down.run(lab, quiet)

    assert result.seen["added"] == 200
    assert result.seen["checkout_during"] == 503
    assert result.seen["orders_during"] == result.before.orders
    assert result.seen["checkout_after"] == 201
    assert_nothing_lost(result.before, result.after, new_orders=1)


def test_cosmos_down_takes_orders_and_fills_timelines_once_it_is_back(lab: Stack):
    result = cosmos_down.run(lab, quiet)

    assert result.seen["checkouts_during"] == [201, 201, 201]
    assert result.seen["page_during"] == 200
    assert result.seen["timeline_available_during"] is False
    assert result.seen["queued_during"] == 3
    assert result.seen["dead_letters_during"] == result.before.dead_letters
    assert_nothing_lost(result.before, result.after, new_orders=3)


def test_cosmos_throttling_delays_timelines_and_loses_nothing(lab: Stack):
    result = cosmos_throttled.run(lab, quiet)

    assert result.seen["checkouts_during"] == [201, 201, 201]
    assert result.seen["throttled"] >= 4  # 429s really reached the worker's client
    assert result.seen["complete_during"] == 0
    assert result.seen["dead_letters_during"] == result.before.dead_letters  # 429 is transient
    assert_nothing_lost(result.before, result.after, new_orders=3)


def test_bus_down_holds_events_in_the_outbox_then_drains(lab: Stack):
    result = bus_down.run(lab, quiet)

    assert result.seen["checkouts_during"] == [201, 201, 201]
    assert result.seen["held_in_outbox"] == 3
    assert result.seen["complete_during"] == result.before.complete_timelines
    assert result.seen["unpublished_after"] == 0
    assert_nothing_lost(result.before, result.after, new_orders=3)


def test_a_poison_message_is_dead_lettered_with_its_reason_then_purged(lab: Stack):
    result = poison_message.run(lab, quiet)

    assert result.seen["reason"] == "UnsupportedVersion"
    assert result.seen["description"] == "version 2 is not 1"
    assert result.seen["delivery_count"] == 1  # poison is not retried
    assert result.seen["dead_letters_during"] == result.before.dead_letters + 1
    assert result.seen["purged"] == 1
    assert_nothing_lost(result.before, result.after, new_orders=1)


def test_duplicate_deliveries_add_no_timeline_events(lab: Stack):
    result = duplicate_delivery.run(lab, quiet)

    assert result.seen["drained"] is True
    assert result.seen["timeline"] == TIMELINE
    assert_nothing_lost(result.before, result.after, new_orders=0)


def test_a_worker_killed_mid_message_loses_nothing(lab: Stack):
    result = worker_killed.run(lab, quiet)

    assert result.seen["first_delivery"] == 1
    assert result.seen["timeline_during"] == result.before.complete_timelines
    assert_nothing_lost(result.before, result.after, new_orders=1)


@pytest.mark.slow
def test_a_backlog_burst_is_drained_by_several_worker_processes(lab: Stack):
    result = backlog_burst.run(lab, quiet, orders=8, processes=2)

    assert result.seen["queued_during"] == 8
    assert result.seen["peak_replicas"] > 1  # the KEDA replay scales out for the burst
    assert result.seen["peak_replicas"] <= result.seen["max_replicas"]
    assert result.seen["drained_second"] is not None
    assert_nothing_lost(result.before, result.after, new_orders=8)
