"""The idempotent consumer with a BatchHandler, against real Postgres and Kafka: a batch's plain events
applied by one statement, the others one by one in their order (every event of their order with them),
a poison record dead-lettered alone and every other event applied once."""

from collections.abc import Sequence

import asyncpg
import pytest

from shared.consumer import BatchHandler, IdempotentConsumer, Unprocessable
from shared.consumer_handlers import split_by_subject
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.orders import OrderLifecycleData
from shared.topics import dlq
from tests.integration.test_idempotent_consumer import Record
from tests.support.kafka import header, read_records
from tests.support.orders import order_created, sample_order

# An order whose later events need the handler's per-event path (say, the order asked to be forgotten).
SPECIAL = 2
# An order whose events the per-event path refuses: a poison record.
REFUSED = 3


class Copies:
    """A consumer's copy of orders: `bulk` writes the plain events' rows in one statement, `each` one
    row per event; both record what they were given."""

    def __init__(self) -> None:
        self.bulk_calls: list[list[tuple[int, int]]] = []
        self.each_calls: list[tuple[int, int]] = []

    @staticmethod
    def _key(event: Event) -> tuple[int, int]:
        assert isinstance(event.data, OrderLifecycleData)
        return event.data.order_id, event.data.sequence

    @classmethod
    def _plain(cls, event: Event) -> bool:
        """An event of its own is plain, but for the special order's later ones and the refused order's."""
        order_id, sequence = cls._key(event)
        return order_id != REFUSED and not (order_id == SPECIAL and sequence > 1)

    async def bulk(self, conn: Connection, events: Sequence[Event]) -> Sequence[Event]:
        plain, rest = split_by_subject(events, self._plain)
        self.bulk_calls.append([self._key(event) for event in plain])
        await conn.execute(
            """INSERT INTO effects (event_id, order_id, sequence, how)
               SELECT *, 'bulk' FROM unnest($1::uuid[], $2::bigint[], $3::integer[])""",
            [event.id for event in plain],
            [self._key(event)[0] for event in plain],
            [self._key(event)[1] for event in plain],
        )
        return rest

    async def each(self, conn: Connection, event: Event) -> None:
        order_id, sequence = self._key(event)
        self.each_calls.append((order_id, sequence))
        await conn.execute(
            "INSERT INTO effects (event_id, order_id, sequence, how) VALUES ($1, $2, $3, 'each')",
            event.id,
            order_id,
            sequence,
        )
        if order_id == REFUSED:
            raise Unprocessable(f"there is no order {order_id}")

    def handler(self) -> BatchHandler[Event]:
        return BatchHandler(self.bulk, self.each)


@pytest.fixture
async def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    await scratch_pool.execute(
        "CREATE TABLE effects (id serial, event_id uuid, order_id bigint, sequence integer, how text)"
    )
    return scratch_pool


def changed(order_id: int, sequence: int) -> Event:
    data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=sample_order(order_id))
    return Event.new("order.updated", "tests", str(order_id), data, sequence=sequence)


def records(topic: str, events: list[Event]) -> list[Record]:
    return [Record.of(event, topic, offset) for offset, event in enumerate(events)]


async def effects(pool: asyncpg.Pool) -> list[tuple[int, int, str]]:
    rows = await pool.fetch("SELECT order_id, sequence, how FROM effects ORDER BY id")
    return [(row["order_id"], row["sequence"], row["how"]) for row in rows]


def consumer(pool: asyncpg.Pool, producer: EventProducer) -> IdempotentConsumer:
    return IdempotentConsumer(pool, producer, "tests", max_attempts=2, backoff_seconds=0.01)


async def test_plain_events_go_in_bulk_and_an_order_needing_more_has_all_its_events_applied_in_order(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str
) -> None:
    # Order 2's first event looks plain, but a later one needs the per-event path: both take it, in order.
    events = [order_created(1), changed(SPECIAL, 1), order_created(4), changed(SPECIAL, 2), changed(1, 2)]
    copies = Copies()

    await consumer(pool, producer).process_batch(records(scratch_topic, events), copies.handler())

    assert copies.bulk_calls == [[(1, 1), (4, 1), (1, 2)]]
    assert copies.each_calls == [(SPECIAL, 1), (SPECIAL, 2)]
    assert await effects(pool) == [(1, 1, "bulk"), (4, 1, "bulk"), (1, 2, "bulk"), (2, 1, "each"), (2, 2, "each")]
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == len(events)


async def test_a_poison_record_is_dead_lettered_alone_and_every_other_event_applied_once(
    pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str, stack: tuple[str, str]
) -> None:
    events = [order_created(1), changed(SPECIAL, 1), order_created(REFUSED), order_created(4)]
    copies = Copies()

    await consumer(pool, producer).process_batch(records(scratch_topic, events), copies.handler())

    # The batch's transaction rolled back whole at the refusal; each record then went on its own.
    assert sorted(await effects(pool)) == [(1, 1, "bulk"), (2, 1, "bulk"), (4, 1, "bulk")]
    [dead] = await read_records(stack[1], dlq(scratch_topic), lambda _: True, expect=1)
    assert (header(dead, "ce_id"), header(dead, "dlq_original_offset")) == (str(events[2].id), "2")
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 3

    # Delivered again (a crash before the offsets were committed): nothing is applied twice.
    again = Copies()
    await consumer(pool, producer).process_batch(records(scratch_topic, events), again.handler())
    assert set(again.each_calls) == {(REFUSED, 1)}  # only the dead-lettered one was never recorded
    assert len(await effects(pool)) == 3
