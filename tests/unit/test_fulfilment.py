"""The fulfilment orchestrator (functions/worker/fulfilment.py) driven through the SDK's own
replay, as the host drives it: a history in, the orchestrator's actions (or its end) out. The
histories have the shapes the SDK's own tests give them (Azure/azure-functions-durable-python,
tests/test_utils/ContextBuilder.py, tests/orchestrator/test_sequential_orchestrator_with_retry.py):
episodes of OrchestratorStarted .. OrchestratorCompleted; TaskScheduled then TaskCompleted or
TaskFailed; a TimerCreated/TimerFired pair after each failed attempt of a retried activity.

Then the same orchestrator and activities through the local driver (local_driver.py), with an
in-memory store and mail provider: what `make dev` and the local consumer run."""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as Ev

from functions.shared.timeline_store import TimelineStoreUnavailable
from functions.worker import activities, fulfilment
from functions.worker.activities import MailNotSent, record_timeline_event, send_confirmation_email
from functions.worker.fulfilment import (
    RECORD_TIMELINE_EVENT,
    SEND_CONFIRMATION_EMAIL,
    STORE_RETRY,
    fulfil_order,
)
from functions.worker.handler import FulfilmentError, handle
from functions.worker.local_driver import LocalOrchestration, replay
from tests.unit.builders import body, order_placed_payload
from tests.unit.fakes import InMemoryTimelineStore

ORDER = {
    "orderId": "2f1c1d8e-5b7a-4c11-9a55-0c1f3b9e8a01",
    "eventId": "9d0a4c3e-1111-4b7a-8c2d-3e4f5a6b7c8d",
    "userId": "alice",
    "occurredAt": "2026-11-29T08:00:00+00:00",
    "total": "39.30",
    "currency": "EUR",
    "itemCount": 4,
}
START = datetime(2026, 11, 29, 8, 0, 1, tzinfo=UTC)


