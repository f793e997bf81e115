"""A small local stand-in for the Durable Task host: runs an orchestrator function by replaying
it through the SDK's own executor (history in, actions out), exactly as the host does, and runs
the activities it asks for in-process. `make dev`, the local consumer and the pipeline tests
fulfil every order through it, so the timeline a shopper sees locally comes from the same
orchestrator (fulfilment.py) and activities (activities.py) as in the cluster.

What it keeps of the host: the history's shape (episodes of OrchestratorStarted ...
OrchestratorCompleted; TaskScheduled/TaskCompleted/TaskFailed; a TimerCreated/TimerFired pair
between the attempts of `call_activity_with_retry`, with the extra timer the SDK expects after
the last attempt), `is_replaying`, the replay-safe clock. It replays the first episode as the
host does and then keeps the orchestrator in memory, feeding it each episode's new events
(`_next_state`; the tests check every step against a replay from the start).
The history shapes follow the SDK's own tests (Azure/azure-functions-durable-python:
tests/test_utils/ContextBuilder.py,
tests/orchestrator/test_sequential_orchestrator_with_retry.py).

What it does NOT give: durability. The history lives in memory for one message; a crash or a
stop loses it, and the order is fulfilled again from the start when the local queue redelivers
the message — safe because every activity is idempotent (deterministic document ids, the
e-mail claimed before it is sent). Retry waits block the consumer (they are not durable timers).
There is no status query or purge (there is no task hub): locally a fulfilment that fails
after its retries dead-letters the message with the reason (`dlq show` / `dlq replay`).
It supports what the fulfilment uses — activities with or without retry — and refuses the rest.
"""

import copy
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.durable_functions.models import DurableOrchestrationContext
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as Ev
from azure.durable_functions.orchestrator import Orchestrator

_OUT_OF_PROC_LABEL = "$OutOfProcData$:"  # how the SDK appends the state to a failure
_STUB_TIME = "2000"  # a timestamp dateutil parses in a few tokens


def decode(event: dict[str, Any], timestamp: datetime) -> HistoryEvent:
    """`HistoryEvent(**event)` without its dateutil parse of `Timestamp` (the driver has the
    datetime already): the SDK's constructor, field by field (azure-functions-durable 1.x,
    models/history/HistoryEvent.py; tests/unit/test_fulfilment.py checks both agree)."""
    decoded = object.__new__(HistoryEvent)
    decoded._event_type = event["EventType"]
    decoded._event_id = event["EventId"]
    decoded._is_played = event["IsPlayed"]
    decoded._timestamp = timestamp
    decoded._is_processed = False
    decoded.Name = decoded.InstanceId = decoded.TaskScheduledId = None
    decoded.Reason = decoded.Details = decoded.Input = None
    for key, value in event.items():
        if key not in ("EventType", "EventId", "IsPlayed", "Timestamp"):
            setattr(decoded, key, value)
    return decoded


# Per thread, the SDK orchestrator of each orchestrator function that no instance is running.
# An instance runs to its end on the thread that started it (`LocalOrchestration.run`), so the
# next one there resets it with `initialize()` instead of building one: building one builds a
# namedtuple class, ~5 % of the local worker's CPU per order. (Under the host the SDK builds one
# per invocation: `Orchestrator.create`.)
_idle = threading.local()


def _take(orchestrator: Callable) -> Orchestrator:
    idle: dict[Callable, Orchestrator] = _idle.__dict__.setdefault("runners", {})
    return idle.pop(orchestrator, None) or Orchestrator(orchestrator)


def _give_back(orchestrator: Callable, runner: Orchestrator) -> None:
    _idle.__dict__.setdefault("runners", {})[orchestrator] = runner


class OrchestrationFailed(Exception):
    """The orchestrator ended with an error; `reason` is what the host would record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _context(instance_id: str, input_: Any, history: list[dict[str, Any]]):
    """The orchestration context the SDK builds from the host's JSON payload."""
    return DurableOrchestrationContext.from_json(
        json.dumps(
            {
                "history": history,
                "instanceId": instance_id,
                "isReplaying": False,
                "parentInstanceId": None,
                "input": json.dumps(input_),
            }
        )
    )


