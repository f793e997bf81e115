"""The local consumer's retry policy (local_consumer.py): how a message is retried on the local
queue. Under the Functions host the message only starts the orchestration (function.py) and the
orchestration's own retry options retry its steps (fulfilment.py), so nothing here applies there.

Three kinds of failure, three answers:
- poison (`PoisonMessage`): never retried; dead-lettered at once;
- `TRANSIENT` (a Cosmos outage): the dependency, not the message, is at fault, so the consumer
  holds the message, renewing its lock, and retries it in place for as long as the outage lasts,
  doubling the pause from `first_pause` up to `max_pause` (`hold_pause` stays below the lock
  duration), so no delivery is burnt however long;
- anything else (a bug): abandoned, counted, and redelivered after `redelivery_delay` — a
  per-message backoff, so one failing message does not spin at the head of the queue while
  the messages behind it proceed; it is dead-lettered after the max delivery count.
"""

from dataclasses import dataclass

from functions.shared.timeline_store import TimelineStoreUnavailable

TRANSIENT: tuple[type[Exception], ...] = (TimelineStoreUnavailable,)


@dataclass(frozen=True)
class RetryPolicy:
    first_pause: float = 1.0
    max_pause: float = 30.0

    def next_pause(self, pause: float) -> float:
        """The pause after one more failure: doubled, at most `max_pause`."""
        return min(pause * 2, self.max_pause)

    def redelivery_delay(self, delivery_count: int) -> float:
        """How long a message that failed unexpectedly stays invisible after its `n`th delivery."""
        return min(self.first_pause * 2 ** max(delivery_count - 1, 0), self.max_pause)

    def hold_pause(self, pause: float, lock_seconds: float) -> float:
        """The next pause while holding a locked message: short enough to renew its lock."""
        return min(self.next_pause(pause), lock_seconds / 3)
