"""The cancellation worker and the anonymizer working through a backlog of `orders.events` in batches
(issue 12: one transaction and one offset commit per poll, most events applied set-based): a poison
record amid the backlog is dead-lettered alone, a SIGKILL in the middle and the redelivery after the
restart apply no event twice and lose none, and each order's events are applied in their order."""

import asyncio
import random
import time
from collections.abc import Iterator

import asyncpg

from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.orders import OrderLifecycleData
from shared.services import ANONYMIZER, CANCELLATION_WORKER
from shared.topics import ORDERS_EVENTS, dlq
from tests.support.kafka import header, read_records
from tests.support.orders import sample_order
from tests.support.processes import ServiceProcess

ORDERS = 1000
# Every CHANGED-th order gets two more events after its creation (sequences 2 and 3).
CHANGED = 5
PROGRESS = {
    ANONYMIZER: "SELECT count(DISTINCT event_id) FROM anonymizer.audit_log WHERE order_id = ANY($1::bigint[])",
    CANCELLATION_WORKER: "SELECT count(*) FROM cancellation.orders WHERE order_id = ANY($1::bigint[])",
}


def lifecycle(event_type: str, order_id: int, sequence: int, *, forget: bool = False) -> Event:
    """An order's event as order_api publishes it; each sequence with an email of its own."""
    order = sample_order(order_id, email=f"buyer-{order_id}-{sequence}@example.com")
    if forget:
        order = order.model_copy(update={"request_to_be_forgotten": True})
    data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=order)
    return Event.new(event_type, "order_api", str(order_id), data, sequence=sequence)


def backlog(first: int) -> Iterator[Event]:
    """Every order created; every CHANGED-th changed twice after (the anonymizer's first change of every
    other one asks for it to be forgotten, so the anonymizer applies those orders one event at a time)."""
    for order_id in range(first, first + ORDERS):
        yield lifecycle("order.created", order_id, 1)
        if (order_id - first) % CHANGED == 0:
            yield lifecycle("order.updated", order_id, 2, forget=(order_id - first) % (2 * CHANGED) == 0)
            yield lifecycle("order.paid", order_id, 3)


async def publish(bootstrap: str, events: list[Event], poison: OutgoingRecord, at: int) -> None:
    """The events in order, keyed by order, and the poison record among them at index `at`."""
    producer = EventProducer(bootstrap, "tests-backlog")
    await producer.connect()
    try:
        records = [OutgoingRecord(ORDERS_EVENTS, event.key, event.body(), event.headers()) for event in events]
        records.insert(at, poison)
        for start in range(0, len(records), 1000):
            await producer.send_all(records[start : start + 1000])
    finally:
        await producer.close()


async def until(admin_db: asyncpg.Connection, query: str, order_ids: list[int], done: int, timeout: float) -> int:
    """Poll `query` (a count) every 20 ms until it reaches `done` or at least 1 when `done` is 0."""
    deadline = time.monotonic() + timeout
    while True:
        count: int = await admin_db.fetchval(query, order_ids)
        if count >= max(done, 1):
            return count
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} of {done or 1} after {timeout} s: {query}")
        await asyncio.sleep(0.02)


async def test_a_backlog_with_a_poison_record_and_a_kill_in_the_middle_is_applied_once_and_in_order(
    system: dict[str, ServiceProcess], stack: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    services = {spec: system[spec.name] for spec in PROGRESS}
    for process in services.values():  # the backlog builds up while they are away
        assert process.terminate() == 0
    first = 9_200_000_000_000_000 + random.randrange(10**12) * 10**4
    order_ids = list(range(first, first + ORDERS))
    events = list(backlog(first))
    poison_key = str(first + ORDERS // 2).encode()
    poison = OutgoingRecord(ORDERS_EVENTS, poison_key, b"\x00not an event", [("ce_type", b"order.created")])
    await publish(stack[1], events, poison, at=len(events) // 3)

    killed_at = {}
    for spec, process in services.items():  # each killed as soon as it has applied some of the backlog
        # Watched from the moment it answers at all: by the time it is ready it may be well into it.
        process.start(wait_ready=False)
        killed_at[spec] = await until(admin_db, PROGRESS[spec], order_ids, 0, timeout=120)
        process.kill()
    for process in services.values():
        process.start()
    expected = {ANONYMIZER: len(events), CANCELLATION_WORKER: ORDERS}
    for spec in services:
        await until(admin_db, PROGRESS[spec], order_ids, expected[spec], timeout=180)

    assert all(killed_at[spec] < expected[spec] for spec in services), f"finished before the kill: {killed_at}"
    # Every event recorded as processed once, and the anonymizer's audit row of each written once.
    ids = [event.id for event in events]
    for schema in ("anonymizer", "cancellation"):
        recorded = await admin_db.fetchval(
            f"SELECT count(*) FROM {schema}.processed_events WHERE event_id = ANY($1::uuid[])", ids
        )
        assert recorded == len(events), schema
    audit = await admin_db.fetch(
        """SELECT order_id, array_agg(sequence ORDER BY id) AS sequences FROM anonymizer.audit_log
           WHERE order_id = ANY($1::bigint[]) GROUP BY order_id""",
        order_ids,
    )
    changed = {order_id for order_id in order_ids if (order_id - first) % CHANGED == 0}
    assert {row["order_id"]: row["sequences"] for row in audit} == {
        order_id: [1, 2, 3] if order_id in changed else [1] for order_id in order_ids
    }
    # Each copy holds its order's last event.
    copies = await admin_db.fetch(
        """SELECT order_id, last_sequence, snapshot->>'email' AS email FROM cancellation.orders
           WHERE order_id = ANY($1::bigint[])""",
        order_ids,
    )
    assert {row["order_id"]: (row["last_sequence"], row["email"]) for row in copies} == {
        order_id: (3 if order_id in changed else 1, f"buyer-{order_id}-{3 if order_id in changed else 1}@example.com")
        for order_id in order_ids
    }
    known = await admin_db.fetch(
        "SELECT order_id, last_sequence FROM anonymizer.known_orders WHERE order_id = ANY($1::bigint[])", order_ids
    )
    assert {row["order_id"]: row["last_sequence"] for row in known} == {
        order_id: 3 if order_id in changed else 1 for order_id in order_ids
    }
    # The poison record went to the dead-letter topic from each service (redelivered after the kill,
    # it may have gone twice), and none of the events did.
    ours = {poison_key, *(event.key for event in events)}
    names = {spec.name for spec in services}
    dead = await read_records(
        stack[1],
        dlq(ORDERS_EVENTS),
        lambda record: record.key in ours and header(record, "dlq_consumer") in names,
        expect=2,
    )
    assert {record.key for record in dead} == {poison_key}
    assert {header(record, "dlq_consumer") for record in dead} == names
