"""What every session a service opens (shared.db.create_pool) is set up with, on the real Postgres."""

import json

import asyncpg

from shared.db import Connection

# Over Postgres' 2 kB threshold and compressible, as an order's document or an outbox row's body is.
LARGE_VALUE = '{"title": "Bench widget", "sku": "BENCH-1", "quantity": 2}, ' * 200


async def _stored_compression(conn: Connection) -> str:
    await conn.execute("CREATE TEMPORARY TABLE large_values (value text)")
    try:
        await conn.execute("INSERT INTO large_values VALUES ($1)", LARGE_VALUE)
        method: str = await conn.fetchval("SELECT pg_column_compression(value) FROM large_values")
        return method
    finally:
        await conn.execute("DROP TABLE large_values")


async def test_a_service_compresses_large_values_with_lz4(
    scratch_pool: asyncpg.Pool, admin_db: asyncpg.Connection
) -> None:
    async with scratch_pool.acquire() as conn:
        assert await _stored_compression(conn) == "lz4"
    # A session opened without the services' settings keeps Postgres' default: what the setting changes.
    assert await _stored_compression(admin_db) == "pglz"


async def _compiled(conn: Connection) -> bool:
    """Whether Postgres would JIT-compile a statement estimated well over `jit_above_cost`."""
    plan = await conn.fetchval("EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 100000000) AS g")
    document = json.loads(plan) if isinstance(plan, str) else plan  # a service's pool decodes JSON itself
    return "JIT" in document[0]


async def test_a_service_never_jit_compiles_a_statement(
    scratch_pool: asyncpg.Pool, admin_db: asyncpg.Connection
) -> None:
    async with scratch_pool.acquire() as conn:
        assert not await _compiled(conn)
    if await admin_db.fetchval("SELECT pg_jit_available()"):  # where the server has JIT at all
        assert await _compiled(admin_db)
