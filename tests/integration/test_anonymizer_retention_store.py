"""The retention sweep's SQL (services/anonymizer/store/retention.py) on real Postgres, on a scratch schema
with the anonymizer's migrations: the copy keeps `eligible_since`; the orders due are those eligible
since the cutoff or earlier, not anonymized and without an erasure, longest eligible first, a batch at a
time; a row another transaction holds is skipped; one transaction at a time holds the sweep."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.anonymizer import store
from services.anonymizer.domain import ErasureRequest, KnownOrder, waiting
from shared.db import Connection
from shared.services import ANONYMIZER
from tests.support.orders import order_created
from tests.support.scratch import scratch_schema

ORDER = 8440
NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], ANONYMIZER.migrations_dir) as created:
        yield created


async def known(
    conn: Connection,
    order_id: int,
    eligible_since: datetime | None,
    *,
    anonymized: bool = False,
    sequence: int = 1,
) -> None:
    order = KnownOrder(order_id, sequence, None, None, anonymized, eligible_since)
    await store.record_order(conn, order_created(order_id, sequence), order)


async def test_the_copy_keeps_the_newest_eligible_since(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await known(conn, ORDER, NOW, sequence=2)
        await known(conn, ORDER, None, sequence=1)  # older news: ignored
        assert await conn.fetchval("SELECT eligible_since FROM known_orders WHERE order_id = $1", ORDER) == NOW

        await known(conn, ORDER, None, sequence=3)  # no longer eligible
        assert await conn.fetchval("SELECT eligible_since FROM known_orders WHERE order_id = $1", ORDER) is None


async def test_the_orders_due_are_eligible_long_enough_not_anonymized_and_not_requested(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await known(conn, ORDER, NOW - 3 * DAY)
        await known(conn, ORDER + 1, NOW - 5 * DAY)
        await known(conn, ORDER + 2, NOW - DAY)  # eligible since after the cutoff
        await known(conn, ORDER + 3, None)  # not eligible
        await known(conn, ORDER + 4, NOW - 9 * DAY, anonymized=True)
        await known(conn, ORDER + 5, NOW - 7 * DAY)
        await store.wait_for(conn, waiting(ORDER + 5, None))  # someone asked for it already
        await known(conn, ORDER + 6, NOW - 2 * DAY)  # exactly at the cutoff

        cutoff = NOW - 2 * DAY
        assert await store.retention_due(conn, cutoff, 10) == [ORDER + 1, ORDER, ORDER + 6]
        assert await store.count_retention_due(conn, cutoff) == 3
        # A batch: the longest eligible first, the rest counted as remaining once these are requested.
        batch = await store.retention_due(conn, cutoff, 2)
        assert batch == [ORDER + 1, ORDER]
        for order_id in batch:
            await store.wait_for(conn, waiting(order_id, None))
        assert await store.retention_due(conn, cutoff, 2) == [ORDER + 6]
        assert await store.count_retention_due(conn, cutoff) == 1


async def test_an_order_another_transaction_holds_is_skipped(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await known(conn, ORDER, NOW - 3 * DAY)
        await known(conn, ORDER + 1, NOW - 2 * DAY)

    async with pool.acquire() as recording, pool.acquire() as sweeping, recording.transaction():
        # The consumer recording an event of ORDER holds its row until it commits.
        await known(recording, ORDER, NOW - 3 * DAY, sequence=2)
        async with sweeping.transaction():
            assert await store.retention_due(sweeping, NOW, 10) == [ORDER + 1]

    async with pool.acquire() as conn:
        assert await store.retention_due(conn, NOW, 10) == [ORDER, ORDER + 1]


async def test_one_transaction_at_a_time_holds_the_sweep(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            assert await store.lock_retention_sweep(first) is True
            async with second.transaction():
                assert await store.lock_retention_sweep(second) is False
        async with second.transaction():  # released at the first one's commit
            assert await store.lock_retention_sweep(second) is True


async def test_a_retention_request_is_recorded_and_listed(pool: asyncpg.Pool) -> None:
    request = ErasureRequest(id=uuid.uuid4(), kind="retention", status="waiting", created_at=NOW)
    async with pool.acquire() as conn:
        await store.insert_request(conn, request, [ORDER])

        assert await store.fetch_request(conn, request.id) == request
