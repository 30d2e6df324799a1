"""Idempotent consumer: at-least-once delivery, exactly-once effects.

`IdempotentConsumer.process` applies a handler's effect and records the event id in the service's
`processed_events` table in one transaction; a redelivered event finds its id there and is skipped.
Subscribers use AckPolicy.NACK_ON_ERROR, so the Kafka offset is committed only after `process`
returned, that is after the transaction committed; an exception rewinds the partition to the message.

Failures are sorted by what they mean:
- a message that is not a valid event can never succeed: straight to `<topic>.dlq`;
- a handler that raises `Unprocessable` (a fact that can never apply, e.g. about an unknown order)
  rolls back and goes straight to the DLQ too, with the reason: retrying would only delay it;
- the database being unreachable says nothing about the message: raise, so it is redelivered;
- any other error is retried in place, and after `max_attempts` the message goes to the DLQ with
  the error and its original topic/partition/offset in headers, and the partition moves on.

Each handler runs in its record's consumer span, a child of the trace context in the record's headers
(shared/tracing.py), so the events it writes carry that trace on.

`process_batch` does the same for the records of one poll, up to `transaction_records` of them in ONE
transaction (every record's effect and its `processed_events` row; a duplicate, also one seen earlier
in the same batch, is skipped), and the subscriber commits the batch's offsets once it returned. That
is the fast path, for batches where every record decodes and every handler succeeds. Should anything
go wrong in it (a record that does not decode, a handler's `Unprocessable` or any other error, the
database), the batch's transaction rolls back whole and its records are processed again one by one
through `process`, which sorts the failure as above: the poison record is dead-lettered alone and its
neighbours are applied, a retryable error is retried, the database being away raises. So a record is
never dead-lettered by a transaction that could still roll back, nor dead-lettered twice by one
delivery, and nothing but `process` writes to the DLQ. There are no savepoints per record: each would
cost two round trips more per record, and a transaction with more than 64 subtransactions that wrote
overflows Postgres' per-backend subtransaction cache, which slows every other session's snapshots.
Row locks a handler takes are held until its batch's transaction commits, so the batches stay modest;
and `now()` in a handler's SQL is its batch transaction's start, shared by the batch's records.

A handler may be a `BatchHandler` (shared/consumer_handlers.py): its `bulk` gets all of a transaction's
new events at once and applies what it can set-based, its per-event handler the rest, in order. Its
transactions take up to its `transaction_records` (500): a few statements each, not a few per record.
With a `StatementHandler`, the events it takes are applied and tracked in one statement instead of a
transaction (its prepare steps each in its record's span); everything above holds of that statement.
"""

import asyncio
import contextlib
import traceback
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, overload

import asyncpg
import structlog
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import Counter

from shared.consumer_handlers import BatchHandler, Handler, Received, ReceivedT, StatementHandler
from shared.db import TRANSIENT_DB_ERRORS, Connection
from shared.events import Event, Headers, InvalidEvent, decode_event
from shared.kafka import EventProducer, OutgoingRecord
from shared.logging import get_logger
from shared.topics import DLQ_ERROR, DLQ_FAILED_AT, DLQ_ORIGINAL_PARTITION, DLQ_ORIGINAL_TOPIC, dlq
from shared.tracing import consumer_span
from shared.tracking import Tracking

# The handler types are shared/consumer_handlers.py's; importers of this module find them here too.
__all__ = [
    "BATCH_RECORDS",
    "Applier",
    "BatchHandler",
    "Decoder",
    "EventHandler",
    "Handler",
    "IdempotentConsumer",
    "KafkaRecord",
    "Received",
    "ReceivedT",
    "TypeFilter",
    "Unprocessable",
]

log = get_logger(__name__)

# Outcomes: applied, duplicate (seen before), skipped (a type the subscription does not take),
# dead_lettered, redelivered (the database was away: the record comes again).
CONSUMED = Counter("events_consumed_total", "Events consumed, by outcome", ["topic", "type", "outcome"])
DEAD_LETTERED = Counter("dlq_messages_written_total", "Messages written to a dead-letter topic", ["topic"])

