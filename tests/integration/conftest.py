"""Scratch schemas and topics on the real stack, so kernel pieces are tested in isolation."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kafka import EventProducer
from shared.migrations import apply_migrations
from shared.services import ORDER_API
from shared.topics import dlq, topic_configs
from tests.support.polling import eventually
from tests.support.scratch import scratch_schema


def _all_led(topics: list[dict[str, Any]]) -> bool:
    return all(
        not t["error_code"] and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"]) for t in topics
    )


@pytest.fixture
async def scratch_pool(stack: tuple[str, str], tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema that has the kernel tables (outbox, processed_events) and nothing else."""
    async with scratch_schema(stack[0], tmp_path) as pool:  # an empty service dir: only the kernel
        yield pool


@pytest.fixture
async def order_api_pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The scratch schema with order_api's own tables too."""
    async with scratch_pool.acquire() as conn:
        await apply_migrations(conn, await conn.fetchval("SELECT current_schema()"), ORDER_API.migrations_dir)
    return scratch_pool


@pytest.fixture
async def scratch_topic(stack: tuple[str, str]) -> str:
    """A new 3-partition topic and its DLQ, configured as provisioning configures the real ones."""
    topic = f"scratch.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack[1])
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, 3, 1, topic_configs=topic_configs(name)) for name in (topic, dlq(topic))]
        )
        # Created is not yet usable: a broker under load elects the partitions' leaders a moment later.
        await eventually(lambda: admin.describe_topics([topic, dlq(topic)]), _all_led)
    finally:
        await admin.close()
    return topic


@pytest.fixture
async def producer(stack: tuple[str, str]) -> AsyncIterator[EventProducer]:
    connected = EventProducer(stack[1], "tests")
    await connected.connect()
    try:
        yield connected
    finally:
        await connected.close()