def replay(
    orchestrator: Callable,
    instance_id: str,
    input_: Any,
    history: list[dict[str, Any]],
    events: list[HistoryEvent] | None = None,
    runner: Orchestrator | None = None,
) -> dict[str, Any]:
    """One orchestrator invocation, as the host makes it: the state the SDK returns.

    `events`, when given, are `history` already decoded (the driver keeps them): the SDK parses
    each event's timestamp with dateutil, two thirds of a local orchestration's CPU when every
    replay re-decodes the whole history. Fresh copies are replayed: the executor marks events
    as processed.

    `runner`, when given, is the SDK's `Orchestrator` for `orchestrator`, reused across the
    replays of one instance: building one builds a namedtuple class (a quarter of a replay's
    CPU). Its executor is reset with the SDK's own `initialize()` ("for a new orchestration
    invocation"); everything else it keeps is set again by `execute`."""
    if events is None:
        context = _context(instance_id, input_, history)
    else:  # the same context, its history from the decoded events (azure-functions-durable 1.x)
        # One stub event (OrchestratorStarted) is parsed, then the decoded history replaces it.
        stub = [history[0] | {"Timestamp": _STUB_TIME}]
        context = DurableOrchestrationContext(
            history=stub,
            instanceId=instance_id,
            isReplaying=False,
            parentInstanceId=None,
            input=json.dumps(input_),
        )
        context._histories = [copy.copy(e) for e in events]
        context.decision_started_event = context._histories[0]
        context._current_utc_datetime = context._histories[0].timestamp
        context._version = context._extract_version_from_history(context._histories)
    if runner is None:
        runner = Orchestrator(orchestrator)
    else:
        runner.task_orchestration_executor.initialize()
    return _state(lambda: runner.handle(context))


def _state(invocation: Callable[[], str]) -> dict[str, Any]:
    """The orchestration state the SDK returns, also when the orchestrator raised."""
    try:
        return json.loads(invocation())
    except Exception as exc:  # the orchestrator raised: the SDK appends its state JSON
        text = str(exc)
        if _OUT_OF_PROC_LABEL not in text:
            raise
        return json.loads(text.split(_OUT_OF_PROC_LABEL, 1)[1])


class ReplayMismatch(AssertionError):
    """The orchestrator kept in memory and a replay from the start disagree (`verify_replay`)."""


