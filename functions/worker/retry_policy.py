"""The worker's retry policy for transient failures (a Cosmos outage), shared by the Functions
trigger and the local consumer.

Service Bus redelivers an abandoned message at once, so a short outage would burn the queue's
max delivery count in seconds. Both consumers therefore back off, doubling the pause from
`first_pause` up to `max_pause` while failures last:
- the Functions trigger retries inside the function (`retrying()`, with jitter) for at most
  `in_function_deadline` seconds — well inside the host's lock renewal
  (maxAutoLockRenewalDuration 5 min) and functionTimeout (5 min), see host.json — then raises,
  so the message is abandoned and redelivered later;
- the local consumer abandons the message at once (it renews no locks) and waits `next_pause`
  before its next receive.
Only `TRANSIENT` failures are retried in the function; a poison message never is.
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

    def retrying(self, sleep: Callable[[float], None] = time.sleep) -> Retrying:
        """Retries of one handler call on `TRANSIENT` failures (the Functions trigger)."""
        return Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential_jitter(initial=self.first_pause, max=self.max_pause),
            stop=stop_after_delay(self.in_function_deadline),
            sleep=sleep,
            reraise=True,
        )
