"""The idempotent consumer's batch mode against real Postgres and Kafka: one transaction for a poll's
records, the same effects once, a poison record dead-lettered alone and its neighbours committed."""

import asyncpg
import pytest
from prometheus_client import REGISTRY

from shared.consumer import IdempotentConsumer, Unprocessable
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.topics import dlq
from tests.integration.test_idempotent_consumer import Record, consumer
from tests.support.kafka import header, read_records
from tests.support.orders import order_created


class Effects:
    """A handler that writes a row per call and records which events it saw, in which transaction;
    `refuse` are Unprocessable, `fail` raise a retryable error their first `failures` times."""

    def __init__(
        self, *, refuse: frozenset[int] = frozenset(), fail: frozenset[int] = frozenset(), failures: int = 0
    ) -> None:
        self.calls: list[int] = []
        self.transactions: set[int] = set()
        self.refuse = refuse
        self.fail = fail
        self.failures = failures

    async def __call__(self, conn: Connection, event: Event) -> None:
        order = int(event.subject)
        self.calls.append(order)
        self.transactions.add(await conn.fetchval("SELECT txid_current()"))
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, order)
        if order in self.refuse:
            raise Unprocessable(f"there is no order {order}")
        if order in self.fail and self.calls.count(order) <= self.failures:
            raise RuntimeError(f"order {order} failed")


@pytest.fixture
async def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    await scratch_pool.execute("CREATE TABLE effects (event_id uuid, order_id int)")
    return scratch_pool


def batch(topic: str, *orders: int, first_offset: int = 0) -> tuple[list[Event], list[Record]]:
    events = [order_created(order, 1) for order in orders]
    return events, [Record.of(event, topic, first_offset + index) for index, event in enumerate(events)]


async def applied(pool: asyncpg.Pool) -> list[int]:
    return [row["order_id"] for row in await pool.fetch("SELECT order_id FROM effects ORDER BY order_id")]


def consumed(topic: str, outcome: str) -> float | None:
    """events_consumed_total of the test's order.created events on `topic`, as /metrics shows it."""
    labels = {"topic": topic, "type": "order.created", "outcome": outcome}
    return REGISTRY.get_sample_value("events_consumed_total", labels)


async def processed(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM processed_events")
    return count


async def test_a_batch_is_applied_in_one_transaction(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    _, records = batch(scratch_topic, 1, 2, 3, 4)
    effects = Effects()

    await consumer(pool, producer).process_batch(records, effects)

    assert effects.calls == [1, 2, 3, 4]
    assert len(effects.transactions) == 1
    assert await applied(pool) == [1, 2, 3, 4]
    assert await processed(pool) == 4


async def test_a_long_batch_is_applied_in_transactions_of_a_bounded_size(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    _, records = batch(scratch_topic, *range(1, 8))
    effects = Effects()
    bounded = IdempotentConsumer(pool, producer, "tests", backoff_seconds=0.01, transaction_records=3)

    await bounded.process_batch(records, effects)

    assert len(effects.transactions) == 3  # 3 + 3 + 1
    assert await applied(pool) == list(range(1, 8))


async def test_an_unprocessable_record_is_dead_lettered_alone_and_its_neighbours_committed(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    events, records = batch(scratch_topic, 1, 2, 3, first_offset=20)
    effects = Effects(refuse=frozenset({2}))

    await consumer(pool, producer, attempts=5).process_batch(records, effects)

    assert await applied(pool) == [1, 3]  # the refused record's write rolled back
    assert await processed(pool) == 2
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert header(dead, "ce_id") == str(events[1].id)
    assert header(dead, "dlq_error") == "Unprocessable: there is no order 2"
    assert (header(dead, "dlq_attempts"), header(dead, "dlq_original_offset")) == ("1", "21")
    # /metrics counts them per event type and outcome, and the dead letter per DLQ topic.
    assert consumed(scratch_topic, "applied") == 2
    assert consumed(scratch_topic, "dead_lettered") == 1
    assert REGISTRY.get_sample_value("dlq_messages_written_total", {"topic": dlq(scratch_topic)}) == 1


async def test_a_record_that_does_not_decode_is_dead_lettered_alone(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    _, records = batch(scratch_topic, 1, 3)
    garbage = Record(scratch_topic, 0, 5, b"k", b"\x00garbage", [("ce_specversion", b"1.0")])

    await consumer(pool, producer).process_batch([records[0], garbage, records[1]], Effects())

    assert await applied(pool) == [1, 3]
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert (dead.value, header(dead, "dlq_original_offset")) == (b"\x00garbage", "5")


async def test_a_retryable_failure_falls_back_to_one_record_at_a_time_and_applies_each_once(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    _, records = batch(scratch_topic, 1, 2, 3)
    effects = Effects(fail=frozenset({2}), failures=2)  # fails in the batch, then once more on its own

    await consumer(pool, producer, attempts=3).process_batch(records, effects)

    assert effects.calls == [1, 2, 1, 2, 2, 3]  # the batch's try rolled back, then one by one
    assert await applied(pool) == [1, 2, 3]
    assert await processed(pool) == 3
    assert await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=0, timeout=2) == []


async def test_a_batch_redelivered_after_a_crash_applies_nothing_twice(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    _, records = batch(scratch_topic, 1, 2, 3, 4, 5)
    effects = Effects()
    # The first delivery's transaction committed the first three, then the process died before the
    # offsets were committed: the partition is read again from the batch's start, with more behind.
    await consumer(pool, producer).process_batch(records[:3], effects)

    await consumer(pool, producer).process_batch(records, effects)

    assert effects.calls == [1, 2, 3, 4, 5]
    assert await applied(pool) == [1, 2, 3, 4, 5]
    assert await processed(pool) == 5


async def test_a_crash_inside_the_batch_transaction_commits_none_of_it(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    _, records = batch(scratch_topic, 1, 2, 3)

    class Crash(BaseException):
        """Not an Exception: the process going away, not a handler's error."""

    async def crashing(conn: Connection, event: Event) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, int(event.subject))
        if event.subject == "2":
            raise Crash

    with pytest.raises(Crash):
        await consumer(pool, producer).process_batch(records, crashing)
    assert await applied(pool) == []
    assert await processed(pool) == 0

    effects = Effects()
    await consumer(pool, producer).process_batch(records, effects)  # redelivered
    assert effects.calls == [1, 2, 3]
    assert await applied(pool) == [1, 2, 3]


async def test_an_event_twice_in_one_batch_is_applied_once(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    event = order_created(7, 1)
    effects = Effects()

    await consumer(pool, producer).process_batch(
        [Record.of(event, scratch_topic, offset) for offset in (0, 1)], effects
    )

    assert effects.calls == [7]
    assert await processed(pool) == 1


async def test_an_unreachable_database_is_not_blamed_on_the_batch(
    stack: tuple[str, str], producer: EventProducer, scratch_topic: str
) -> None:
    pool = await asyncpg.create_pool(stack[0], min_size=1, max_size=1)
    await pool.close()
    _, records = batch(scratch_topic, 1, 2)
    effects = Effects()

    with pytest.raises(asyncpg.InterfaceError):
        await consumer(pool, producer).process_batch(records, effects)

    assert effects.calls == []
    assert await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=0, timeout=2) == []
    assert consumed(scratch_topic, "redelivered") == 1  # the first record; the partition waits on it
    assert consumed(scratch_topic, "dead_lettered") is None