# The error headers of a dead-letter copy are bounded, so the copy of any record its source topic took
# fits the dead-letter topic (shared.topics.MAX_DLQ_RECORD_BYTES).
DLQ_ERROR_CHARS = 2000
DLQ_STACKTRACE_CHARS = 4000
# Records applied in one transaction by `process_batch`: few enough that the row locks its handlers
# take are not held long, and well under Postgres' 64 cached subtransactions (should a handler use any).
TRANSACTION_RECORDS = 50
# Records a batched subscription (`Runtime.subscribe(..., batch_records=...)`) takes per poll: its
# offsets are committed once per batch. One commit per record, a broker round trip each, held a
# consumer near 55 records/s (bench.cancellations) and an erasure's receipts near 10/s
# (bench.anonymization), with the broker busier than the service.
BATCH_RECORDS = 100
# A dead-letter write that keeps failing (Kafka away) is retried no faster than this, at the longest.
DLQ_RETRY_MAX_SECONDS = 30.0


Decoder = Callable[[Headers, bytes | None], ReceivedT]
EventHandler = Handler[Event]
# What `process` and `process_batch` apply events with: a handler per event, or a BatchHandler.
Applier = Handler[ReceivedT] | BatchHandler[ReceivedT]


class Unprocessable(Exception):
    """Raised by a handler for a well-formed event that can never be applied: dead-lettered at once."""


