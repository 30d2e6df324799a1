"""The dispatcher's fan-out writing messages claimed for its own sender, and delivered attempts settled
many to a statement, against real Postgres (store.py on a scratch schema)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import Answer, DeliveredAttempt
from shared.services import WEBHOOK_DISPATCHER
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

LEASE = timedelta(seconds=60)
OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def _endpoint(conn: asyncpg.pool.PoolConnectionProxy, **options: object) -> uuid.UUID:
    row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks", **options}, "whsec_x")
    endpoint_id: uuid.UUID = row["id"]
    return endpoint_id


async def test_messages_leased_by_the_fan_out_are_claimed_by_it_alone_and_its_commit_names_it(
    pool: asyncpg.Pool,
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    def hear(*args: object) -> None:
        heard.put_nowait(str(args[3]))

    async with pool.acquire() as listener, pool.acquire() as conn:
        await listener.add_listener(store.MESSAGES_CHANNEL, hear)
        handed, ordered, left = (await _endpoint(conn), await _endpoint(conn, ordered=True), await _endpoint(conn))
        event = order_event(42, 1)
        async with conn.transaction():
            written = await store.insert_messages(
                conn, [handed, ordered, left], event, b'{"n":1}', leased=[handed, ordered], lease=LEASE
            )
        again = await store.insert_messages(conn, [handed], event, b"{}", leased=[handed], lease=LEASE)
        async with conn.transaction():
            claimed = await store.claim_due(conn, 10, LEASE, in_flight={}, per_endpoint=10)
        notified = await asyncio.wait_for(heard.get(), 5)
        await listener.remove_listener(store.MESSAGES_CHANNEL, hear)

    # An ordered endpoint's message is left to the claim, which keeps its order; so is one not leased.
    assert (written.inserted, [d.endpoint_id for d in written.leased]) == (3, [handed])
    [delivery] = written.leased
    assert (delivery.attempt, delivery.event_id, delivery.order_id, delivery.payload) == (1, event.id, "42", b'{"n":1}')
    assert (delivery.url, delivery.secret) == ("https://example.com/hooks", "whsec_x")
    assert notified == written.transaction
    assert sorted(d.endpoint_id for d in claimed) == sorted([ordered, left])
    assert (again.inserted, again.leased) == (0, [])  # written before: not again, not handed again


async def test_delivered_attempts_are_settled_in_one_statement_skipping_a_message_deleted_meanwhile(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        kept, deleted = await _endpoint(conn), await _endpoint(conn)
        await conn.execute("UPDATE endpoints SET failing_since = now() WHERE id = $1", kept)
        written = await store.insert_messages(
            conn, [kept, deleted], order_event(7, 1), b"{}", leased=[kept, deleted], lease=LEASE
        )
        await store.delete_endpoint(conn, deleted)
        await store.record_deliveries(
            conn, [DeliveredAttempt(delivery, Answer(204, None, "ok"), 3) for delivery in written.leased]
        )
        messages = await conn.fetch("SELECT status, delivered_at IS NOT NULL AS at FROM messages")
        attempts = await conn.fetch("SELECT response_status, latency_ms, response_excerpt FROM attempts")
        failing_since = await conn.fetchval("SELECT failing_since FROM endpoints WHERE id = $1", kept)

    assert [tuple(row) for row in messages] == [("delivered", True)]
    assert [tuple(row) for row in attempts] == [(204, 3, "ok")]
    assert failing_since is None
