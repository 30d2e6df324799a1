"""The transactional outbox against real Postgres and Kafka."""

import asyncio
import contextlib
from collections import Counter

import asyncpg

from shared.events import Event
from shared.kafka import EventProducer
from shared.outbox import OutboxRelay, enqueue
from tests.support.kafka import header, read_records
from tests.support.orders import order_created
from tests.support.polling import eventually


async def test_committed_events_are_published_in_order_and_rolled_back_ones_never(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    committed = [order_created(7, sequence) for sequence in range(1, 6)]
    rolled_back = order_created(7, 99)
    async with scratch_pool.acquire() as conn:
        for event in committed:
            async with conn.transaction():
                await enqueue(conn, scratch_topic, event)
        with contextlib.suppress(RuntimeError):
            async with conn.transaction():
                await enqueue(conn, scratch_topic, rolled_back)
                raise RuntimeError("the business change failed")

    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=0.2)
    running = asyncio.create_task(relay.run())
    try:
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=len(committed))
        await eventually(lambda: _unsent(scratch_pool), lambda unsent: unsent == 0)
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)

    assert [header(r, "ce_id") for r in records] == [str(e.id) for e in committed]
    assert {r.key for r in records} == {b"7"}  # the order id is the key: one partition, one order
    assert [header(r, "ce_sequence") for r in records] == ["1", "2", "3", "4", "5"]


async def test_only_one_relay_publishes_when_several_run(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    schema = await _schema(scratch_pool)
    relays = [OutboxRelay(scratch_pool, schema, producer, poll_interval=0.05) for _ in range(3)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    events: list[Event] = []
    try:
        for order_id in range(1, 201):
            event = order_created(order_id, 1)
            events.append(event)
            async with scratch_pool.acquire() as conn:
                await enqueue(conn, scratch_topic, event)
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=len(events))
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    copies = Counter(header(r, "ce_id") for r in records)
    assert set(copies) == {str(e.id) for e in events}
    assert max(copies.values()) == 1


async def test_the_relay_wakes_on_notify_without_waiting_for_its_poll(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=3600)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # the relay has done its first pass and now waits on NOTIFY
        async with scratch_pool.acquire() as conn:
            await enqueue(conn, scratch_topic, order_created(3, 1))
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=1, timeout=15)
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)
    assert header(records[0], "ce_subject") == "3"


async def _schema(pool: asyncpg.Pool) -> str:
    schema: str = await pool.fetchval("SELECT current_schema()")
    return schema


async def _unsent(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return count
