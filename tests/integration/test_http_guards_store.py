"""Idempotency-Key records and rate-limit windows in the real Postgres (order_api's migrations on a
scratch schema): claims under concurrency, expiry, leases, and counts that lose no hit."""

import asyncio

import asyncpg

from services.order_api.store.http_guards import HttpGuardRows
from shared.idempotency import KeyRecord
from shared.rate_limits import WindowCount

DAY = 24 * 3600.0


async def claim(
    order_api_pool: asyncpg.Pool, key: str, fingerprint: str = "f1", *, lease: float = 60.0, ttl: float = DAY
) -> KeyRecord | None:
    async with order_api_pool.acquire() as conn:
        return await HttpGuardRows(conn).claim_key("p1", key, fingerprint, lease_seconds=lease, ttl_seconds=ttl)


async def complete(order_api_pool: asyncpg.Pool, key: str) -> None:
    async with order_api_pool.acquire() as conn:
        await HttpGuardRows(conn).complete_key(
            "p1", key, status=201, headers=[("content-type", "application/json")], body=b'{"id": 1}'
        )


async def test_a_key_is_held_then_remembers_its_answer(order_api_pool: asyncpg.Pool) -> None:
    assert await claim(order_api_pool, "k") is None
    assert await claim(order_api_pool, "k") == KeyRecord("f1", None, [], b"")  # in flight
    await complete(order_api_pool, "k")
    assert await claim(order_api_pool, "k") == KeyRecord(
        "f1", 201, [("content-type", "application/json")], b'{"id": 1}'
    )
    async with order_api_pool.acquire() as conn:
        other_principal = await HttpGuardRows(conn).claim_key("p2", "k", "f2", lease_seconds=60, ttl_seconds=DAY)
    assert other_principal is None


async def test_of_many_concurrent_requests_with_one_key_exactly_one_holds_it(order_api_pool: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(claim(order_api_pool, "race") for _ in range(20)))
    assert sum(result is None for result in results) == 1
    assert {result.status for result in results if result is not None} == {None}


async def test_a_released_key_can_be_taken_again(order_api_pool: asyncpg.Pool) -> None:
    assert await claim(order_api_pool, "k", "first") is None
    async with order_api_pool.acquire() as conn:
        await HttpGuardRows(conn).release_key("p1", "k")
    assert await claim(order_api_pool, "k", "second") is None
    assert await claim(order_api_pool, "k", "third") == KeyRecord("second", None, [], b"")


async def test_an_expired_key_is_a_new_key(order_api_pool: asyncpg.Pool) -> None:
    assert await claim(order_api_pool, "k", "first", ttl=0) is None
    await complete(order_api_pool, "k")
    assert await claim(order_api_pool, "k", "second") is None


async def test_a_holder_past_its_lease_yields_the_key_only_to_the_same_request(order_api_pool: asyncpg.Pool) -> None:
    assert await claim(order_api_pool, "k", "first", lease=0) is None  # its instance died mid-request
    assert await claim(order_api_pool, "k", "other") == KeyRecord("first", None, [], b"")
    assert await claim(order_api_pool, "k", "first") is None


async def test_concurrent_hits_on_a_bucket_are_all_counted(order_api_pool: asyncpg.Pool) -> None:
    async def hit() -> list[WindowCount]:
        async with order_api_pool.acquire() as conn:
            return await HttpGuardRows(conn).count_hits(["ip:1", "number:1001"], 3600)

    counted = await asyncio.gather(*(hit() for _ in range(30)))
    for bucket in ("ip:1", "number:1001"):
        assert sorted(hits for result in counted for name, hits, _ in result if name == bucket) == list(range(1, 31))
    assert all(0 < remaining <= 3600 for result in counted for _, _, remaining in result)


async def test_purge_drops_expired_keys_only(order_api_pool: asyncpg.Pool) -> None:
    await claim(order_api_pool, "expired", ttl=0)
    await claim(order_api_pool, "live")
    async with order_api_pool.acquire() as conn:
        assert await HttpGuardRows(conn).purge(batch_rows=1) == 1
        assert await conn.fetchval("SELECT array_agg(key) FROM idempotency_keys") == ["live"]


async def test_peeking_at_a_bucket_counts_nothing(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        rows = HttpGuardRows(conn)
        assert await rows.peek_hits(["peeked", "never-hit"], 3600) == []
        await rows.count_hits(["peeked"], 3600)
        await rows.count_hits(["peeked"], 3600)

        first, second = await rows.peek_hits(["peeked", "never-hit"], 3600), await rows.peek_hits(["peeked"], 3600)

    assert [(bucket, hits) for bucket, hits, _ in first] == [("peeked", 2)]
    assert [(bucket, hits) for bucket, hits, _ in second] == [("peeked", 2)]
    assert 0 < first[0].remaining_seconds <= 3600