class LocalOrchestration:
    """One orchestration instance, run to its end in this process."""

    def __init__(
        self,
        orchestrator: Callable,
        activities: Mapping[str, Callable[[Any], Any]],
        *,
        wait: Callable[[float], None],
        task_failures: tuple[type[BaseException], ...] = (Exception,),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        verify_replay: bool = False,
    ) -> None:
        """`wait(seconds)` sleeps between retries (and may raise to abandon the run). An
        activity's exception in `task_failures` fails its task (the orchestrator's retry
        options apply, as under the host); any other ends the run at once and reaches the
        caller, who retries the whole message later (a dependency outage, a bug).
        `verify_replay` (tests): after every episode, also replay the whole history from the
        start and raise `ReplayMismatch` unless both give the same state."""
        self.orchestrator = orchestrator
        self.activities = activities
        self.wait = wait
        self.task_failures = task_failures
        self.clock = clock
        self.verify_replay = verify_replay
        self.history: list[dict[str, Any]] = []
        self._decoded: list[HistoryEvent] = []  # the same events, decoded once
        self._live: Orchestrator | None = None  # the SDK's orchestrator, kept between episodes
        self._fed = 0  # how many events of the history it has processed
        self._next_id = 0

    def _event(self, kind: Ev, **fields: Any) -> dict[str, Any]:
        now = self.clock()
        event = {"EventType": int(kind), "EventId": -1, "IsPlayed": False}
        event |= {"Timestamp": now.isoformat()} | fields
        self.history.append(event)
        self._decoded.append(decode(event, now))
        return event

    def _scheduled_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _end_episode(self) -> None:
        """The host ends the orchestrator's turn: what it saw is history (played) from now."""
        self._event(Ev.ORCHESTRATOR_COMPLETED)
        for event in self.history:
            event["IsPlayed"] = True
        for decoded in self._decoded:
            decoded._is_played = True

    def _new_episode(self) -> None:
        """The host ends the orchestrator's turn and starts the next one for new events."""
        self._end_episode()
        self._event(Ev.ORCHESTRATOR_STARTED)

    def _attempt(self, action: dict[str, Any]) -> bool:
        """Run the activity once; the history gets its outcome. True when it succeeded."""
        name = action["functionName"]
        task_id = self._scheduled_id()
        self._event(
            Ev.TASK_SCHEDULED, EventId=task_id, Name=name, Version="", Input=action.get("input")
        )
        self._end_episode()
        activity = self.activities.get(name)
        if activity is None:
            raise LookupError(f"no activity named {name!r}")
        raw = action.get("input")
        try:
            result = activity(json.loads(raw) if raw is not None else None)
        except self.task_failures as exc:
            # The next episode starts once the activity is done, as under the host: its time
            # is the orchestrator's clock for the next step (so `OrderConfirmed` is never
            # stamped before the claim another delivery made meanwhile).
            self._event(Ev.ORCHESTRATOR_STARTED)
            self._event(
                Ev.TASK_FAILED,
                TaskScheduledId=task_id,
                Reason=f"{type(exc).__name__}: {exc}",
                Details="",
            )
            return False
        self._event(Ev.ORCHESTRATOR_STARTED)
        self._event(Ev.TASK_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(result))
        return True

    def _timer(self, seconds: float) -> None:
        timer_id = self._scheduled_id()
        fire_at = (self.clock() + timedelta(seconds=seconds)).isoformat()
        self._event(Ev.TIMER_CREATED, EventId=timer_id, FireAt=fire_at)
        self.wait(seconds)
        self._new_episode()
        self._event(Ev.TIMER_FIRED, TimerId=timer_id, FireAt=fire_at)

    def run(self, name: str, instance_id: str, input_: Any) -> Any:
        """Run to completion: the orchestrator's output, or `OrchestrationFailed`. The SDK
        orchestrator it kept goes to this thread's next instance, however the run ended."""
        try:
            return self._run(name, instance_id, input_)
        finally:
            if self._live is not None:
                _give_back(self.orchestrator, self._live)
                self._live = None

    def _run(self, name: str, instance_id: str, input_: Any) -> Any:
        self._event(Ev.ORCHESTRATOR_STARTED)
        self._event(
            Ev.EXECUTION_STARTED, Name=name, Version="", Input=json.dumps(input_), IsPlayed=True
        )
        started = 0
        while True:
            state = self._next_state(instance_id, input_)
            if state.get("error"):
                raise OrchestrationFailed(state["error"])
            if state.get("isDone"):
                return state.get("output")
            actions = [a for group in state.get("actions", []) for a in group]
            if len(actions) <= started:
                raise RuntimeError(f"orchestration {instance_id} waits for nothing it can get")
            action = actions[started]
            started += 1
            kind = action["actionType"]
            if kind == ActionType.CALL_ACTIVITY:
                self._attempt(action)
            elif kind == ActionType.CALL_ACTIVITY_WITH_RETRY:
                self._with_retry(action)
            else:
                raise NotImplementedError(f"the local driver does not run action type {kind}")

    def _next_state(self, instance_id: str, input_: Any) -> dict[str, Any]:
        """The orchestrator's state after the history's new events.

        The first episode is a replay, as the host runs it. After that the SDK's orchestrator
        (its executor, its context, the suspended generator) stays in memory and the executor
        processes only the events added since — what a replay from the start does after it has
        re-processed the old ones, minus re-running them: three replays of a growing history
        were most of the driver's CPU. The events before the episode's OrchestratorStarted
        count as old (`is_replaying`), as in `TaskOrchestrationExecutor.execute`
        (azure-functions-durable 1.x). `verify_replay` checks the shortcut against the replay.
        """
        if self._live is None:  # `replay` resets a reused one with `initialize()`
            self._live = _take(self.orchestrator)
            state = replay(
                self.orchestrator, instance_id, input_, self.history, self._decoded, self._live
            )
        else:
            executor = self._live.task_orchestration_executor
            episode = max(
                i for i, e in enumerate(self._decoded) if e.event_type == Ev.ORCHESTRATOR_STARTED
            )
            for index in range(self._fed, len(self._decoded)):
                event = copy.copy(self._decoded[index])
                self._live.durable_context._histories.append(event)
                executor._is_processing_new_events = index >= episode
                executor.process_event(event)
                if executor.has_execution_completed:
                    break
            state = _state(executor.get_orchestrator_state_str)
        self._fed = len(self._decoded)
        if self.verify_replay:
            again = replay(self.orchestrator, instance_id, input_, self.history, self._decoded)
            if again != state:
                raise ReplayMismatch(f"kept in memory: {state}\nreplayed: {again}")
        return state

    def _with_retry(self, action: dict[str, Any]) -> None:
        options = action["retryOptions"]
        interval = options["firstRetryIntervalInMilliseconds"] / 1000
        attempts = options["maxNumberOfAttempts"]
        for attempt in range(1, attempts + 1):
            if self._attempt(action):
                return
            # DTFx waits a timer after every failed attempt, the last one included (the SDK
            # counts attempts when the timer fires); the last wait is not worth sleeping.
            self._timer(interval if attempt < attempts else 0)
