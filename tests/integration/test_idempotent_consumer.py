"""The idempotent consumer against real Postgres and Kafka: effects once, failures to the DLQ."""

from dataclasses import dataclass, field

import asyncpg
import pytest

from shared.consumer import IdempotentConsumer
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.topics import MAX_EVENT_RECORD_BYTES, dlq
from tests.support.kafka import header, read_records
from tests.support.orders import order_created


@dataclass
class Record:
    """A consumed Kafka record as the consumer reads it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, event: Event, topic: str, offset: int) -> "Record":
        return cls(topic, 0, offset, event.key, event.body(), event.headers())


class Effects:
    """A handler that writes a row per call, and can be told to fail its first calls."""

    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures

    async def __call__(self, conn: Connection, event: Event) -> None:
        self.calls += 1
        await conn.execute("CREATE TABLE IF NOT EXISTS effects (event_id uuid, note text)")
        await conn.execute("INSERT INTO effects VALUES ($1, 'applied')", event.id)
        if self.calls <= self.failures:
            raise RuntimeError(f"failure number {self.calls}")


def consumer(pool: asyncpg.Pool, producer: EventProducer, attempts: int = 3) -> IdempotentConsumer:
    return IdempotentConsumer(pool, producer, "tests", max_attempts=attempts, backoff_seconds=0.01)


async def effect_rows(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM effects")
    return count


async def test_a_redelivered_event_is_applied_once(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    event = order_created(1, 1)
    effects = Effects()

    for offset in (10, 11, 12):  # the same event three times, as after a crash before the commit
        await consumer(scratch_pool, producer).process(Record.of(event, scratch_topic, offset), effects)

    assert effects.calls == 1
    assert await effect_rows(scratch_pool) == 1
    recorded = await scratch_pool.fetchrow("SELECT event_type, kafka_offset FROM processed_events")
    assert recorded is not None
    assert (recorded["event_type"], recorded["kafka_offset"]) == ("order.created", 10)


async def test_a_failing_handler_is_retried_and_its_partial_writes_roll_back(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    effects = Effects(failures=2)

    await consumer(scratch_pool, producer, attempts=3).process(
        Record.of(order_created(2, 1), scratch_topic, 0), effects
    )

    assert effects.calls == 3
    assert await effect_rows(scratch_pool) == 1  # the two failed tries left nothing behind


async def test_an_event_that_keeps_failing_goes_to_the_dlq_with_the_error(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    event = order_created(3, 1)
    effects = Effects(failures=99)

    await consumer(scratch_pool, producer, attempts=3).process(Record.of(event, scratch_topic, 41), effects)

    assert effects.calls == 3
    assert await scratch_pool.fetchval("SELECT count(*) FROM processed_events") == 0
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert dead.value == event.body()
    assert dead.key == event.key
    assert header(dead, "ce_id") == str(event.id)  # the original headers travel along
    assert header(dead, "dlq_error") == "RuntimeError: failure number 3"
    assert header(dead, "dlq_attempts") == "3"
    assert (header(dead, "dlq_original_topic"), header(dead, "dlq_original_offset")) == (scratch_topic, "41")


async def test_a_malformed_message_goes_to_the_dlq_without_running_the_handler(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    effects = Effects()
    record = Record(scratch_topic, 2, 7, b"k", b"\x00garbage", [("ce_specversion", b"1.0")])

    await consumer(scratch_pool, producer).process(record, effects)

    assert effects.calls == 0
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert (dead.key, dead.value) == (b"k", b"\x00garbage")
    assert "missing CloudEvents header(s): ce_id, ce_type" in (header(dead, "dlq_error") or "")
    assert header(dead, "dlq_original_partition") == "2"


async def test_a_record_as_large_as_its_topic_takes_is_dead_lettered_whole(
    scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    # A value this close to the source topic's limit used to make a copy over the producer's limit
    # once the error headers were added: the write failed, and the partition was stuck on it.
    value = b"x" * (MAX_EVENT_RECORD_BYTES - 1024)
    event = order_created(5, 1)
    record = Record(scratch_topic, 0, 3, event.key, value, event.headers())

    await consumer(scratch_pool, producer).process(record, Effects())

    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert dead.value == value
    assert header(dead, "dlq_original_offset") == "3"
    assert "order.created data is invalid" in (header(dead, "dlq_error") or "")


async def test_an_unreachable_database_is_not_blamed_on_the_message(
    stack: tuple[str, str], producer: EventProducer, scratch_topic: str
) -> None:
    pool = await asyncpg.create_pool(stack[0], min_size=1, max_size=1)
    await pool.close()  # every acquire now fails as if the database were gone
    effects = Effects()

    with pytest.raises(asyncpg.InterfaceError):
        await consumer(pool, producer).process(Record.of(order_created(4, 1), scratch_topic, 0), effects)

    assert effects.calls == 0
