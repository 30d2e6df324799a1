"""The fan-out: every event consumed becomes one message per enabled endpoint whose filters take it,
written in the consumer's transaction (the one that records the event as processed). Every event is
passed on, of a type this build knows or not, its data as published; an anonymized order's, masked
(`order.anonymized` itself keeps the masked snapshot for that, and for the order's erasure). An order
event comes on the order's own orders.events partition, in sequence after `order.anonymized` and
masked by order_api; any other is masked here once the order is anonymized.

Set-based per transaction, for the latency of each event as much as for throughput: the idempotent
consumer gives a transaction's events to `begin` (a BatchHandler's `bulk`), then each to
`fan_out_event` in its record's own consumer span, so that its messages keep that span's trace context
and each delivery attempt is its child; the transaction's last `fan_out_event` writes all its messages
in one statement (store.insert_fanned). The endpoints' filters are kept in memory: that statement
writes nothing unless their version (counted up by every change to them, migration 0009) is still the
one they were read at, and when it is not, they are read again and the events matched again. So a
transaction of n events, which took 2n statements for its messages, takes one, as exact as reading
the filters first. This instance's sender takes what it has room for at once, when the transaction
commits (handoff.py).

Most polls hold nothing but order events other than `order.anonymized`, whose fan-out is their messages
alone: those go without a transaction (`in_one_statement`, the consumer's StatementHandler). Each event
is chosen in its consumer span (`prepare`), then that one statement writes the poll's messages and its
events' tracking rows, or, should the filters have changed, nothing at all; it commits as it returns,
when the sender is handed what it leased (three round trips fewer than BEGIN, the tracking rows and
COMMIT, about a quarter of event-to-receipt here: bench/README.md).
"""

import asyncio
import contextvars
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from services.webhook_dispatcher.domain import Written, forwarded_body, matches
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.store import Fanned, Filters
from shared.consumer_handlers import BatchHandler, StatementHandler
from shared.db import Connection
from shared.event_types import ORDER_EVENTS
from shared.events import Envelope
from shared.orders import ORDER_ANONYMIZED
from shared.tracing import TraceContext, current_trace_context
from shared.tracking import Tracking


class FanOutStore(Protocol):
    """What the fan-out needs of the dispatcher's tables: store.py's functions."""

    async def enabled_endpoint_filters(self, conn: Connection) -> Filters: ...

    async def insert_fanned(
        self,
        conn: Connection,
        fanned: Sequence[Fanned],
        lease: timedelta,
        filters_version: int | None = None,
        tracking: Tracking | None = None,
    ) -> Written | None: ...


@dataclass
class _Event:
    """An event of the transaction: the trace context of its consumer span, and once chosen by the
    filters, its endpoints and its body."""

    event: Envelope
    trace: TraceContext
    endpoint_ids: list[uuid.UUID] = field(default_factory=list)
    body: bytes | None = None


@dataclass
class _Open:
    """A transaction's fan-out between `begin` and its last `fan_out_event`."""

    left: int  # events still to come
    events: list[_Event] = field(default_factory=list)


# Set by `begin` in the consuming task's context, which `fan_out_event` runs in (a failed transaction's is
# replaced by the next `begin`).
_open: contextvars.ContextVar[_Open | None] = contextvars.ContextVar("webhook_fan_out", default=None)


