"""The fan-out's filters against real Postgres (migration 0009, store.insert_fanned): every change to what
the fan-out reads of the endpoints counts their version up, delivery bookkeeping does not, and messages
chosen by filters of an older version are not written."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import Answer, DeliveredAttempt
from shared.services import WEBHOOK_DISPATCHER
from shared.tracing import NO_TRACE
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def test_the_filters_version_counts_every_change_to_them_and_nothing_else(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:

        async def version() -> int:
            return (await store.enabled_endpoint_filters(conn)).version

        versions = [await version()]
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        endpoint_id: uuid.UUID = row["id"]
        versions.append(await version())
        await store.update_endpoint(conn, endpoint_id, {"event_types": ["order.*"]})
        versions.append(await version())
        await store.disable_endpoint(conn, endpoint_id, "manual")
        versions.append(await version())
        await store.enable_endpoint(conn, endpoint_id)
        versions.append(await version())
        assert len(set(versions)) == 5  # created, filter changed, disabled, enabled: each counted

        # Bookkeeping: a description, a failing streak begun and ended by a delivery.
        await store.update_endpoint(conn, endpoint_id, {"description": "ours"})
        await store.endpoint_failed(conn, endpoint_id, timedelta(hours=1))
        written = await store.insert_messages(conn, [endpoint_id], order_event(1, 1), b"{}", leased=[endpoint_id])
        [delivery] = written.leased
        await store.record_deliveries(conn, [DeliveredAttempt(delivery, Answer(204), 3)])
        assert await version() == versions[-1]

        await store.delete_endpoint(conn, endpoint_id)
        assert await version() != versions[-1]


async def test_messages_chosen_by_filters_of_an_older_version_are_not_written(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        read = await store.enabled_endpoint_filters(conn)
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        event = order_event(2, 1)
        fanned = [store.Fanned(event, b"{}", NO_TRACE, [row["id"]])]

        assert await store.insert_fanned(conn, fanned, timedelta(0), read.version) is None
        assert await conn.fetchval("SELECT count(*) FROM messages") == 0

        current = await store.enabled_endpoint_filters(conn)
        written = await store.insert_fanned(conn, fanned, timedelta(0), current.version)
        assert written is not None
        assert written.inserted == 1
