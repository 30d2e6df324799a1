"""The delivery guarantees, tested by breaking things: Kafka away, processes killed, poison messages."""

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events import Event
from shared.topics import ORDERS_EVENTS, dlq
from tests.support.kafka import header, read_records
from tests.support.orders import order_created
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.storefront import audit_counts, create_orders, unsent_outbox_rows, wait_applied_once

needs_local_kafka = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="stops the broker, so needs the launcher's own Kafka"
)


@needs_local_kafka
async def test_orders_accepted_while_kafka_is_down_all_arrive_once_and_in_order(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    receiver: WebhookReceiver,
    register_endpoint: Callable[[str, list[str]], Awaitable[str]],
    kafka_outage: Callable[[], Awaitable[None]],
) -> None:
    await register_endpoint(receiver.url, ["order.created"])
    api = system["order_api"].url

    order_ids = await create_orders(http, api, 30, concurrency=1)  # one at a time: creation order = id order

    readiness = await http.get(f"{api}/health/ready")
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["kafka"] == "unreachable"
    assert await unsent_outbox_rows(admin_db, order_ids) == len(order_ids)

    await kafka_outage()

    await wait_applied_once(admin_db, order_ids)
    webhook_ids = await eventually(
        lambda: _webhooks_for(receiver, order_ids), lambda seen: set(seen) == set(order_ids), timeout=60
    )
    assert webhook_ids == Counter(dict.fromkeys(order_ids, 1))
    records = await read_records(stack[1], ORDERS_EVENTS, lambda r: _order_id(r) in order_ids, expect=len(order_ids))
    # Per partition, the first copy of each event arrives in the order the orders were created.
    by_partition: dict[int, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        seen = by_partition.setdefault(record.partition, [])
        if _order_id(record) not in seen:
            seen.append(_order_id(record))
    assert all(ids == sorted(ids) for ids in by_partition.values())
    assert sorted(i for ids in by_partition.values() for i in ids) == order_ids


@needs_local_kafka
async def test_order_api_killed_before_its_relay_sent_loses_no_event(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    kafka_outage: Callable[[], Awaitable[None]],
) -> None:
    api = system["order_api"]
    order_ids = await create_orders(http, api.url, 10)
    assert await unsent_outbox_rows(admin_db, order_ids) == len(order_ids)  # committed, not yet sent

    api.kill()
    await kafka_outage()
    api.start()

    await wait_applied_once(admin_db, order_ids)
    assert await unsent_outbox_rows(admin_db, order_ids) == 0


async def test_consumer_killed_mid_batch_applies_each_event_exactly_once(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    anonymizer = system["anonymizer"]
    assert anonymizer.terminate() == 0
    order_ids = await create_orders(http, system["order_api"].url, 600)

    # Watch from the moment it answers at all: by the time it reports ready it may be well into the batch.
    anonymizer.start(wait_ready=False)
    applied_before_kill = await eventually(
        lambda: audit_counts(admin_db, order_ids), lambda seen: len(seen) >= 20, interval=0.01
    )
    anonymizer.kill()
    assert len(applied_before_kill) < len(order_ids), "the consumer finished before it could be killed"
    anonymizer.start()

    await wait_applied_once(admin_db, order_ids)
    processed = await admin_db.fetchval(
        """SELECT count(*) FROM anonymizer.processed_events p
           JOIN anonymizer.audit_log a ON a.event_id = p.event_id WHERE a.order_id = ANY($1::bigint[])""",
        order_ids,
    )
    assert processed == len(order_ids)


async def test_a_poison_message_goes_to_the_dlq_and_the_consumer_moves_on(
    system: dict[str, ServiceProcess], admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order_id = random.randint(10**12, 10**13)  # an order id no real order has; same key, same partition
    key = str(order_id).encode()
    valid = _event_for(order_id)
    producer = AIOKafkaProducer(bootstrap_servers=stack[1])
    await producer.start()
    try:
        poison = await producer.send_and_wait(
            ORDERS_EVENTS, b"{this is not json", key=key, headers=[("ce_specversion", b"1.0"), ("ce_type", b"?")]
        )
        await producer.send_and_wait(ORDERS_EVENTS, valid.body(), key=key, headers=valid.headers())
    finally:
        await producer.stop()

    dead = await read_records(
        stack[1],
        dlq(ORDERS_EVENTS),
        lambda r: (
            header(r, "dlq_original_offset") == str(poison.offset)
            and header(r, "dlq_original_partition") == str(poison.partition)
            and header(r, "dlq_consumer") == "anonymizer"
        ),
        expect=1,
    )
    assert dead[0].value == b"{this is not json"
    assert dead[0].key == key
    assert "missing CloudEvents header(s)" in (header(dead[0], "dlq_error") or "")
    assert header(dead[0], "dlq_original_topic") == ORDERS_EVENTS
    applied = await eventually(lambda: audit_counts(admin_db, [order_id]), lambda seen: order_id in seen)
    assert applied == Counter({order_id: 1})


async def test_a_record_with_a_header_that_is_not_utf8_is_dead_lettered_and_its_neighbours_processed(
    system: dict[str, ServiceProcess],
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    receiver: WebhookReceiver,
    register_endpoint: Callable[[str, list[str]], Awaitable[str]],
) -> None:
    await register_endpoint(receiver.url, ["order.created"])
    order_id = random.randint(10**12, 10**13)
    before, bad, after = (_event_for(order_id, sequence) for sequence in (1, 2, 3))
    producer = AIOKafkaProducer(bootstrap_servers=stack[1], linger_ms=50)  # one batch, one partition
    await producer.start()
    try:
        acks = [
            await producer.send(ORDERS_EVENTS, event.body(), key=event.key, headers=headers)
            for event, headers in (
                (before, before.headers()),
                (bad, [*bad.headers(), ("x-note", b"caf\xe9 \xff")]),
                (after, after.headers()),
            )
        ]
        bad_offset = (await asyncio.gather(*acks))[1].offset
    finally:
        await producer.stop()

    # The batch consumer (the dispatcher's fan-out) delivers both neighbours; the others apply them.
    delivered = await eventually(
        lambda: _webhook_ids(receiver), lambda ids: {str(before.id), str(after.id)} <= ids, timeout=60
    )
    assert str(bad.id) not in delivered
    assert await eventually(lambda: audit_counts(admin_db, [order_id]), lambda seen: seen[order_id] == 2) == Counter(
        {order_id: 2}
    )
    dead = await read_records(
        stack[1],
        dlq(ORDERS_EVENTS),
        lambda r: header(r, "dlq_original_offset") == str(bad_offset) and header(r, "ce_id") == str(bad.id),
        expect=3,
    )
    assert {header(r, "dlq_consumer") for r in dead} == {"anonymizer", "cancellation_worker", "webhook_dispatcher"}
    assert all("not UTF-8" in (header(r, "dlq_error") or "") for r in dead)
    assert all(dict(r.headers)["x-note"] == b"caf\xe9 \xff" for r in dead), "the copy keeps the original bytes"


async def _webhook_ids(receiver: WebhookReceiver) -> set[str]:
    return {request.headers["webhook-id"] for request in receiver.received()}


def _order_id(record: object) -> int:
    subject = header(record, "ce_subject")
    return int(subject) if subject and subject.isdigit() else -1


async def _webhooks_for(receiver: WebhookReceiver, order_ids: list[int]) -> Counter[int]:
    wanted = set(order_ids)
    return Counter(
        order_id
        for request in receiver.received()
        if (order_id := json.loads(request.body)["data"]["order_id"]) in wanted
    )


def _event_for(order_id: int, sequence: int = 1) -> Event:
    return order_created(order_id, sequence, email="poison-neighbour@example.com")
