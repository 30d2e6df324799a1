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
"""

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog
from prometheus_client import Counter

from shared.db import TRANSIENT_DB_ERRORS, Connection
from shared.events import Event, InvalidEvent, decode_event
from shared.kafka import EventProducer, OutgoingRecord
from shared.logging import get_logger
from shared.topics import dlq

log = get_logger(__name__)

CONSUMED = Counter("events_consumed_total", "Events consumed, by outcome", ["topic", "type", "outcome"])

EventHandler = Callable[[Connection, Event], Awaitable[None]]


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


class IdempotentConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: EventProducer,
        service: str,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._service = service
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds

    async def process(self, record: KafkaRecord, handler: EventHandler) -> None:
        headers = list(record.headers or ())
        try:
            event = decode_event(headers, record.value)
        except InvalidEvent as error:
            await self._dead_letter(record, headers, error, attempts=1, event_type="<invalid>")
            return
        structlog.contextvars.bind_contextvars(
            event_id=str(event.id), order_id=event.subject, correlation_id=event.correlation_id
        )
        try:
            await self._process_event(record, headers, event, handler)
        finally:
            structlog.contextvars.unbind_contextvars("event_id", "order_id", "correlation_id")

    async def _process_event(
        self, record: KafkaRecord, headers: list[tuple[str, bytes]], event: Event, handler: EventHandler
    ) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                applied = await self._apply_once(record, event, handler)
            except TRANSIENT_DB_ERRORS as error:
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

    async def _apply_once(self, record: KafkaRecord, event: Event, handler: EventHandler) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                """INSERT INTO processed_events (event_id, event_type, topic, kafka_partition, kafka_offset)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING RETURNING true""",
                event.id,
                event.type,
                record.topic,
                record.partition,
                record.offset,
            )
            if not first_time:
                return False
            await handler(conn, event)
            return True

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
            ("dlq_error", reason[:4000].encode()),
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_stacktrace", "".join(traceback.format_exception(error))[-4000:].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer", self._service.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_all([OutgoingRecord(dlq(record.topic), record.key, record.value or b"", dlq_headers)])
        CONSUMED.labels(record.topic, event_type, "dead_lettered").inc()
        log.error(
            "message sent to the dead-letter topic",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=reason,
            attempts=attempts,
        )
