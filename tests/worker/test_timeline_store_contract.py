"""The in-memory timeline store of tests/unit keeps the promises of the Cosmos one: the same
expectations run against both (Cosmos through the stand-in and the real azure-cosmos SDK), so a
unit test that passes on the fake describes what the worker does against Cosmos."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dev.cosmos import launcher as local_cosmos
from dev.cosmos.launcher import LocalCosmos
from functions.shared.timeline_store import CosmosTimelineStore, NewEvent, TimelineStore
from tests.conftest import cosmos_settings
from tests.unit.fakes import InMemoryTimelineStore

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["in-memory", "cosmos", "cosmos-batch"])
def store(request: pytest.FixtureRequest) -> TimelineStore:
    if request.param == "in-memory":
        return InMemoryTimelineStore()
    cosmos: LocalCosmos = request.getfixturevalue("cosmos")
    batch = request.param == "cosmos-batch"  # transactional batches, as in Azure
    return CosmosTimelineStore(cosmos_settings(cosmos, batch_writes=batch))


def test_an_event_is_written_once_per_order_and_type(store: TimelineStore):
    order = str(uuid.uuid4())

    assert store.add(order, "OrderPlaced", T0, {"n": 1}) is True
    assert store.add(order, "OrderPlaced", T0 + timedelta(seconds=1), {"n": 2}) is False

    assert store.events(order) == [
        {"type": "OrderPlaced", "occurredAt": T0.isoformat(), "data": {"n": 1}}
    ]


def test_events_come_back_oldest_first_and_only_the_orders_own(store: TimelineStore):
    order, other = str(uuid.uuid4()), str(uuid.uuid4())
    store.add(order, "OrderConfirmed", T0 + timedelta(seconds=2), {})
    store.add(order, "OrderPlaced", T0, {"total": "1.00"})
    store.add(other, "OrderPlaced", T0 + timedelta(seconds=1), {})

    assert [e["type"] for e in store.events(order)] == ["OrderPlaced", "OrderConfirmed"]
    assert store.events(str(uuid.uuid4())) == []


def test_times_are_kept_in_utc_and_events_come_back_by_instant(store: TimelineStore):
    """A time read from Postgres comes in the session's zone (republish): 03:30+01:00 is
    before 02:45 UTC, though its text sorts after it."""
    order = str(uuid.uuid4())
    store.add(order, "OrderConfirmed", datetime(2026, 1, 2, 2, 45, tzinfo=UTC), {})
    store.add(
        order, "OrderPlaced", datetime(2026, 1, 2, 3, 30, tzinfo=timezone(timedelta(hours=1))), {}
    )

    assert store.events(order) == [
        {"type": "OrderPlaced", "occurredAt": "2026-01-02T02:30:00+00:00", "data": {}},
        {"type": "OrderConfirmed", "occurredAt": "2026-01-02T02:45:00+00:00", "data": {}},
    ]


def test_add_all_writes_every_event_in_order_when_none_is_there(store: TimelineStore):
    order = str(uuid.uuid4())
    events = [
        NewEvent("OrderPlaced", T0, {"total": "1.00"}),
        NewEvent("ConfirmationEmailSent", T0 + timedelta(seconds=1), {"to": "a"}),
    ]

    assert store.add_all(order, events) == [True, True]

    assert store.events(order) == [
        {"type": "OrderPlaced", "occurredAt": T0.isoformat(), "data": {"total": "1.00"}},
        {
            "type": "ConfirmationEmailSent",
            "occurredAt": (T0 + timedelta(seconds=1)).isoformat(),
            "data": {"to": "a"},
        },
    ]


def test_add_all_with_one_event_there_writes_the_others_and_says_which(store: TimelineStore):
    """A retry after a released e-mail claim: OrderPlaced is there, the claim is not."""
    order = str(uuid.uuid4())
    store.add(order, "OrderPlaced", T0, {"n": 1})
    events = [
        NewEvent("OrderPlaced", T0 + timedelta(seconds=5), {"n": 2}),
        NewEvent("ConfirmationEmailSent", T0 + timedelta(seconds=6), {}),
    ]

    assert store.add_all(order, events) == [False, True]
    assert store.add_all(order, events) == [False, False]  # a redelivery: nothing new

    assert [(e["type"], e["data"]) for e in store.events(order)] == [
        ("OrderPlaced", {"n": 1}),  # the first write stands
        ("ConfirmationEmailSent", {}),
    ]


def test_the_local_stand_in_keeps_a_batch_across_a_restart(tmp_path: Path):
    """`make dev` keeps the stand-in's documents in a journal (.dev/cosmos): the worker's
    first step writes through a transactional batch, and the journal keeps it."""
    order = str(uuid.uuid4())
    data = tmp_path / "cosmos.jsonl"
    with local_cosmos.running(0, data_file=data) as cosmos:
        store = CosmosTimelineStore(cosmos_settings(cosmos, batch_writes=True))
        assert store.add_all(order, [NewEvent("OrderPlaced", T0, {})]) == [True]
    with local_cosmos.running(0, data_file=data) as cosmos:
        store = CosmosTimelineStore(cosmos_settings(cosmos))
        assert [e["type"] for e in store.events(order)] == ["OrderPlaced"]
