"""The worker's retry policy, shared by the Functions trigger and the local consumer.

Three kinds of failure, three answers:
- poison (`PoisonMessage`): never retried; dead-lettered (at once locally; by Service Bus after
  max delivery count under the Functions host, see function.py).
- `TRANSIENT` (a Cosmos outage): the dependency, not the message, is at fault, so the message
  is retried in place while it stays locked, doubling the pause from `first_pause` up to
  `max_pause`:
  - the Functions trigger retries inside the function (`retrying()`, with jitter) for at most
    `in_function_deadline` seconds — inside the host's lock renewal (maxAutoLockRenewalDuration
    5 min) and functionTimeout (5 min), see host.json — then raises, so that delivery is
    abandoned and counted: 90 s x the queue's max delivery count (10) bounds the outage the
    host path rides out; longer ones dead-letter valid events (docs/architecture.md, "Event
    bus adapters", says how operators replay them);
  - the local consumer holds the message, renewing its lock, for as long as the outage lasts
    (`hold_pause` stays below the lock duration), so no delivery is burnt however long.
- anything else (a bug): abandoned, counted, and redelivered after `redelivery_delay` — a
  per-message backoff, so one failing message does not spin at the head of the queue while
  the messages behind it proceed; it is dead-lettered after the max delivery count.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from functions.shared.timeline_store import TimelineStoreUnavailable

TRANSIENT: tuple[type[Exception], ...] = (TimelineStoreUnavailable,)


@dataclass(frozen=True)
class RetryPolicy:
    first_pause: float = 1.0
    max_pause: float = 30.0
    in_function_deadline: float = 90.0

    def next_pause(self, pause: float) -> float:
        """The pause after one more failure: doubled, at most `max_pause`."""
        return min(pause * 2, self.max_pause)

    def redelivery_delay(self, delivery_count: int) -> float:
        """How long a message that failed unexpectedly stays invisible after its `n`th delivery."""
        return min(self.first_pause * 2 ** max(delivery_count - 1, 0), self.max_pause)

    def hold_pause(self, pause: float, lock_seconds: float) -> float:
        """The next pause while holding a locked message: short enough to renew its lock."""
        return min(self.next_pause(pause), lock_seconds / 3)

    def retrying(self, sleep: Callable[[float], None] = time.sleep) -> Retrying:
        """Retries of one handler call on `TRANSIENT` failures (the Functions trigger)."""
        return Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential_jitter(initial=self.first_pause, max=self.max_pause),
            stop=stop_after_delay(self.in_function_deadline),
            sleep=sleep,
            reraise=True,
        )
