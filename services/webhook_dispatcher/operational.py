"""Operational webhooks: the dispatcher's own events about its endpoints (`webhook.endpoint.disabled`,
`webhook.message.exhausted`, `webhook.endpoint.recovered`), published on webhooks.events through the
outbox and, in the same transaction, queued as messages for the operator endpoints (`operational`) whose
filter takes them: delivered like any message (durable, retried, signed by each operator endpoint's key).

No loops: an event about an operator endpoint goes to Kafka only, so an operator endpoint that fails,
exhausts messages or is disabled never sends operator endpoints (itself included) events about itself.

A recovery is announced once per failure report: reporting a failure (a disabling for `failing` or
`gone`, an exhausted message) notes when operators were told; a periodic check then finds the endpoints
that have delivered since and not failed after, and announces each once.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from services.webhook_dispatcher import operational_store as postgres_store
from services.webhook_dispatcher.domain import Channelled, Written, forwarded_body, matches
from shared import outbox as postgres_outbox
from shared.db import Connection
from shared.events import Event
from shared.orders import Snapshot
from shared.services import WEBHOOK_DISPATCHER
from shared.topics import WEBHOOKS_EVENTS
from shared.tracing import TraceContext, current_trace_context
from shared.webhook_events import ENDPOINT_RECOVERED, WebhookEndpointRecoveredData

# Recoveries announced per transaction of the periodic check.
RECOVERIES_PER_CHECK: Final = 100


class MessageWriter(Protocol):
    """How one event's messages are written: store.insert_messages, as the fan-out writes a batch's
    (store.insert_fanned; service.Store extends this)."""

    async def insert_messages(
        self,
        conn: Connection,
        endpoint_ids: Sequence[uuid.UUID],
        event: Channelled,
        payload: bytes,
        trace: TraceContext,
        *,
        leased: Sequence[uuid.UUID],
        lease: timedelta,
    ) -> Written: ...


class OperationalStore(MessageWriter, Protocol):
    """What the operational webhooks need of the dispatcher's tables: operational_store.py's functions."""

    async def operator_filters(self, conn: Connection, about: uuid.UUID) -> Sequence[Any]: ...

    async def note_failure_reported(self, conn: Connection, endpoint_id: uuid.UUID) -> None: ...

    async def take_recovered(self, conn: Connection, limit: int) -> Sequence[Any]: ...


class Outbox(Protocol):
    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None: ...


class OperationalEvents:
    def __init__(self, *, store: OperationalStore = postgres_store, outbox: Outbox = postgres_outbox) -> None:
        self._store = store
        self._outbox = outbox

    async def publish(self, conn: Connection, event_type: str, endpoint_id: uuid.UUID, data: Snapshot) -> None:
        """An event about `endpoint_id`, in the caller's transaction: on webhooks.events, and queued for
        each enabled operator endpoint whose filter takes it (none when the endpoint is one of them)."""
        event = Event.new(event_type, WEBHOOK_DISPATCHER.name, str(endpoint_id), data)
        await self._outbox.enqueue(conn, WEBHOOKS_EVENTS, event)
        operators = [
            row["id"]
            for row in await self._store.operator_filters(conn, endpoint_id)
            if matches(row["event_types"], row["channels"], event_type, event.channels)
        ]
        if operators:
            body = forwarded_body(event_type, event.time, event.body())
            # Written unclaimed (none handed to this instance's sender): any sender claims them.
            await self._store.insert_messages(
                conn, operators, event, body, current_trace_context(), leased=(), lease=timedelta(0)
            )

    async def report_failure(self, conn: Connection, event_type: str, endpoint_id: uuid.UUID, data: Snapshot) -> None:
        """`publish` an event saying the endpoint is failing; its next delivery will be announced."""
        await self._store.note_failure_reported(conn, endpoint_id)
        await self.publish(conn, event_type, endpoint_id, data)

    async def announce_recoveries(self, conn: Connection) -> int:
        """`webhook.endpoint.recovered` for each endpoint reported failing that has delivered since
        (up to RECOVERIES_PER_CHECK), in the caller's transaction; how many."""
        recovered = await self._store.take_recovered(conn, RECOVERIES_PER_CHECK)
        for row in recovered:
            reported_at: datetime = row["failure_reported_at"]
            data = WebhookEndpointRecoveredData(endpoint_id=row["id"], url=row["url"], failure_reported_at=reported_at)
            await self.publish(conn, ENDPOINT_RECOVERED, row["id"], data)
        return len(recovered)