@dataclass
class History:
    """The host's history of one instance, one event at a time (times one second apart)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = START
    next_id: int = 0

    def __post_init__(self) -> None:
        self.add(Ev.ORCHESTRATOR_STARTED)
        self.add(Ev.EXECUTION_STARTED, Name="fulfil_order", Version="", Input=json.dumps(ORDER))

    def add(self, kind: Ev, **fields: Any) -> None:
        self.now += timedelta(seconds=1)
        event = {"EventType": int(kind), "EventId": -1, "IsPlayed": False}
        self.events.append(event | {"Timestamp": self.now.isoformat()} | fields)

    def episode(self) -> None:
        self.add(Ev.ORCHESTRATOR_COMPLETED)
        self.add(Ev.ORCHESTRATOR_STARTED)

    def completed(self, name: str, result: Any) -> None:
        task_id = self._id()
        self.add(Ev.TASK_SCHEDULED, EventId=task_id, Name=name, Version="")
        self.episode()
        self.add(Ev.TASK_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(result))

    def failed(self, name: str, reason: str) -> None:
        task_id = self._id()
        self.add(Ev.TASK_SCHEDULED, EventId=task_id, Name=name, Version="")
        self.episode()
        self.add(Ev.TASK_FAILED, TaskScheduledId=task_id, Reason=reason, Details="")

    def timer(self) -> None:
        timer_id = self._id()
        fire_at = self.now.isoformat()
        self.add(Ev.TIMER_CREATED, EventId=timer_id, FireAt=fire_at)
        self.episode()
        self.add(Ev.TIMER_FIRED, TimerId=timer_id, FireAt=fire_at)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def replay(self) -> dict[str, Any]:
        return replay(fulfil_order, ORDER["orderId"], ORDER, self.events)


def actions(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for group in state["actions"] for a in group]


def step_input(action: dict[str, Any]) -> dict[str, Any]:
    return json.loads(action["input"])


def history_up_to_the_email() -> History:
    return History()  # the e-mail (with OrderPlaced) is the first step


# --- through the SDK's replay ----------------------------------------------------------------


def test_the_first_step_sends_the_email_with_order_placed_to_record_first_store_retry():
    history = History()
    state = history.replay()

    assert state["isDone"] is False
    [email] = actions(state)
    assert email["actionType"] == ActionType.CALL_ACTIVITY_WITH_RETRY
    assert email["functionName"] == SEND_CONFIRMATION_EMAIL
    assert email["retryOptions"] == STORE_RETRY.to_json()
    assert step_input(email) == {
        "orderId": ORDER["orderId"],
        "placed": {
            "occurredAt": ORDER["occurredAt"],
            "data": {
                "eventId": ORDER["eventId"],
                "total": "39.30",
                "currency": "EUR",
                "itemCount": 4,
            },
        },
        # the replay-safe clock: the start of the episode that scheduled it, from the history
        "occurredAt": history.events[0]["Timestamp"],
        "to": "alice",
        "subject": f"Your TinyShop order {ORDER['orderId'][:8]}",
        "total": "39.30",
    }


def test_the_happy_path_sends_and_confirms_then_completes():
    history = History()
    history.completed(SEND_CONFIRMATION_EMAIL, True)
    confirm = actions(history.replay())[1]
    assert confirm["retryOptions"] == STORE_RETRY.to_json()
    assert confirm["functionName"] == RECORD_TIMELINE_EVENT
    assert step_input(confirm)["type"] == "OrderConfirmed"
    assert step_input(confirm)["placedAt"] == ORDER["occurredAt"]

    history.completed(RECORD_TIMELINE_EVENT, True)
    state = history.replay()
    assert state["isDone"] is True
    assert state["output"] == {"orderId": ORDER["orderId"], "emailSent": True}


def test_a_failed_email_is_retried_after_its_timer_and_the_fulfilment_goes_on():
    history = history_up_to_the_email()
    history.failed(SEND_CONFIRMATION_EMAIL, "MailNotSent: 421 try again later")
    history.timer()

    state = history.replay()  # waiting on the retry: no new action, no error
    assert len(actions(state)) == 1
    assert "error" not in state

    history.completed(SEND_CONFIRMATION_EMAIL, True)
    state = history.replay()
    assert [a["functionName"] for a in actions(state)][-1] == RECORD_TIMELINE_EVENT
    assert step_input(actions(state)[-1])["type"] == "OrderConfirmed"


def test_an_email_failing_every_attempt_fails_the_orchestration_with_the_step_and_reason(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    counted: list[str] = []
    monkeypatch.setattr(fulfilment, "count_failure", counted.append)
    history = history_up_to_the_email()
    for _ in range(STORE_RETRY.max_number_of_attempts):
        history.failed(SEND_CONFIRMATION_EMAIL, "MailNotSent: 554 rejected")
        history.timer()  # the SDK decides when this timer fires (DTFx waits one after the last)

    with caplog.at_level(logging.ERROR, logger="tinyshop.worker"):
        state = history.replay()

    assert state["isDone"] is False
    assert state["error"].startswith(
        "step ConfirmationEmailSent failed after its retries: MailNotSent: 554 rejected"
    )
    assert counted == ["ConfirmationEmailSent"]
    assert [r.fulfilment_step for r in caplog.records] == ["ConfirmationEmailSent"]


def test_one_attempt_short_of_the_limit_is_still_retrying():
    history = history_up_to_the_email()
    for _ in range(STORE_RETRY.max_number_of_attempts - 1):
        history.failed(SEND_CONFIRMATION_EMAIL, "MailNotSent: 421")
        history.timer()

    assert "error" not in history.replay()


def test_replay_after_a_crash_between_steps_asks_for_exactly_the_same_work(
    monkeypatch: pytest.MonkeyPatch,
):
    """The worker died after the e-mail step was recorded and before the next step was
    committed: another replica replays the history later. The orchestrator must ask for the
    same confirmation with the same input (no wall clock in it), and nothing it already did."""
    history = history_up_to_the_email()
    history.completed(SEND_CONFIRMATION_EMAIL, True)
    first = history.replay()

    class _Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return datetime(2030, 1, 1, tzinfo=UTC)

    monkeypatch.setattr("functions.worker.fulfilment.datetime", _Later)
    again = history.replay()

    assert again == first
    assert [a["functionName"] for a in actions(again)] == [
        SEND_CONFIRMATION_EMAIL,
        RECORD_TIMELINE_EVENT,
    ]


def test_an_activity_run_twice_across_a_crash_sends_one_email(caplog: pytest.LogCaptureFixture):
    """Activities run at least once: the worker can die after the send and before the host
    records it. The second run finds the claim and sends nothing."""
    store = InMemoryTimelineStore()
    step = step_input(actions(history_up_to_the_email().replay())[0])
    sent: list[str] = []

    class Mailer:
        def send(self, to: str, subject: str, idempotency_key: str, order: dict) -> None:
            sent.append(idempotency_key)

    assert send_confirmation_email(step, store, Mailer()) is True
    assert send_confirmation_email(step, store, Mailer()) is False
    assert sent == [f"{ORDER['orderId']}:ConfirmationEmailSent"]


def test_a_refused_email_s_claim_is_released_through_a_store_blip_so_the_retry_sends_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(activities, "_release_claim", partial(activities._release_claim, wait=0))
    store = InMemoryTimelineStore(remove_failures=activities.RELEASE_ATTEMPTS - 1)
    step = step_input(actions(history_up_to_the_email().replay())[0])
    mailer = FlakyMailer(refusals=1)

    with pytest.raises(MailNotSent):
        send_confirmation_email(step, store, mailer)
    assert send_confirmation_email(step, store, mailer) is True
    assert mailer.sent == [f"{ORDER['orderId']}:ConfirmationEmailSent"]


def test_a_claim_that_cannot_be_released_is_reported_with_the_document_to_delete(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr(activities, "_release_claim", partial(activities._release_claim, wait=0))
    store = InMemoryTimelineStore(remove_failures=activities.RELEASE_ATTEMPTS)
    step = step_input(actions(history_up_to_the_email().replay())[0])

    with pytest.raises(MailNotSent):
        send_confirmation_email(step, store, FlakyMailer(refusals=1))

    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"{ORDER['orderId']}:ConfirmationEmailSent" in error.getMessage()


# --- the same orchestrator through the local driver ------------------------------------------


@dataclass
class FlakyMailer:
    """Refuses the first `refusals` sends (nothing goes out), then sends."""

    refusals: int = 0
    sent: list[str] = field(default_factory=list)

    def send(self, to: str, subject: str, idempotency_key: str, order: dict) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise MailNotSent("421 try again later")
        self.sent.append(idempotency_key)


def types(store: InMemoryTimelineStore, order_id: str) -> list[str]:
    return [e["type"] for e in store.events(order_id)]


def test_locally_a_refused_email_is_retried_after_the_policy_s_interval_and_sent_once():
    store, mailer, waits = InMemoryTimelineStore(), FlakyMailer(refusals=2), []
    event = order_placed_payload()

    output = handle("OrderPlaced", body(event), store, mailer=mailer, wait=waits.append)

    assert output == {"orderId": event["orderId"], "emailSent": True}
    assert types(store, event["orderId"]) == [
        "OrderPlaced",
        "ConfirmationEmailSent",
        "OrderConfirmed",
    ]
    assert mailer.sent == [f"{event['orderId']}:ConfirmationEmailSent"]
    interval = STORE_RETRY.first_retry_interval_in_milliseconds / 1000
    assert waits == [interval, interval]


def test_locally_an_email_refused_on_every_attempt_fails_the_fulfilment_with_its_reason():
    store, mailer, waits = InMemoryTimelineStore(), FlakyMailer(refusals=10**6), []
    event = order_placed_payload()

    with pytest.raises(FulfilmentError) as caught:
        handle("OrderPlaced", body(event), store, mailer=mailer, wait=waits.append)

    assert "step ConfirmationEmailSent failed after its retries" in caught.value.reason
    assert "MailNotSent: 421 try again later" in caught.value.reason
    # each refused send released its claim, and the fulfilment stopped before OrderConfirmed
    assert types(store, event["orderId"]) == ["OrderPlaced"]
    assert mailer.sent == []
    assert len(waits) == STORE_RETRY.max_number_of_attempts  # the last one is not slept
    assert waits[-1] == 0


def test_locally_a_store_outage_reaches_the_caller_at_once_so_the_message_is_held():
    store, waits = InMemoryTimelineStore(failing_type="ConfirmationEmailSent"), []
    event = order_placed_payload()

    with pytest.raises(TimelineStoreUnavailable):
        handle("OrderPlaced", body(event), store, wait=waits.append)

    assert waits == []  # not retried in place: the local consumer holds the message instead
    assert types(store, event["orderId"]) == []  # OrderPlaced and the claim: all or nothing


def test_locally_an_order_takes_two_timeline_writes_the_first_records_and_claims_together():
    store, mailer = InMemoryTimelineStore(), FlakyMailer()
    event = order_placed_payload()

    handle("OrderPlaced", body(event), store, mailer=mailer)

    assert store.attempts == 2  # the batch (OrderPlaced + the claim), then OrderConfirmed
    assert store.batches == 1
    assert types(store, event["orderId"]) == [
        "OrderPlaced",
        "ConfirmationEmailSent",
        "OrderConfirmed",
    ]


def test_a_retry_after_a_refused_email_keeps_the_first_order_placed_and_claims_again():
    """The refused send released its claim; OrderPlaced stays, written once."""
    store, mailer = InMemoryTimelineStore(), FlakyMailer(refusals=1)
    event = order_placed_payload()

    handle("OrderPlaced", body(event), store, mailer=mailer, wait=lambda _: None)

    placed = [e for e in store.events(event["orderId"]) if e["type"] == "OrderPlaced"]
    assert placed == [
        {"type": "OrderPlaced", "occurredAt": placed[0]["occurredAt"], "data": placed[0]["data"]}
    ]
    assert placed[0]["data"]["eventId"] == event["eventId"]
    assert mailer.sent == [f"{event['orderId']}:ConfirmationEmailSent"]


# --- the local driver's shortcut: events decoded once, not re-parsed at every replay ---------


def test_the_driver_s_decoded_events_are_the_sdk_s_own():
    from azure.durable_functions.models.history.HistoryEvent import HistoryEvent

    from functions.worker.local_driver import decode

    event = {
        "EventType": int(Ev.TASK_COMPLETED),
        "EventId": -1,
        "IsPlayed": True,
        "Timestamp": "2026-11-29T08:00:01.250000+00:00",
        "TaskScheduledId": 3,
        "Result": "true",
    }
    ours = decode(event, datetime.fromisoformat(event["Timestamp"]))
    assert vars(ours) == vars(HistoryEvent(**event))


@pytest.mark.parametrize("failures", [0, 1, STORE_RETRY.max_number_of_attempts])
def test_replaying_decoded_events_gives_the_same_state_as_replaying_the_json(failures: int):
    from functions.worker.local_driver import decode

    history = history_up_to_the_email()
    for _ in range(failures):
        history.failed(SEND_CONFIRMATION_EMAIL, "MailNotSent: 421")
        history.timer()
    decoded = [decode(e, datetime.fromisoformat(e["Timestamp"])) for e in history.events]

    fast = replay(fulfil_order, ORDER["orderId"], ORDER, history.events, decoded)

    assert fast == history.replay()


def test_one_sdk_orchestrator_reused_across_replays_gives_each_replay_s_own_state():
    """The driver reuses the SDK's Orchestrator for every replay of an instance: each replay
    must give the state a fresh one gives, whatever the previous replay left behind (a
    failure, an unfinished orchestration, a finished one)."""
    from azure.durable_functions.orchestrator import Orchestrator

    from functions.worker.local_driver import decode

    runner = Orchestrator(fulfil_order)
    histories = [History(), history_up_to_the_email()]
    failing = history_up_to_the_email()
    for _ in range(STORE_RETRY.max_number_of_attempts):
        failing.failed(SEND_CONFIRMATION_EMAIL, "MailNotSent: 421")
        failing.timer()
    done = history_up_to_the_email()
    done.completed(SEND_CONFIRMATION_EMAIL, True)
    done.completed(RECORD_TIMELINE_EVENT, True)
    histories += [failing, done, History()]
    states = []
    for history in histories:
        decoded = [decode(e, datetime.fromisoformat(e["Timestamp"])) for e in history.events]
        reused = replay(fulfil_order, ORDER["orderId"], ORDER, history.events, decoded, runner)
        assert reused == history.replay()
        states.append(reused)
    assert states[2]["error"]
    assert states[3]["isDone"]
    assert not states[4]["isDone"]


def test_the_failure_counter_exists_at_zero_for_every_step_before_any_failure():
    """The alert takes increase() of tinyshop_orchestrations_failed_total: a series born at 1
    would be invisible to it, so the first message starts every step's series at 0."""
    import httpx

    from tests.conftest import METRICS_URL

    handle("OrderPlaced", body(order_placed_payload()), InMemoryTimelineStore())

    exported = httpx.get(METRICS_URL, timeout=10).text
    series = re.findall(r'^tinyshop_orchestrations_failed_total\{.*step="(\w+)"\} ', exported, re.M)
    # A set: other tests in the same process may export the counter under more label sets.
    assert set(series) == {"ConfirmationEmailSent", "OrderConfirmed"}