class FanOut:
    def __init__(self, store: FanOutStore, erasures: ErasureService, handoff: Handoff | None, lease: timedelta) -> None:
        self._store = store
        self._erasures = erasures
        self._handoff = handoff
        self._lease = lease
        # The filters as last read: the write checks their version, and reads them again when it changed.
        self._filters: Filters | None = None

    def handler(self, transaction_records: int) -> BatchHandler[Envelope]:
        """The consumer's handler: up to `transaction_records` events fanned out in one transaction, or in
        one statement when none of them needs more than its messages written (`in_one_statement`)."""
        return BatchHandler(
            self.begin,
            self.fan_out_event,
            transaction_records=transaction_records,
            statement=StatementHandler(self.in_one_statement, self.prepare, self.write),
        )

    async def fan_out(self, conn: Connection, event: Envelope) -> None:
        """Fan one event out, in the caller's transaction and trace context."""
        for one in await self.begin(conn, [event]):
            await self.fan_out_event(conn, one)

    def in_one_statement(self, events: Sequence[Envelope]) -> bool:
        """Whether the events' fan-out is their messages alone: order events (masked by order_api
        already) other than `order.anonymized` (which keeps the order's masked snapshot), once the
        filters were read."""
        return self._filters is not None and all(
            event.type in ORDER_EVENTS and event.type != ORDER_ANONYMIZED for event in events
        )

    def prepare(self, event: Envelope) -> _Event:
        """An event `in_one_statement` took, chosen in its consumer span."""
        assert self._filters is not None
        one = _Event(event, current_trace_context())
        self._choose(one, self._filters)
        return one

    async def write(self, conn: Connection, prepared: Sequence[_Event], tracking: Tracking) -> set[uuid.UUID]:
        """The prepared events' messages and tracking rows in one statement: the ids it recorded."""
        written = await self._write(conn, prepared, tracking)
        if self._handoff is not None:
            self._handoff.committed(written.transaction)  # the statement committed as it returned
            # The sender's tasks put their requests on the wire before the consumer's bookkeeping.
            await asyncio.sleep(0)
        return set(written.recorded)

    async def begin(self, conn: Connection, events: Sequence[Envelope]) -> Sequence[Envelope]:
        """A transaction's events are coming; every one goes on to `fan_out_event`."""
        if self._filters is None:
            self._filters = await self._store.enabled_endpoint_filters(conn)
        _open.set(_Open(len(events)))
        return events

    async def fan_out_event(self, conn: Connection, event: Envelope) -> None:
        """The event's messages, written with the rest of its transaction's after the last one."""
        fan_out = _open.get()
        assert fan_out is not None, "fan_out_event() follows begin(), once per event begun"
        if event.type == ORDER_ANONYMIZED:
            await self._erasures.order_anonymized(conn, event)
        # The current span is the event's consumer span: each delivery attempt is its child.
        one = _Event(event, current_trace_context())
        assert self._filters is not None
        await self._choose_masked(conn, one, self._filters)
        fan_out.events.append(one)
        fan_out.left -= 1
        if not fan_out.left:
            _open.set(None)
            await self._write(conn, fan_out.events)

    def _choose(self, one: _Event, filters: Filters) -> None:
        """The endpoints whose filters take the event, and its body when it has any (its data as
        published: an order event's, masked by order_api when it must be)."""
        event = one.event
        one.endpoint_ids = [
            row["id"]
            for row in filters.endpoints
            if matches(row["event_types"], row["channels"], event.type, event.channels)
        ]
        if one.endpoint_ids and one.body is None:
            one.body = forwarded_body(event.type, event.time, event.data_json)

    async def _choose_masked(self, conn: Connection, one: _Event, filters: Filters) -> None:
        """`_choose`, and another event's body masked here when its order was anonymized."""
        bodied = one.body is not None
        self._choose(one, filters)
        if one.body is not None and not bodied and one.event.type not in ORDER_EVENTS:
            one.body = await self._erasures.masked_body(conn, one.event.subject, one.body)

    async def _write(self, conn: Connection, events: Sequence[_Event], tracking: Tracking | None = None) -> Written:
        while True:
            filters = self._filters
            assert filters is not None
            fanned = [
                Fanned(one.event, one.body, one.trace, one.endpoint_ids) for one in events if one.body is not None
            ]
            # Those this instance's sender has room for are written claimed, for it.
            room = Counter(self._handoff.room([e for one in fanned for e in one.endpoint_ids]) if self._handoff else ())
            leased = [one._replace(leased=_take(room, one.endpoint_ids)) for one in fanned]
            written = await self._store.insert_fanned(conn, leased, self._lease, filters.version, tracking)
            if written is not None:
                break
            # An endpoint changed since the filters were read: read them again, choose again.
            self._filters = filters = await self._store.enabled_endpoint_filters(conn)
            for one in events:
                await self._choose_masked(conn, one, filters)
        if self._handoff is not None:
            self._handoff.written(written)
        return written


def _take(room: Counter[uuid.UUID], endpoint_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `endpoint_ids` `room` has one left for, each taken from it."""
    taken = []
    for endpoint_id in endpoint_ids:
        if room[endpoint_id] > 0:
            room[endpoint_id] -= 1
            taken.append(endpoint_id)
    return taken
