"""The dispatcher's SQL against real Postgres: claims (SKIP LOCKED, ordered endpoints, per-endpoint
caps), settling (one attempt, or many delivered ones in a statement), the fan-out's messages written
claimed for its own sender, the failing-too-long rule and retention, on a scratch schema with its
migrations."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import asyncpg
import pytest

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import Answer, DeliveredAttempt, Delivery
from shared.services import WEBHOOK_DISPATCHER
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

LEASE = timedelta(seconds=60)
OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    """The dispatcher's tables in a scratch schema of their own."""
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def _endpoint(conn: asyncpg.pool.PoolConnectionProxy, **options: object) -> uuid.UUID:
    row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks", **options}, "whsec_x")
    endpoint_id: uuid.UUID = row["id"]
    return endpoint_id


async def _claim(
    pool: asyncpg.Pool, limit: int = 100, *, in_flight: Mapping[uuid.UUID, int] | None = None, per_endpoint: int = 100
) -> list[Delivery]:
    async with pool.acquire() as conn, conn.transaction():
        return await store.claim_due(conn, limit, LEASE, in_flight=in_flight or {}, per_endpoint=per_endpoint)


async def test_an_ordered_endpoint_gets_one_message_per_order_at_a_time(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ordered = await _endpoint(conn, ordered=True)
        unordered = await _endpoint(conn)
        for order_id in (1, 2):
            for sequence in (1, 2, 3):
                await store.insert_messages(conn, [ordered, unordered], order_event(order_id, sequence), b"{}")

    first = await _claim(pool)
    again = await _claim(pool)

    got = sorted((d.endpoint_id == ordered, d.order_id, d.message_id) for d in first)
    assert len([d for d in first if d.endpoint_id == unordered]) == 6
    assert [order_id for is_ordered, order_id, _ in got if is_ordered] == ["1", "2"]
    assert again == []  # the ordered endpoint's next messages wait for their predecessors
    async with pool.acquire() as conn:
        head = next(d for d in first if d.endpoint_id == ordered and d.order_id == "1")
        await store.record_attempt(
            conn, head, response_status=204, latency_ms=3, error=None, response_excerpt="", outcome="delivered",
            retry_in=None,
        )  # fmt: skip
    [following] = await _claim(pool)
    assert (following.order_id, following.message_id) == ("1", head.message_id + 2)  # order 1's second event


async def test_a_pending_retry_holds_back_its_order_on_an_ordered_endpoint(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ordered = await _endpoint(conn, ordered=True)
        for sequence in (1, 2):
            await store.insert_messages(conn, [ordered], order_event(7, sequence), b"{}")
    [head] = await _claim(pool)
    async with pool.acquire() as conn:
        await store.record_attempt(
            conn, head, response_status=500, latency_ms=3, error=None, response_excerpt="", outcome="pending",
            retry_in=timedelta(0),
        )  # fmt: skip

    [retried] = await _claim(pool)

    assert retried.message_id == head.message_id
    assert retried.attempt == 2


async def test_claims_leave_each_endpoint_only_its_room_and_skip_disabled_ones(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        full, half, idle, disabled = [await _endpoint(conn) for _ in range(4)]
        await store.disable_endpoint(conn, disabled, "manual")
        for order_id in range(5):
            await store.insert_messages(conn, [full, half, idle, disabled], order_event(order_id, 1), b"{}")

    capped = await _claim(pool, per_endpoint=3, in_flight={full: 3, half: 2})
    rest = await _claim(pool)

    assert sorted(str(d.endpoint_id) for d in capped) == sorted([str(half)] + [str(idle)] * 3)
    assert sorted(str(d.endpoint_id) for d in rest) == sorted([str(full)] * 5 + [str(half)] * 4 + [str(idle)] * 2)


async def test_an_endpoint_with_little_room_leaves_the_rest_of_a_claim_to_the_others(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        crowded, other = await _endpoint(conn), await _endpoint(conn)
        for order_id in range(20):  # due before any of the other endpoint's
            await store.insert_messages(conn, [crowded], order_event(order_id, 1), b"{}")
        for order_id in range(20, 25):
            await store.insert_messages(conn, [other], order_event(order_id, 1), b"{}")

    claimed = await _claim(pool, 4, per_endpoint=10, in_flight={crowded: 9})

    # The crowded endpoint's one free slot, then the other's oldest, although 19 older ones are due.
    assert sorted((d.order_id, d.endpoint_id) for d in claimed) == [
        ("0", crowded),
        ("20", other),
        ("21", other),
        ("22", other),
    ]


async def test_two_concurrent_claims_never_take_the_same_message(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        endpoint = await _endpoint(conn)
        for order_id in range(50):
            await store.insert_messages(conn, [endpoint], order_event(order_id, 1), b"{}")

    async with pool.acquire() as first, pool.acquire() as second, first.transaction(), second.transaction():
        mine = await store.claim_due(first, 30, LEASE, in_flight={}, per_endpoint=100)
        theirs = await store.claim_due(second, 30, LEASE, in_flight={}, per_endpoint=100)

    assert len(mine) == 30
    assert len(theirs) == 20
    assert not {d.message_id for d in mine} & {d.message_id for d in theirs}


async def test_an_endpoint_failing_longer_than_the_period_is_disabled_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        endpoint = await _endpoint(conn)
        first = await store.endpoint_failed(conn, endpoint, timedelta(days=5))
        await conn.execute("UPDATE endpoints SET failing_since = now() - interval '6 days' WHERE id = $1", endpoint)
        disabled = await store.endpoint_failed(conn, endpoint, timedelta(days=5))
        again = await store.endpoint_failed(conn, endpoint, timedelta(days=5))
        state = await conn.fetchrow("SELECT enabled, disabled_reason FROM endpoints WHERE id = $1", endpoint)

    assert first is None
    assert disabled is not None
    assert disabled["disabled_reason"] == "failing"
    assert again is None
    assert state is not None
    assert (state["enabled"], state["disabled_reason"]) == (False, "failing")


async def test_a_delivery_ends_the_failing_streak(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        endpoint = await _endpoint(conn)
        await store.insert_messages(conn, [endpoint], order_event(1, 1), b"{}")
        await store.endpoint_failed(conn, endpoint, timedelta(days=5))
    [delivery] = await _claim(pool)
    async with pool.acquire() as conn:
        await store.record_attempt(
            conn, delivery, response_status=200, latency_ms=1, error=None, response_excerpt="ok", outcome="delivered",
            retry_in=None,
        )  # fmt: skip
        failing_since = await conn.fetchval("SELECT failing_since FROM endpoints WHERE id = $1", endpoint)
        [message] = await store.list_messages(conn, endpoint_id=endpoint)

    assert failing_since is None
    assert message["status"] == "delivered"
    assert [attempt["response_status"] for attempt in message["attempt_log"]] == [200]


async def test_retention_purges_old_settled_history_and_keeps_pending_messages(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        endpoint = await _endpoint(conn)
        for order_id in (1, 2, 3):
            await store.insert_messages(conn, [endpoint], order_event(order_id, 1), b"{}")
        await conn.execute("UPDATE messages SET created_at = now() - interval '40 days'")
        await conn.execute("UPDATE messages SET status = 'delivered' WHERE order_id IN ('1', '2')")
        await conn.execute("UPDATE messages SET created_at = now() WHERE order_id = '2'")

        purged = await store.purge(conn, timedelta(days=30))
        left = await conn.fetch("SELECT order_id, status FROM messages ORDER BY order_id")

    assert purged == (1, 0)
    assert [(row["order_id"], row["status"]) for row in left] == [("2", "delivered"), ("3", "pending")]


async def test_a_fan_out_to_an_endpoint_deleted_meanwhile_skips_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        kept, deleted = await _endpoint(conn), await _endpoint(conn)
        await store.delete_endpoint(conn, deleted)

        await store.insert_messages(conn, [kept, deleted], order_event(1, 1), b"{}")
        rows = await conn.fetch("SELECT endpoint_id FROM messages")

    assert [row["endpoint_id"] for row in rows] == [kept]


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