# --- the local driver keeps the orchestrator in memory between episodes ----------------------


def _driven(mailer: FlakyMailer, store: InMemoryTimelineStore) -> LocalOrchestration:
    return LocalOrchestration(
        fulfil_order,
        {
            RECORD_TIMELINE_EVENT: lambda step: record_timeline_event(step, store),
            SEND_CONFIRMATION_EMAIL: lambda step: send_confirmation_email(step, store, mailer),
        },
        wait=lambda _: None,
        task_failures=(MailNotSent,),
        verify_replay=True,
    )


@pytest.mark.parametrize("refusals", [0, 2, 10**6])
def test_every_state_the_driver_keeps_in_memory_is_what_a_replay_from_the_start_gives(
    refusals: int,
):
    """The happy path, a retried e-mail, and one refused until the orchestration fails: after
    each episode the driver also replays the whole history and compares (`verify_replay`)."""
    from functions.worker.local_driver import OrchestrationFailed

    store, mailer = InMemoryTimelineStore(), FlakyMailer(refusals=refusals)
    orchestration = _driven(mailer, store)

    if refusals > STORE_RETRY.max_number_of_attempts:
        with pytest.raises(OrchestrationFailed):
            orchestration.run("fulfil_order", ORDER["orderId"], ORDER)
    else:
        output = orchestration.run("fulfil_order", ORDER["orderId"], ORDER)
        assert output == {"orderId": ORDER["orderId"], "emailSent": True}
    assert len(orchestration.history) >= 10  # two episodes at least: something was compared


