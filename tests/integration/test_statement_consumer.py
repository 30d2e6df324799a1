"""The idempotent consumer with a StatementHandler, against real Postgres and Kafka: the events it takes
are applied and tracked in one statement, each once however often delivered; the others go through
the BatchHandler's transaction; a poison record is dead-lettered alone, nothing of it half written."""

import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from shared.consumer import BatchHandler, IdempotentConsumer
from shared.consumer_handlers import StatementHandler
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.topics import dlq
from shared.tracing import current_trace_context
from shared.tracking import Tracking
from tests.integration.test_idempotent_consumer import Record
from tests.support.kafka import header, read_records
from tests.support.orders import order_created

# An order the one-statement path does not take (say, one asked to be forgotten).
APART = 2
# An order whose statement fails every time: a poison record.
REFUSED = 3


class Effects:
    """Writes an effect row per event: in one statement with the tracking rows for the events it takes,
    else in the consumer's transaction. Records what each path was given."""

    def __init__(self) -> None:
        self.prepared: list[tuple[str, str | None]] = []  # (order, traceparent of the span it was prepared in)
        self.statements: list[list[str]] = []
        self.each_calls: list[str] = []

    def takes(self, events: Sequence[Event]) -> bool:
        return all(event.subject != str(APART) for event in events)

    def prepare(self, event: Event) -> Event:
        self.prepared.append((event.subject, current_trace_context().get("traceparent")))
        return event

    async def write(self, conn: Connection, events: Sequence[Event], tracking: Tracking) -> set[uuid.UUID]:
        self.statements.append([event.subject for event in events])
        rows = await conn.fetch(
            f"""WITH tracked AS ({Tracking.insert(3)})
                INSERT INTO effects (event_id, order_id, how)
                SELECT DISTINCT v.event_id, v.order_id, 'statement'
                FROM unnest($1::uuid[], $2::text[]) AS v (event_id, order_id)
                WHERE v.event_id IN (SELECT event_id FROM tracked)
                  AND v.order_id::bigint / (v.order_id::bigint - {REFUSED}) IS NOT NULL
                RETURNING event_id""",
            [event.id for event in events],
            [event.subject for event in events],
            *tracking.arguments(),
        )
        return {row["event_id"] for row in rows}

    async def bulk(self, conn: Connection, events: Sequence[Event]) -> Sequence[Event]:
        return events

    async def each(self, conn: Connection, event: Event) -> None:
        self.each_calls.append(event.subject)
        await conn.execute(
            "INSERT INTO effects (event_id, order_id, how) VALUES ($1, $2, 'transaction')", event.id, event.subject
        )

    def handler(self) -> BatchHandler[Event]:
        return BatchHandler(self.bulk, self.each, statement=StatementHandler(self.takes, self.prepare, self.write))


@pytest.fixture
async def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    await scratch_pool.execute("CREATE TABLE effects (id serial, event_id uuid, order_id text, how text)")
    return scratch_pool


def records(topic: str, events: list[Event]) -> list[Record]:
    """The events' records, each with a trace context of its own."""
    read = [Record.of(event, topic, offset) for offset, event in enumerate(events)]
    for record in read:
        record.headers.append(("traceparent", f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode()))
    return read


async def effects(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    return [(row["order_id"], row["how"]) for row in await pool.fetch("SELECT order_id, how FROM effects ORDER BY id")]


def consumer(pool: asyncpg.Pool, producer: EventProducer) -> IdempotentConsumer:
    return IdempotentConsumer(pool, producer, "tests", max_attempts=2, backoff_seconds=0.01)


async def test_events_taken_are_applied_with_their_tracking_rows_in_one_statement_once_however_often_delivered(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    first, second = order_created(1), order_created(4)
    batch = records(scratch_topic, [first, second, first])  # the first again, later in the same poll
    effects_ = Effects()

    await consumer(pool, producer).process_batch(batch, effects_.handler())

    assert effects_.statements == [["1", "4", "1"]]
    assert sorted(await effects(pool)) == [("1", "statement"), ("4", "statement")]
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 2
    # Each event was prepared in its record's trace context (tracing off here: passed through).
    assert [traceparent for _, traceparent in effects_.prepared] == [header(record, "traceparent") for record in batch]

    # Delivered again (the offsets never committed), as a batch and one by one: nothing applied twice.
    await consumer(pool, producer).process_batch(batch, effects_.handler())
    await consumer(pool, producer).process(batch[1], effects_.handler())
    assert len(effects_.statements) == 3
    assert sorted(await effects(pool)) == [("1", "statement"), ("4", "statement")]
    assert effects_.each_calls == []


async def test_a_batch_with_an_event_it_does_not_take_goes_through_the_transaction(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    effects_ = Effects()

    await consumer(pool, producer).process_batch(
        records(scratch_topic, [order_created(1), order_created(APART)]), effects_.handler()
    )

    assert effects_.statements == []
    assert await effects(pool) == [("1", "transaction"), (str(APART), "transaction")]
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 2


async def test_a_poison_record_is_dead_lettered_alone_and_nothing_of_it_written(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    events = [order_created(1), order_created(REFUSED), order_created(4)]
    effects_ = Effects()

    await consumer(pool, producer).process_batch(records(scratch_topic, events), effects_.handler())

    # The batch's statement failed whole; each record then went on its own, the refused one twice.
    assert effects_.statements == [["1", "3", "4"], ["1"], ["3"], ["3"], ["4"]]
    assert await effects(pool) == [("1", "statement"), ("4", "statement")]
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert (header(dead, "ce_id"), header(dead, "dlq_attempts")) == (str(events[1].id), "2")
    recorded = await pool.fetch("SELECT event_id FROM processed_events")
    assert {row["event_id"] for row in recorded} == {events[0].id, events[2].id}
