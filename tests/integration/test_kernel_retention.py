"""The kernel tables' retention on the real stack: published outbox rows past OUTBOX_RETENTION_HOURS,
parked ones past theirs, and processed events past the redelivery horizon read from the broker (a row
just inside it is kept, one just past it deleted); unsent rows are never touched, and a row a writer
holds is skipped, not waited for; ended rate-limit windows are purged, current ones kept."""

import asyncio
import time
import uuid
from datetime import timedelta

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from shared.redelivery import SLACK, redelivery_horizon
from shared.retention import KernelRetention
from shared.settings import ServiceSettings

HOUR_MS = 3600 * 1000


async def short_lived_topic(bootstrap: str) -> str:
    """A topic that keeps records 2 hours in segments of 1 hour: gone 3 hours after they were written."""
    topic = f"scratch.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = {"retention.ms": str(2 * HOUR_MS), "segment.ms": str(HOUR_MS)}
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()
    return topic


def deleted_so_far(table: str) -> float:
    return REGISTRY.get_sample_value("retention_rows_deleted_total", {"table": table}) or 0.0


async def add_processed(pool: asyncpg.Pool, age: timedelta) -> uuid.UUID:
    event_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO processed_events (event_id, event_type, topic, kafka_partition, kafka_offset, processed_at)
           VALUES ($1, 'order.created', 't', 0, 0, now() - $2::interval)""",
        event_id,
        age,
    )
    return event_id


async def add_outbox(pool: asyncpg.Pool, sent_age: timedelta | None) -> uuid.UUID:
    event_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO outbox (event_id, topic, key, headers, body, created_at, sent_at)
           VALUES ($1, 't', 'k', '[]', '', now() - interval '30 days', now() - $2::interval)""",
        event_id,
        sent_age,
    )
    return event_id


async def test_processed_events_are_pruned_past_the_redelivery_horizon_and_kept_inside_it(
    scratch_pool: asyncpg.Pool, stack: tuple[str, str]
) -> None:
    topic = await short_lived_topic(stack[1])
    horizon = await redelivery_horizon(stack[1], [topic])
    assert horizon == timedelta(hours=3) + SLACK
    assert horizon is not None
    inside = await add_processed(scratch_pool, horizon - timedelta(minutes=1))
    past = [await add_processed(scratch_pool, horizon + timedelta(minutes=minutes)) for minutes in (1, 2, 3)]
    before = deleted_so_far("processed_events")

    settings = ServiceSettings(kafka_bootstrap_servers=stack[1], table_purge_batch_rows=2)
    deleted = await KernelRetention(scratch_pool, settings, {topic}).purge()

    assert deleted["processed_events"] == 3
    left = await scratch_pool.fetch("SELECT event_id FROM processed_events")
    assert [row["event_id"] for row in left] == [inside]
    assert deleted_so_far("processed_events") - before == 3  # in two batches of at most two
    assert len(past) == 3


async def test_a_topic_kept_for_ever_prunes_nothing(scratch_pool: asyncpg.Pool, stack: tuple[str, str]) -> None:
    topic = await short_lived_topic(stack[1])
    admin = AIOKafkaAdminClient(bootstrap_servers=stack[1])
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "-1"})])
    finally:
        await admin.close()
    ancient = await add_processed(scratch_pool, timedelta(days=3650))

    settings = ServiceSettings(kafka_bootstrap_servers=stack[1])
    deleted = await KernelRetention(scratch_pool, settings, {topic}).purge()

    assert "processed_events" not in deleted
    assert await scratch_pool.fetchval("SELECT event_id FROM processed_events") == ancient


async def test_published_and_parked_outbox_rows_and_ended_windows_are_purged_unsent_rows_never(
    scratch_pool: asyncpg.Pool, stack: tuple[str, str]
) -> None:
    old_sent = [await add_outbox(scratch_pool, timedelta(hours=25)) for _ in range(3)]
    recent = await add_outbox(scratch_pool, timedelta(hours=23))
    unsent = await add_outbox(scratch_pool, None)
    await scratch_pool.execute(
        """INSERT INTO outbox_dead_letters (id, event_id, topic, key, headers, body, created_at, parked_at, error)
           VALUES (1, gen_random_uuid(), 't', 'k', '[]', '', now(), now() - interval '8 days', 'too large'),
                  (2, gen_random_uuid(), 't', 'k', '[]', '', now(), now() - interval '6 days', 'too large')"""
    )
    await scratch_pool.execute(
        """INSERT INTO rate_windows VALUES ('ended', now() - interval '2 min', now() - interval '1 min', 3),
                                           ('current', now() - interval '1 min', now() + interval '1 min', 1)"""
    )

    settings = ServiceSettings(kafka_bootstrap_servers=stack[1], table_purge_batch_rows=2)
    started = time.time()
    deleted = await KernelRetention(scratch_pool, settings, set()).purge()

    assert deleted == {"outbox": 3, "outbox_dead_letters": 1, "rate_windows": 1}
    left = {row["event_id"] for row in await scratch_pool.fetch("SELECT event_id FROM outbox")}
    assert left == {recent, unsent}
    assert not left & set(old_sent)
    assert await scratch_pool.fetchval("SELECT array_agg(id) FROM outbox_dead_letters") == [2]
    assert await scratch_pool.fetchval("SELECT array_agg(bucket) FROM rate_windows") == ["current"]
    last_run = REGISTRY.get_sample_value("retention_last_run_timestamp_seconds", {"job": "kernel tables"})
    assert last_run is not None
    assert last_run >= started


async def test_a_row_a_writer_holds_is_skipped_not_waited_for(
    scratch_pool: asyncpg.Pool, stack: tuple[str, str]
) -> None:
    held, free = [await add_outbox(scratch_pool, timedelta(hours=48)) for _ in range(2)]
    settings = ServiceSettings(kafka_bootstrap_servers=stack[1])
    async with scratch_pool.acquire() as writer, writer.transaction():
        await writer.execute("SELECT 1 FROM outbox WHERE event_id = $1 FOR UPDATE", held)
        # Waiting for the writer's lock would never end: the writer commits only after the purge.
        deleted = await asyncio.wait_for(KernelRetention(scratch_pool, settings, set()).purge(), 60)
    assert deleted["outbox"] == 1
    left = [row["event_id"] for row in await scratch_pool.fetch("SELECT event_id FROM outbox")]
    assert left == [held]
    assert free not in left