def test_the_replay_check_catches_an_orchestrator_that_is_not_deterministic():
    """`verify_replay` can fail: an orchestrator whose second step depends on how often it
    ran gives another action when replayed from the start."""
    from functions.worker.local_driver import ReplayMismatch

    runs = []

    def drifting(context: Any):
        runs.append(1)
        yield context.call_activity("a", None)
        yield context.call_activity(f"b{len(runs)}", None)

    orchestration = LocalOrchestration(
        drifting, {"a": lambda _: 1, "b1": lambda _: 1}, wait=lambda _: None, verify_replay=True
    )
    with pytest.raises(ReplayMismatch):
        orchestration.run("drifting", "i", None)


def _two_steps(context: Any):
    """An orchestrator of its own per test (the driver keeps SDK orchestrators per function)."""
    first = yield context.call_activity("a", context.get_input())
    second = yield context.call_activity("b", first)
    return second


def test_a_thread_s_next_orchestration_reuses_the_sdk_orchestrator_of_the_last(monkeypatch):
    """Building the SDK's orchestrator builds a namedtuple class: each thread keeps one per
    orchestrator function for its next instance; two threads never share one."""
    import threading

    from functions.worker import local_driver

    built = []

    class Counted(local_driver.Orchestrator):
        def __init__(self, fn):
            built.append(threading.get_ident())
            super().__init__(fn)

    monkeypatch.setattr(local_driver, "Orchestrator", Counted)

    def orchestrator(context: Any):
        return (yield from _two_steps(context))

    def three_in_a_row(outputs: list) -> None:
        for n in range(3):
            driven = LocalOrchestration(
                orchestrator, {"a": lambda x: x + 1, "b": lambda x: x * 10}, wait=lambda _: None
            )
            outputs.append(driven.run("o", f"i{n}", n))

    here: list = []
    there: list = []
    three_in_a_row(here)
    other = threading.Thread(target=three_in_a_row, args=(there,))
    other.start()
    other.join()

    assert here == there == [10, 20, 30]
    assert len(built) == 2  # one per thread, not one per instance
    assert built[0] != built[1]


