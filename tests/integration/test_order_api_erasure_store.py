"""order_api's erasure SQL (services/order_api/store/erasure.py, shared.outbox.erase_sent_events) on the
real Postgres, order_api's migrations on a scratch schema: the order's remembered answers, its
guest-lookup windows and its published or parked outbox rows go; another order's, unpublished rows and
the per-client window stay; an older unpublished row of the order refuses, deleting nothing."""

import uuid

import asyncpg
import pytest

from services.order_api.domain.http_guards import RateLimitBuckets
from services.order_api.store.erasure import ErasureRows
from services.order_api.store.http_guards import HttpGuardRows
from shared.db import Connection
from shared.outbox import UnsentEvents

ERASED, KEPT = 1000000042, 1000000043
BUCKETS = RateLimitBuckets(b"test-rate-limit-key")


async def remember(conn: Connection, key: str, order_id: int | None) -> None:
    rows = HttpGuardRows(conn)
    await rows.claim_key("p1", key, "f", lease_seconds=60, ttl_seconds=3600)
    await rows.complete_key("p1", key, status=201, headers=[], body=b"{}", order_id=order_id)


async def outbox_row(conn: Connection, key: int, *, sent: bool, parked: bool = False) -> None:
    table = "outbox_dead_letters" if parked else "outbox"
    extra = ", id, created_at, error" if parked else ", sent_at"
    values = ", $5, now(), 'too large'" if parked else (", now()" if sent else ", NULL")
    args: list[object] = [uuid.uuid4(), "orders.events", str(key), b"old snapshot"]
    if parked:
        args.append(await conn.fetchval("SELECT coalesce(max(id), 0) + 1000 FROM outbox_dead_letters"))
    await conn.execute(
        f"INSERT INTO {table} (event_id, topic, key, headers, body{extra}) "
        f"VALUES ($1, $2, $3, '[]'::jsonb, $4{values})",
        *args,
    )


async def count(conn: Connection, sql: str) -> int:
    counted: int = await conn.fetchval(sql)
    return counted


async def test_the_orders_copies_go_and_the_rest_stays(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        await remember(conn, "create", ERASED)
        await remember(conn, "cancel", ERASED)
        await remember(conn, "other", KEPT)
        await remember(conn, "list", None)
        per_client, erased_number = BUCKETS.of_attempt("1042", "10.0.0.1")
        kept_numbers = [BUCKETS.of_attempt(number, "10.0.0.1")[1] for number in ("1043", "10420")]
        buckets = [per_client, erased_number, kept_numbers[0]]
        await HttpGuardRows(conn).count_hits(buckets, 60)
        await HttpGuardRows(conn).count_hits([kept_numbers[1]], 60)
        for _ in range(2):
            await outbox_row(conn, ERASED, sent=True)
        await outbox_row(conn, ERASED, sent=False, parked=True)
        await outbox_row(conn, KEPT, sent=True)

        async with conn.transaction():
            await outbox_row(conn, ERASED, sent=False)  # this transaction's own (the receipt): stays
            rows = await ErasureRows(conn).erase_order(ERASED, BUCKETS.of_number("1042"))

        assert rows == {"idempotency_keys": 2, "rate_windows": 1, "outbox": 2, "outbox_dead_letters": 1}
        assert [tuple(row) for row in await conn.fetch("SELECT key, order_id FROM idempotency_keys ORDER BY key")] == [
            ("list", None),
            ("other", KEPT),
        ]
        assert {row["bucket"] for row in await conn.fetch("SELECT bucket FROM rate_windows")} == {
            per_client,
            *kept_numbers,
        }
        assert [tuple(row) for row in await conn.fetch("SELECT key, sent_at IS NULL FROM outbox ORDER BY id")] == [
            (str(KEPT), False),
            (str(ERASED), True),
        ]
        assert await count(conn, "SELECT count(*) FROM outbox_dead_letters") == 0

        await conn.execute("UPDATE outbox SET sent_at = now()")  # the relay published the receipt
        again = await ErasureRows(conn).erase_order(ERASED, BUCKETS.of_number("1042"))
        # A repeat: only the first receipt, published since, is deleted.
        assert again == {"idempotency_keys": 0, "rate_windows": 0, "outbox": 1, "outbox_dead_letters": 0}


async def test_an_older_unpublished_row_refuses_and_deletes_nothing(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        await remember(conn, "create", ERASED)
        await outbox_row(conn, ERASED, sent=True)
        await outbox_row(conn, ERASED, sent=False)

        with pytest.raises(UnsentEvents):
            async with conn.transaction():
                await ErasureRows(conn).erase_order(ERASED, None)

        assert await count(conn, "SELECT count(*) FROM outbox") == 2
        assert await count(conn, "SELECT count(*) FROM idempotency_keys") == 1


async def test_a_retaken_key_forgets_its_order(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        await remember(conn, "k", ERASED)
        await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'")
        await HttpGuardRows(conn).claim_key("p1", "k", "f2", lease_seconds=60, ttl_seconds=3600)
        assert await conn.fetchval("SELECT order_id FROM idempotency_keys") is None
