"""A handler's `Unprocessable` verdict, against real Postgres and Kafka: no retries, straight to the DLQ."""

import asyncpg

from shared.consumer import Unprocessable
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.topics import dlq
from tests.integration.test_idempotent_consumer import Record, consumer
from tests.support.kafka import header, read_records
from tests.support.orders import order_created


async def test_an_unprocessable_event_is_dead_lettered_at_once_and_its_writes_roll_back(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    await scratch_pool.execute("CREATE TABLE effects (event_id uuid)")
    calls = 0

    async def refuse(conn: Connection, event: Event) -> None:
        nonlocal calls
        calls += 1
        await conn.execute("INSERT INTO effects VALUES ($1)", event.id)  # written, then refused
        raise Unprocessable("there is no order 5")

    event = order_created(5, 1)
    await consumer(scratch_pool, producer, attempts=5).process(Record.of(event, scratch_topic, 9), refuse)

    assert calls == 1  # not retried: it could never succeed
    assert await scratch_pool.fetchval("SELECT count(*) FROM effects") == 0
    assert await scratch_pool.fetchval("SELECT count(*) FROM processed_events") == 0
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert header(dead, "ce_id") == str(event.id)
    assert header(dead, "dlq_error") == "Unprocessable: there is no order 5"
    assert (header(dead, "dlq_attempts"), header(dead, "dlq_original_offset")) == ("1", "9")
