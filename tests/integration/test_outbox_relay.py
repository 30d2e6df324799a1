"""The transactional outbox against real Postgres and Kafka."""

import asyncio
import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY

from shared.dsn import service_dsn
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.outbox import OUTBOX_COLUMNS, OutboxRelay, enqueue, outbox_values
from shared.services import ANONYMIZER
from shared.topics import MAX_EVENT_RECORD_BYTES
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


@contextlib.asynccontextmanager
async def _notifications(pool: asyncpg.Pool) -> AsyncIterator[list[str]]:
    """The NOTIFY payloads on the schema's outbox channel while inside, as a relay hears them."""
    channel = f"{await _schema(pool)}.outbox"
    heard: list[str] = []

    def hear(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        heard.append(str(payload))

    async with pool.acquire() as listener:
        await listener.add_listener(channel, hear)
        try:
            yield heard
        finally:
            await listener.remove_listener(channel, hear)


async def test_a_row_written_under_another_search_path_still_wakes_the_relay(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    schema = await _schema(scratch_pool)
    relay = OutboxRelay(scratch_pool, schema, producer, poll_interval=3600)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # the relay has done its first pass and now waits on NOTIFY
        async with scratch_pool.acquire() as conn:
            await conn.execute("SET search_path TO public")  # an operator's session, say
            try:
                await conn.execute(
                    f'INSERT INTO "{schema}".outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5)',
                    *outbox_values(scratch_topic, order_created(4, 1)),
                )
            finally:
                await conn.execute(f'SET search_path TO "{schema}"')
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=1, timeout=15)
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)
    assert header(records[0], "ce_subject") == "4"


async def test_while_the_relay_relays_writers_send_no_notify_and_every_row_goes_out_without_its_poll(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=3600)
    running = asyncio.create_task(relay.run())
    events = [order_created(order_id, 1) for order_id in range(1, 41)]
    try:
        async with _notifications(scratch_pool) as heard:
            for event in events:  # faster than the relay's passes: it relays from the first on
                async with scratch_pool.acquire() as conn:
                    await enqueue(conn, scratch_topic, event)
                await asyncio.sleep(0.01)
            records = await read_records(stack[1], scratch_topic, lambda _: True, expect=len(events), timeout=15)
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)

    assert {header(r, "ce_id") for r in records} == {str(e.id) for e in events}
    assert len(records) == len(events)
    assert len(heard) < len(events) // 4


async def test_a_row_committed_after_the_relay_stopped_relaying_by_a_writer_that_sent_no_notify_goes_out(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=3600)
    running = asyncio.create_task(relay.run())
    writing = True

    async def keep_writing() -> None:  # keeps the relay relaying
        order_id = 100
        while writing:
            order_id += 1
            async with scratch_pool.acquire() as conn:
                await enqueue(conn, scratch_topic, order_created(order_id, 1))
            await asyncio.sleep(0.01)

    async def relaying() -> bool:
        flag: bool = await scratch_pool.fetchval("SELECT relaying FROM outbox_leader")
        return flag

    others = asyncio.create_task(keep_writing())
    try:
        await eventually(relaying, lambda flag: flag)
        async with scratch_pool.acquire() as writer:
            late = writer.transaction()
            await late.start()
            before = await writer.fetchval("SELECT relaying FROM outbox_leader")
            await enqueue(writer, scratch_topic, order_created(7, 1))  # sends no NOTIFY: the relay relays
            after = await writer.fetchval("SELECT relaying FROM outbox_leader")
            writing = False
            await others
            # The relay's passes find nothing more while this is uncommitted: it stops relaying meanwhile.
            await eventually(relaying, lambda flag: not flag, timeout=15)
            await asyncio.sleep(0.3)
            await late.commit()
        records = await read_records(stack[1], scratch_topic, lambda r: r.key == b"7", expect=1, timeout=15)
    finally:
        writing = False
        await others
        relay.stop()
        await asyncio.wait_for(running, 10)

    assert (before, after) == (True, True)
    assert header(records[0], "ce_subject") == "7"


async def test_a_row_kafka_can_never_take_is_parked_and_every_other_row_is_published_once(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    before, too_large, after = order_created(8, 1), order_created(8, 2), order_created(8, 3)
    async with scratch_pool.acquire() as conn:
        for event in (before, too_large, after):
            await enqueue(conn, scratch_topic, event)
        # An event over the topic's limit (an order that outgrew it before order_api bounded orders).
        await conn.execute(
            "UPDATE outbox SET body = $2 WHERE event_id = $1", too_large.id, b"x" * (MAX_EVENT_RECORD_BYTES + 1)
        )
    parked_before = _parked_metric(scratch_topic)

    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=0.1)
    running = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _unsent(scratch_pool), lambda unsent: unsent == 0)
        await asyncio.sleep(1.0)  # several more passes: nothing may go out twice
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=2)
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)

    assert [header(r, "ce_id") for r in records] == [str(before.id), str(after.id)]
    parked = await scratch_pool.fetch("SELECT event_id, topic, length(body) AS size, error FROM outbox_dead_letters")
    assert [(row["event_id"], row["topic"], row["size"]) for row in parked] == [
        (too_large.id, scratch_topic, MAX_EVENT_RECORD_BYTES + 1)
    ]
    assert "MessageSizeTooLargeError" in parked[0]["error"]
    assert _parked_metric(scratch_topic) == parked_before + 1


