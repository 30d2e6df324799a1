"""The fan-out: every event consumed becomes one message per enabled endpoint whose filters take it,
written in the consumer's transaction (the one that records the event as processed). Every event is
passed on, of a type this build knows or not, its data as published; an anonymized order's, masked
(`order.anonymized` itself keeps the masked snapshot for that, and for the order's erasure). An order
event comes on the order's own orders.events partition, in sequence after `order.anonymized` and
masked by order_api; any other is masked here once the order is anonymized.

Set-based per transaction, for the latency of each event as much as for throughput: the idempotent
consumer gives a transaction's events to `begin` (a BatchHandler's `bulk`), which reads the endpoints'
filters once, then each event to `fan_out_event` in its record's own consumer span, so that the message keeps
that span's trace context and each delivery attempt is its child; the transaction's last `fan_out_event` writes
all its messages in one statement (store.insert_fanned). A transaction of n events took 2n statements
for its messages; now 2, and its first event's message no longer waits for the others' round trips.
This instance's sender takes what it has room for at once, when the transaction commits (handoff.py).
"""

import contextvars
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from services.webhook_dispatcher.domain import Written, forwarded_body, matches
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.store import Fanned
from shared.consumer import BatchHandler
from shared.db import Connection
from shared.event_types import ORDER_EVENTS
from shared.events import Envelope
from shared.orders import ORDER_ANONYMIZED
from shared.tracing import current_trace_context


class FanOutStore(Protocol):
    """What the fan-out needs of the dispatcher's tables: store.py's functions."""

    async def enabled_endpoint_filters(self, conn: Connection) -> Sequence[Any]: ...

    async def insert_fanned(self, conn: Connection, fanned: Sequence[Fanned], lease: timedelta) -> Written: ...


@dataclass
class _Open:
    """A transaction's fan-out between `begin` and its last `fan_out_event`."""

    filters: Sequence[Any]
    left: int  # events still to add
    fanned: list[Fanned] = field(default_factory=list)


# Set by `begin` in the consuming task's context, which `fan_out_event` runs in (a failed transaction's is replaced
# by the next `begin`).
_open: contextvars.ContextVar[_Open | None] = contextvars.ContextVar("webhook_fan_out", default=None)


class FanOut:
    def __init__(self, store: FanOutStore, erasures: ErasureService, handoff: Handoff | None, lease: timedelta) -> None:
        self._store = store
        self._erasures = erasures
        self._handoff = handoff
        self._lease = lease

    def handler(self, transaction_records: int) -> BatchHandler[Envelope]:
        """The consumer's handler: up to `transaction_records` events fanned out in one transaction."""
        return BatchHandler(self.begin, self.fan_out_event, transaction_records=transaction_records)

    async def fan_out(self, conn: Connection, event: Envelope) -> None:
        """Fan one event out, in the caller's transaction and trace context."""
        for one in await self.begin(conn, [event]):
            await self.fan_out_event(conn, one)

    async def begin(self, conn: Connection, events: Sequence[Envelope]) -> Sequence[Envelope]:
        """A transaction's events are coming: read the filters once. Every event goes on to `fan_out_event`."""
        _open.set(_Open(await self._store.enabled_endpoint_filters(conn), len(events)))
        return events

    async def fan_out_event(self, conn: Connection, event: Envelope) -> None:
        """The event's messages, written with the rest of its transaction's after the last one."""
        fan_out = _open.get()
        assert fan_out is not None, "fan_out_event() follows begin(), once per event begun"
        if event.type == ORDER_ANONYMIZED:
            await self._erasures.order_anonymized(conn, event)
        endpoints = [
            row["id"]
            for row in fan_out.filters
            if matches(row["event_types"], row["channels"], event.type, event.channels)
        ]
        if endpoints:
            body = forwarded_body(event.type, event.time, event.data_json)
            if event.type not in ORDER_EVENTS:
                body = await self._erasures.masked_body(conn, event.subject, body)
            # The current span is the event's consumer span: each delivery attempt is its child.
            fan_out.fanned.append(Fanned(event, body, current_trace_context(), endpoints))
        fan_out.left -= 1
        if not fan_out.left:
            _open.set(None)
            await self._write(conn, fan_out.fanned)

    async def _write(self, conn: Connection, fanned: list[Fanned]) -> None:
        if not fanned:
            return
        # Those this instance's sender has room for are written claimed, for it.
        room = Counter(self._handoff.room([e for one in fanned for e in one.endpoint_ids]) if self._handoff else ())
        leased = [one._replace(leased=_take(room, one.endpoint_ids)) for one in fanned]
        written = await self._store.insert_fanned(conn, leased, self._lease)
        if self._handoff is not None:
            self._handoff.written(written)


def _take(room: Counter[uuid.UUID], endpoint_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `endpoint_ids` `room` has one left for, each taken from it."""
    taken = []
    for endpoint_id in endpoint_ids:
        if room[endpoint_id] > 0:
            room[endpoint_id] -= 1
            taken.append(endpoint_id)
    return taken