class KafkaRecord(Protocol):
    """What we read of aiokafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


class TypeFilter:
    """The event types a subscription takes, judged by a record's `ce_type` header alone: a record of
    another type is skipped before any parsing or transaction (its offset is committed with the rest).
    A record without `ce_type` is not skipped: decoding it dead-letters it as malformed."""

    __slots__ = ("_types",)

    def __init__(self, types: Collection[str]) -> None:
        self._types = frozenset(event_type.encode() for event_type in types)

    def skips(self, record: "KafkaRecord") -> bool:
        for name, value in record.headers or ():
            if name == "ce_type":
                return value not in self._types
        return False


class IdempotentConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: EventProducer,
        service: str,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        transaction_records: int = TRANSACTION_RECORDS,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._service = service
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._dlq_failures = 0  # dead-letter writes failed in a row
        self._transaction_records = transaction_records

    @overload
    async def process(
        self, record: KafkaRecord, handler: Applier[Event], *, only: TypeFilter | None = None
    ) -> None: ...
    @overload
    async def process(
        self,
        record: KafkaRecord,
        handler: Applier[ReceivedT],
        decode: Decoder[ReceivedT],
        *,
        only: TypeFilter | None = None,
    ) -> None: ...

    async def process(
        self,
        record: KafkaRecord,
        handler: Applier[Any],
        decode: Decoder[Any] = decode_event,
        *,
        only: TypeFilter | None = None,
    ) -> None:
        """Decode `record` (an Event by default; `decode` may give what a handler needs instead) and
        apply `handler` to it once; with `only`, a record of a type it does not take is skipped."""
        if only is not None and only.skips(record):
            CONSUMED.labels(record.topic, "<not taken>", "skipped").inc()
            return
        headers = list(record.headers or ())
        try:
            event = decode(headers, record.value)
        except InvalidEvent as error:
            await self._dead_letter(record, headers, error, attempts=1, event_type="<invalid>")
            return
        with _bound(event):
            await self._process_event(record, headers, event, handler)

    async def process_batch(
        self,
        records: Sequence[KafkaRecord],
        handler: Applier[Any],
        decode: Decoder[Any] = decode_event,
        *,
        only: TypeFilter | None = None,
    ) -> None:
        """`process` for the records of one poll, in order: up to `transaction_records` at a time in one
        transaction; a part whose transaction fails is processed again record by record."""
        taken = []
        for record in records:
            if only is not None and only.skips(record):
                CONSUMED.labels(record.topic, "<not taken>", "skipped").inc()
            else:
                taken.append(record)
        size = handler.transaction_records if isinstance(handler, BatchHandler) else self._transaction_records
        for start in range(0, len(taken), size):
            part = taken[start : start + size]
            if len(part) == 1:
                await self.process(part[0], handler, decode)
                continue
            try:
                events = [decode(list(record.headers or ()), record.value) for record in part]
                applied = await self._apply_all(part, events, handler)
            except Exception as error:
                # Nothing of the part was committed, nothing dead-lettered: `process` sorts it out.
                log.warning(
                    "batch transaction failed, processing its records one by one", records=len(part), error=repr(error)
                )
                for record in part:
                    await self.process(record, handler, decode)
                continue
            for record, event, first_time in zip(part, events, applied, strict=True):
                outcome = "applied" if first_time else "duplicate"
                CONSUMED.labels(record.topic, event.type, outcome).inc()
                # The event's ids as `_bound` gives them, without binding and unbinding per event.
                log.info("event " + outcome, event_type=event.type, sequence=event.sequence, **_ids(event))

    async def _apply_all(
        self, records: Sequence[KafkaRecord], events: Sequence[ReceivedT], handler: Applier[ReceivedT]
    ) -> list[bool]:
        """Apply each event not seen before, all in one transaction (or one statement); for each, whether
        it was applied."""
        statement = handler.statement if isinstance(handler, BatchHandler) else None
        if statement is not None and statement.takes(events):
            return await _apply_in_one_statement(self._pool, records, events, statement)
        tracking = Tracking(records, events)
        async with self._pool.acquire() as conn, conn.transaction():
            applied = tracking.applied(await _record_processed(conn, tracking))
            received = zip(records, events, applied, strict=True)
            await _apply(conn, [(record, event) for record, event, first_time in received if first_time], handler)
        return applied

    async def _process_event(
        self, record: KafkaRecord, headers: list[tuple[str, bytes]], event: ReceivedT, handler: Applier[ReceivedT]
    ) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                applied = await self._apply_once(record, event, handler)
            except TRANSIENT_DB_ERRORS as error:
                CONSUMED.labels(record.topic, event.type, "redelivered").inc()
                log.warning("database unavailable, message will be redelivered", error=str(error))
                await asyncio.sleep(max(self._backoff, 1.0))
                raise
            except Unprocessable as error:
                await self._dead_letter(record, headers, error, attempts=attempt, event_type=event.type)
                return
            except Exception as error:
                if attempt == self._max_attempts:
                    await self._dead_letter(record, headers, error, attempts=attempt, event_type=event.type)
                    return
                log.warning(
                    "event handler failed, retrying",
                    event_type=event.type,
                    attempt=attempt,
                    error=repr(error),
                )
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                continue
            outcome = "applied" if applied else "duplicate"
            CONSUMED.labels(record.topic, event.type, outcome).inc()
            log.info("event " + outcome, event_type=event.type, sequence=event.sequence)
            return

    async def _apply_once(self, record: KafkaRecord, event: ReceivedT, handler: Applier[ReceivedT]) -> bool:
        return (await self._apply_all([record], [event], handler))[0]

    async def _dead_letter(
        self,
        record: KafkaRecord,
        headers: list[tuple[str, bytes]],
        error: BaseException,
        *,
        attempts: int,
        event_type: str,
    ) -> None:
        reason = f"{type(error).__name__}: {error}"
        dlq_headers = [
            *headers,
            (DLQ_ERROR, _truncated(reason, DLQ_ERROR_CHARS)),
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_stacktrace", _truncated("".join(traceback.format_exception(error)), DLQ_STACKTRACE_CHARS, tail=True)),
            (DLQ_ORIGINAL_TOPIC, record.topic.encode()),
            (DLQ_ORIGINAL_PARTITION, str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer", self._service.encode()),
            ("dlq_attempts", str(attempts).encode()),
            (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        copy = OutgoingRecord(dlq(record.topic), record.key, record.value or b"", dlq_headers)
        try:
            await self._write_dead_letter(copy)
        except Exception as write_error:
            # The partition waits on this message; redelivering it at once would spin. Wait, longer
            # each time the write fails in a row, then let it be redelivered.
            self._dlq_failures += 1
            pause = min(max(self._backoff, 1.0) * 2 ** (self._dlq_failures - 1), DLQ_RETRY_MAX_SECONDS)
            log.error(
                "cannot write to the dead-letter topic; the message will be redelivered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=f"{type(write_error).__name__}: {write_error}",
                retry_in_seconds=pause,
            )
            await asyncio.sleep(pause)
            raise
        self._dlq_failures = 0
        DEAD_LETTERED.labels(dlq(record.topic)).inc()
        CONSUMED.labels(record.topic, event_type, "dead_lettered").inc()
        log.error(
            "message sent to the dead-letter topic",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=reason,
            attempts=attempts,
        )

    async def _write_dead_letter(self, copy: OutgoingRecord) -> None:
        """Write the copy; should it still be too large for the dead-letter topic (a source topic whose
        limit was raised beyond it), write it without its value, saying so, rather than never."""
        try:
            await self._producer.send_all([copy])
        except MessageSizeTooLargeError as error:
            log.warning("dead-letter copy too large; its value is left out", error=str(error))
            note = f"{len(copy.value)} bytes left out: {error}".encode()
            await self._producer.send_all(
                [OutgoingRecord(copy.topic, copy.key, b"", [*copy.headers, ("dlq_value_omitted", note)])]
            )


async def _apply(
    conn: Connection, received: Sequence[tuple[KafkaRecord, ReceivedT]], handler: Applier[ReceivedT]
) -> None:
    """Apply new events in order in the caller's transaction: a BatchHandler's `bulk` with them all,
    then its `each` (or the handler) per event left, in the event's record's span."""
    if isinstance(handler, BatchHandler):
        left = {event.id for event in await handler.bulk(conn, [event for _, event in received])}
        received = [(record, event) for record, event in received if event.id in left]
        handler = handler.each
    for record, event in received:
        with _bound(event), _traced(record):
            await handler(conn, event)


async def _apply_in_one_statement(
    pool: asyncpg.Pool,
    records: Sequence[KafkaRecord],
    events: Sequence[ReceivedT],
    statement: StatementHandler[ReceivedT, Any],
) -> list[bool]:
    """A StatementHandler's effect and the events' tracking rows in one statement; for each event, whether
    it was applied."""
    prepared = []
    for record, event in zip(records, events, strict=True):
        with _bound(event), _traced(record):
            prepared.append(statement.prepare(event))
    tracking = Tracking(records, events)
    async with pool.acquire() as conn:
        return tracking.applied(await statement.write(conn, prepared, tracking))


async def _record_processed(conn: Connection, tracking: Tracking) -> set[uuid.UUID]:
    """Record the events as processed in the caller's transaction, in one statement (a round trip per
    record had been a tenth of an erasure's round trips, bench.anonymization): the ids recorded now."""
    rows = await conn.fetch(Tracking.insert(), *tracking.arguments())
    return {row["event_id"] for row in rows}


def _ids(event: Received) -> dict[str, str | None]:
    """The ids a log line about the event carries."""
    return {"event_id": str(event.id), "order_id": event.subject, "correlation_id": event.correlation_id}


def _bound(event: Received) -> contextlib.AbstractContextManager[None]:
    """The event's ids in every log line written meanwhile (those bound before are restored after)."""
    return structlog.contextvars.bound_contextvars(**_ids(event))


def _traced(record: KafkaRecord) -> contextlib.AbstractContextManager[None]:
    """The record's consumer span (or its trace context, passed through), the handler's context."""
    return consumer_span(record.topic, record.partition, record.offset, record.key, record.headers or ())


def _truncated(text: str, limit: int, *, tail: bool = False) -> bytes:
    """`text` cut to `limit` characters (its end when `tail`), marked where it was cut, as UTF-8."""
    if len(text) > limit:
        text = "..." + text[-limit:] if tail else text[:limit] + "..."
    return text.encode(errors="replace")
