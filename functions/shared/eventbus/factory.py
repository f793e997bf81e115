"""Build the configured publisher (`EVENT_BUS`)."""

from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.eventbus.publisher import EventPublisher
from functions.shared.eventbus.settings import EventBusSettings


def local_queue(settings: EventBusSettings) -> LocalQueue:
    return LocalQueue(
        settings.local_bus_database_url,
        settings.event_bus_queue,
        settings.local_bus_lock_seconds,
        settings.local_bus_max_delivery_count,
    )


def publisher(settings: EventBusSettings | None = None) -> EventPublisher:
    settings = settings or EventBusSettings()
    if settings.event_bus == "servicebus":
        from functions.shared.eventbus.servicebus import ServiceBusPublisher, client_from_settings

        return ServiceBusPublisher(client_from_settings(settings), settings.event_bus_queue)
    return LocalQueuePublisher(local_queue(settings))
