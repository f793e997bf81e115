"""The worker's Cosmos timeline store: the shared one (functions/shared/timeline_store.py) plus
taking back an e-mail claim the mail provider refused (activities.py, `MailNotSent`)."""

from typing import Any

from azure.cosmos.exceptions import CosmosResourceNotFoundError

from functions.shared.timeline_store import (
    CosmosTimelineStore,
    TimelineStoreUnavailable,
    _transient,
    document_id,
)


class WorkerTimelineStore(CosmosTimelineStore):
    def remove(self, order_id: str, event_type: str) -> None:
        """Delete the event's document; already gone is fine."""
        options: dict[str, Any] = {"timeout": self._deadline}
        try:
            self.container.delete_item(
                document_id(order_id, event_type), partition_key=order_id, **options
            )
        except CosmosResourceNotFoundError:
            return
        except Exception as exc:
            if _transient(exc):
                raise TimelineStoreUnavailable(str(exc)) from exc
            raise
