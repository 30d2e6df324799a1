"""The backlog gauges on /metrics follow the real state: a consumer group's lag as records are produced
and committed, the outbox's unsent rows and their age, the dispatcher's per-endpoint backlog."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import GroupCoordinatorNotAvailableError
from prometheus_client import REGISTRY

from services.webhook_dispatcher import store
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.workers import export_backlog as export_endpoint_backlog
from shared.consumer_lag import ConsumerLag
from shared.kafka import EventProducer, OutgoingRecord
from shared.outbox import enqueue, export_backlog
from shared.services import WEBHOOK_DISPATCHER
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def export(lag: ConsumerLag) -> None:
    """One reading put on /metrics; on a fresh broker the group coordinator takes a moment to exist."""
    for _ in range(50):
        try:
            lag.export(await lag.read())
            return
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(0.2)
    raise AssertionError("no group coordinator")


def group_lag(group: str, topic: str) -> float:
    """The group's lag on `topic` as /metrics shows it: every partition's (3 on a scratch topic)."""
    lags = [sample("kafka_consumer_lag_messages", group=group, topic=topic, partition=str(p)) for p in range(3)]
    assert None not in lags, lags
    return sum(lag or 0 for lag in lags)


async def consume(bootstrap: str, group: str, topic: str, count: int) -> None:
    """Take `count` records of `topic` as a member of `group` and commit them."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        taken = 0
        while taken < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=count - taken)
            taken += sum(len(records) for records in batches.values())
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_consumer_lag_rises_while_nobody_consumes_and_falls_once_the_group_commits(
    stack: tuple[str, str], scratch_topic: str, producer: EventProducer
) -> None:
    group = f"lag-{uuid.uuid4().hex[:8]}"
    lag = ConsumerLag(stack[1], group, [scratch_topic])
    await lag.start()
    try:
        await export(lag)
        assert group_lag(group, scratch_topic) == 0

        await producer.send_all([OutgoingRecord(scratch_topic, str(n).encode(), b"{}", []) for n in range(7)])
        await export(lag)
        assert group_lag(group, scratch_topic) == 7  # never committed: counted from the first record

        await consume(stack[1], group, scratch_topic, 4)
        await export(lag)
        assert group_lag(group, scratch_topic) == 3

        await consume(stack[1], group, scratch_topic, 3)
        await export(lag)
        assert group_lag(group, scratch_topic) == 0
    finally:
        await lag.close()


async def test_the_outbox_backlog_counts_unsent_rows_and_the_oldest_ones_age(scratch_pool: asyncpg.Pool) -> None:
    await export_backlog(scratch_pool)
    assert (sample("outbox_events_pending"), sample("outbox_oldest_pending_age_seconds")) == (0, 0)

    async with scratch_pool.acquire() as conn:
        for sequence in (1, 2, 3):
            await enqueue(conn, "orders.events", order_event(7, sequence))
        await conn.execute(
            "UPDATE outbox SET created_at = now() - interval '2 minutes' WHERE id = (SELECT min(id) FROM outbox)"
        )
    await export_backlog(scratch_pool)
    assert sample("outbox_events_pending") == 3
    assert 120 <= (sample("outbox_oldest_pending_age_seconds") or 0) < 3600

    await scratch_pool.execute("UPDATE outbox SET sent_at = now() WHERE id = (SELECT min(id) FROM outbox)")
    await export_backlog(scratch_pool)
    assert sample("outbox_events_pending") == 2
    assert (sample("outbox_oldest_pending_age_seconds") or 0) < 120

    await scratch_pool.execute("UPDATE outbox SET sent_at = now()")
    await export_backlog(scratch_pool)
    assert (sample("outbox_events_pending"), sample("outbox_oldest_pending_age_seconds")) == (0, 0)


OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def dispatcher_pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def test_the_dispatcher_reports_each_endpoints_backlog_and_the_failing_and_disabled_ones(
    dispatcher_pool: asyncpg.Pool,
) -> None:
    service = WebhookService(dispatcher_pool, DispatcherSettings.load(WEBHOOK_DISPATCHER))
    async with dispatcher_pool.acquire() as conn:
        ids = {}
        for name in ("healthy", "failing", "disabled", "gone"):
            row = await store.insert_endpoint(conn, {**OPTIONS, "url": f"https://{name}.example/hooks"}, "whsec_x")
            ids[name] = row["id"]
        first, second, third = (order_event(1, sequence) for sequence in (1, 2, 3))
        for event in (first, second, third):
            await store.insert_messages(conn, [ids["healthy"], ids["failing"]], event, b"{}")
        await store.insert_messages(conn, [ids["disabled"]], first, b"{}")
        # The healthy endpoint's first message has been due for 10 minutes, its last is due in an hour.
        await conn.execute(
            """UPDATE messages SET next_attempt_at = now() + CASE WHEN event_id = $2 THEN interval '-10 minutes'
                                                              ELSE interval '1 hour' END
               WHERE endpoint_id = $1 AND event_id <> $3""",
            ids["healthy"],
            first.id,
            second.id,
        )
        await conn.execute(
            "UPDATE endpoints SET failing_since = now() - interval '2 hours' WHERE id = $1", ids["failing"]
        )
        await store.disable_endpoint(conn, ids["disabled"], "manual")
        await store.disable_endpoint(conn, ids["gone"], "gone")

    await export_endpoint_backlog(service)

    healthy, failing, disabled, gone = (str(ids[name]) for name in ("healthy", "failing", "disabled", "gone"))
    assert sample("webhook_messages_pending", endpoint=healthy) == 3
    assert 600 <= (sample("webhook_oldest_due_message_age_seconds", endpoint=healthy) or 0) < 3600
    assert sample("webhook_endpoint_failing_seconds", endpoint=healthy) == 0
    assert sample("webhook_messages_pending", endpoint=failing) == 3
    assert 7200 <= (sample("webhook_endpoint_failing_seconds", endpoint=failing) or 0) < 10800
    assert sample("webhook_messages_pending", endpoint=disabled) == 1  # still waiting, so still shown
    assert sample("webhook_messages_pending", endpoint=gone) is None  # disabled with nothing waiting: counted only
    assert [sample("webhook_endpoints", state=state) for state in ("healthy", "failing", "disabled")] == [1, 1, 2]

    await service.delete_endpoint(ids["failing"])
    await export_endpoint_backlog(service)
    assert sample("webhook_messages_pending", endpoint=failing) is None
    assert sample("webhook_endpoints", state="failing") == 0
