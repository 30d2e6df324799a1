"""What the idempotent consumer (shared/consumer.py) applies events with: a handler per event, or a
`BatchHandler` that applies the plain events of a transaction set-based and leaves the rest to its
per-event handler.

A consumer such as the cancellation worker or the anonymizer does, for most events (an order created,
paid, fulfilled), nothing but keep its copy of the order: one upsert. Applied one event at a time that
is a round trip per event, and in a batch transaction of 50 events the round trips, not the CPU, set
the pace (~200 events/s, the process a seventh busy: bench/consumers.py). A `BatchHandler`'s `bulk`
gets every new event of the transaction at once, in order, applies those it can in a few statements
and returns the others, which `each` then applies one by one, in order, in the same transaction.
`split_by_subject` makes that split keep each subject's (order's) events together, so an order whose
batch holds one event needing `each` has all its events applied by `each`, in order.

A `StatementHandler` goes further, for a consumer whose latency is its product (the webhook dispatcher's
fan-out): the events it takes are applied and tracked in ONE statement of its own, in no transaction of
the consumer's. A transaction is three round trips more (BEGIN, the tracking rows, COMMIT), each about
0.4 ms on a busy 2-core machine, a third of the fan-out's share of event-to-receipt (bench/README.md).
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from shared.db import Connection
from shared.tracking import Tracking


class Received(Protocol):
    """What the consumer reads of whatever a record decodes to (an Event, or an Envelope)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def sequence(self) -> int | None: ...
    @property
    def correlation_id(self) -> str | None: ...


ReceivedT = TypeVar("ReceivedT", bound=Received)
PreparedT = TypeVar("PreparedT")
Handler = Callable[[Connection, ReceivedT], Awaitable[None]]
# Records a BatchHandler's subscription takes per poll (`Runtime.subscribe(..., batch_records=...)`),
# and the most it applies in one transaction: its `bulk` takes them in a few statements, so the row locks
# are not held long, and a poll of 500 costs one offset commit and a handful of round trips where one of
# 100 in transactions of 50 cost five times as many (bench/consumers.py).
BULK_RECORDS = 500
# How long the BatchHandlers of the consumers that keep copies of orders (the cancellation worker, the
# anonymizer) let a batch gather (`BatchHandler.gather_ms`). Each fetched, and committed a transaction and
# an offset, per relay pass: ~1 ms of CPU per order each at 100 orders/s; gathering, a third of that
# (bench/README.md, "The whole pipeline"). What waits on them waits up to this much longer: a
# cancellation's refund command (a refund takes seconds to days), an erasure's copy (days).
GATHER_MS = 200
# Applies what it can of the events, in the caller's transaction; returns the others, in order.
Bulk = Callable[[Connection, Sequence[ReceivedT]], Awaitable[Sequence[ReceivedT]]]


@dataclass(frozen=True, slots=True)
class StatementHandler(Generic[ReceivedT, PreparedT]):
    """Applies the events it `takes` and records them as processed in one statement: `prepare` for each
    event, in order, in its record's consumer span, then `write` with what they returned and the events'
    tracking rows, which it writes in that statement (`Tracking.insert`), with nothing else written
    should it write none; it returns the ids recorded. An event may come twice among them (a redelivery
    in the same poll): its effect is written once. The statement commits as it returns. Events it does
    not take go to its BatchHandler's `bulk` and `each`, in a transaction."""

    takes: Callable[[Sequence[ReceivedT]], bool]
    prepare: Callable[[ReceivedT], PreparedT]
    write: Callable[[Connection, Sequence[PreparedT], Tracking], Awaitable[set[uuid.UUID]]]


@dataclass(frozen=True, slots=True)
class BatchHandler(Generic[ReceivedT]):
    """`bulk` for a transaction's new events, then `each` for those it returned. An event processed
    alone (the fallback after a failed batch, an unbatched subscription) goes the same way: `bulk`
    with that event, then `each` if it returned it. Its subscription's batches gather for `gather_ms`."""

    bulk: Bulk[ReceivedT]
    each: Handler[ReceivedT]
    transaction_records: int = BULK_RECORDS
    # How long the subscription lets a batch gather (`Runtime.subscribe`); 0: a record is fetched as soon
    # as it is there.
    gather_ms: int = 0
    # The events it applies in one statement each time, without a transaction, if any.
    statement: StatementHandler[ReceivedT, Any] | None = None

    @property
    def __name__(self) -> str:
        return self.each.__name__


def split_by_subject(
    events: Sequence[ReceivedT], plain: Callable[[ReceivedT], bool]
) -> tuple[list[ReceivedT], list[ReceivedT]]:
    """The events to apply set-based, and the rest in order: every event of a subject any of whose
    events is not `plain` is left with the rest, so one subject's events are applied in their order."""
    kept_apart = {event.subject for event in events if not plain(event)}
    together = [event for event in events if event.subject not in kept_apart]
    apart = [event for event in events if event.subject in kept_apart]
    return together, apart
