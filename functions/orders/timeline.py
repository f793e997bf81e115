"""The order page's timeline, read from Cosmos DB with a hard deadline.

The SDK's own timeouts do not bound everything (client start-up reads the account, retries
stack up), so the read runs in a small thread pool (the SDK client is synchronous) and the page
awaits it at most `timeout` seconds, without blocking the event loop. A slow or down Cosmos
marks the timeline unavailable — the order itself is always returned — and when every slot is
already waiting, new pages do not queue behind them.
"""

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from functions.orders.bodies import Timeline
from functions.shared.timeline_store import TimelineStore

_log = logging.getLogger("tinyshop.orders.timeline")


class TimelineReader:
    def __init__(self, events: TimelineStore | None, timeout: float, slots: int = 4) -> None:
        self._events = events
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="timeline")

    async def read(self, order_id: UUID) -> Timeline:
        if self._events is None or not self._slots.acquire(blocking=False):
            return Timeline(available=False)
        future = self._pool.submit(self._events.events, str(order_id))
        # Released when the read ends, or when a timed-out wait cancels it before it started.
        future.add_done_callback(lambda _: self._slots.release())
        try:
            events = await asyncio.wait_for(asyncio.wrap_future(future), self._timeout)
            return Timeline(available=True, events=events)
        except TimeoutError:
            _log.warning("timeline of %s: Cosmos did not answer in %ss", order_id, self._timeout)
        except Exception as exc:  # the order itself is still worth returning
            _log.warning("timeline of %s unavailable: %s", order_id, exc)
        return Timeline(available=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