def test_an_orchestration_after_one_that_failed_replays_exactly_on_the_reused_orchestrator():
    """The instance before ended with its generator suspended mid-way (a dependency outage
    reached the caller); the next one on the same SDK orchestrator still gives, after every
    episode, what a replay from the start gives (`verify_replay`)."""

    def orchestrator(context: Any):
        return (yield from _two_steps(context))

    def outage(_: Any) -> Any:
        raise ConnectionError("Cosmos is down")

    broken = LocalOrchestration(
        orchestrator,
        {"a": lambda x: x, "b": outage},
        wait=lambda _: None,
        task_failures=(MailNotSent,),  # as the handler's: an outage is not a task's failure
        verify_replay=True,
    )
    with pytest.raises(ConnectionError):
        broken.run("o", "first", 1)
    healthy = LocalOrchestration(
        orchestrator,
        {"a": lambda x: x + 1, "b": lambda x: x * 10},
        wait=lambda _: None,
        verify_replay=True,
    )

    assert healthy.run("o", "second", 4) == 50


def test_the_next_step_s_clock_is_read_once_the_activity_is_done():
    """As under the host, the episode after an activity starts when it completed: a step that
    took an hour stamps `OrderConfirmed` an hour later, never before a claim another delivery
    made meanwhile."""
    now = [START]
    store = InMemoryTimelineStore()

    def slow_send(step: dict) -> bool:
        now[0] += timedelta(hours=1)
        return send_confirmation_email(step, store, FlakyMailer())

    orchestration = LocalOrchestration(
        fulfil_order,
        {
            SEND_CONFIRMATION_EMAIL: slow_send,
            RECORD_TIMELINE_EVENT: lambda step: record_timeline_event(step, store),
        },
        wait=lambda _: None,
        clock=lambda: now[0],
        verify_replay=True,
    )
    orchestration.run("fulfil_order", ORDER["orderId"], ORDER)

    stamps = {e["type"]: e["occurredAt"] for e in store.events(ORDER["orderId"])}
    assert stamps["ConfirmationEmailSent"] == START.isoformat()
    assert stamps["OrderConfirmed"] == (START + timedelta(hours=1)).isoformat()