async def test_another_role_can_neither_take_nor_block_the_relays_leadership(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    schema = await _schema(scratch_pool)
    # Leadership used to be this advisory lock, which any role of the database could take.
    old_key = int.from_bytes(hashlib.sha256(f"outbox:{schema}".encode()).digest()[:8], "big") >> 1
    intruder = await asyncpg.connect(service_dsn(ANONYMIZER, stack[0]))
    try:
        await intruder.execute("SELECT pg_advisory_lock($1)", old_key)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intruder.execute("UPDATE order_api.outbox_leader SET lease_until = 'infinity'")

        relay = OutboxRelay(scratch_pool, schema, producer, poll_interval=0.1)
        running = asyncio.create_task(relay.run())
        try:
            async with scratch_pool.acquire() as conn:
                await enqueue(conn, scratch_topic, order_created(9, 1))
            await read_records(stack[1], scratch_topic, lambda _: True, expect=1, timeout=15)
        finally:
            relay.stop()
            await asyncio.wait_for(running, 10)
    finally:
        await intruder.close()


async def test_a_stand_by_takes_over_once_a_dead_leaders_lease_runs_out(
    scratch_pool: asyncpg.Pool, scratch_topic: str, producer: EventProducer, stack: tuple[str, str]
) -> None:
    # A leader that died without handing over (SIGKILL) leaves its lease behind.
    await scratch_pool.execute("UPDATE outbox_leader SET holder = 'dead', lease_until = now() + interval '2 seconds'")
    async with scratch_pool.acquire() as conn:
        await enqueue(conn, scratch_topic, order_created(10, 1))
    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer, poll_interval=0.1, lease_seconds=1.0)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)
        assert await _unsent(scratch_pool) == 1, "published while another instance held the lease"
        await read_records(stack[1], scratch_topic, lambda _: True, expect=1, timeout=15)
        assert await scratch_pool.fetchval("SELECT holder FROM outbox_leader") != "dead"
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)
    # Stopping hands the lead over at once.
    assert await scratch_pool.fetchval("SELECT lease_until < now() FROM outbox_leader")


def _parked_metric(topic: str) -> float:
    return REGISTRY.get_sample_value("outbox_events_parked_total", {"topic": topic}) or 0.0


async def _schema(pool: asyncpg.Pool) -> str:
    schema: str = await pool.fetchval("SELECT current_schema()")
    return schema


async def _unsent(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return count


class _OneTimeout(EventProducer):
    """The real producer, except that its first batch reports one record as timed out (a passing
    failure: the broker may or may not have it), as a broker that stalls mid-batch does."""

    def __init__(self, bootstrap: str, record: int) -> None:
        super().__init__(bootstrap, "test-outbox-timeout")
        self._record: int | None = record

    async def send_each(self, records: Sequence[OutgoingRecord]) -> list[Exception | None]:
        outcomes = await super().send_each(records)
        if self._record is not None:
            outcomes[self._record], self._record = KafkaTimeoutError("stalled"), None
        return outcomes


async def test_after_a_passing_failure_mid_batch_the_rows_after_it_are_sent_again(
    scratch_pool: asyncpg.Pool, scratch_topic: str, stack: tuple[str, str]
) -> None:
    events = [order_created(9, sequence) for sequence in (1, 2, 3)]
    async with scratch_pool.acquire() as conn:
        for event in events:
            await enqueue(conn, scratch_topic, event)
    producer = _OneTimeout(stack[1], record=1)
    await producer.connect()
    relay = OutboxRelay(scratch_pool, await _schema(scratch_pool), producer)
    try:
        async with scratch_pool.acquire() as conn:
            with pytest.raises(KafkaTimeoutError):
                await relay.publish_pending(conn)
            unsent = await conn.fetch("SELECT event_id FROM outbox WHERE sent_at IS NULL ORDER BY id")
            assert [row["event_id"] for row in unsent] == [events[1].id, events[2].id]
            assert await relay.publish_pending(conn) == 2
        records = await read_records(stack[1], scratch_topic, lambda _: True, expect=5)
    finally:
        await producer.close()

    # The last copy of each event on the topic comes in the order the events were made.
    last = {header(record, "ce_sequence"): index for index, record in enumerate(records)}
    assert sorted(last, key=last.__getitem__) == ["1", "2", "3"]
    assert await _unsent(scratch_pool) == 0
