"""What an endpoint's statistics cost to read (services/webhook_dispatcher/stats_store.py), at volume.

    .venv/bin/python -m bench.endpoint_stats [--messages 1000000] [--tally 20000] [--repeat 20]

In the scratch database `orders_bench` (never the dev database), a schema of its own gets the
dispatcher's tables, and two endpoints `--messages` messages each, created evenly over the last 30
days (the retention's month; a million is 33,000 a day), 97 % delivered, 2 % failed after four
attempts, 1 % pending, with their attempts. The table shows the admin API's stats query for three
windows (median and worst of `--repeat` runs, and whether the counts came from the index alone), and
what the metrics' tally costs per new attempt (`--tally` attempts written after its watermark).
"""

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg

from bench.support import bench_database, percentile, table
from deploy.local.stack import ensure_stack
from services.webhook_dispatcher import stats_store
from shared.db import create_pool
from shared.migrations import apply_migrations
from shared.services import WEBHOOK_DISPATCHER

SCHEMA: Final = "bench_endpoint_stats"
DAYS: Final = 30


async def prepare(dsn: str, messages: int) -> list[str]:
    """A fresh schema with the dispatcher's tables, and two endpoints' messages and attempts."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        await apply_migrations(conn, SCHEMA, WEBHOOK_DISPATCHER.migrations_dir)
        await conn.execute(f"SET search_path TO {SCHEMA}")
        started = time.perf_counter()
        endpoints = [
            await conn.fetchval(
                "INSERT INTO endpoints (id, url, secret) VALUES (gen_random_uuid(), $1, 'whsec_x') RETURNING id::text",
                f"https://{name}.example/hooks",
            )
            for name in ("busy", "neighbour")
        ]
        for endpoint in endpoints:
            await conn.execute(
                """INSERT INTO messages (endpoint_id, event_id, event_type, order_id, payload, status, attempts,
                                         created_at, delivered_at, next_attempt_at)
                   SELECT $1::uuid, gen_random_uuid(), 'order.created', (n % 100000)::text,
                          convert_to(repeat('x', 1700), 'UTF8'),
                          CASE WHEN n % 100 < 97 THEN 'delivered' WHEN n % 100 < 99 THEN 'failed' ELSE 'pending' END,
                          CASE WHEN n % 100 < 97 THEN 1 WHEN n % 100 < 99 THEN 4 ELSE 0 END,
                          t, CASE WHEN n % 100 < 97 THEN t + interval '50 ms' END, t
                   FROM generate_series(1, $2) AS n,
                        LATERAL (SELECT now() - $3::interval * (1 - n::float8 / $2)) AS at (t)""",
                endpoint,
                messages,
                timedelta(days=DAYS),
            )
        await conn.execute(
            """INSERT INTO attempts (message_id, attempted_at, response_status, latency_ms)
               SELECT m.id, m.created_at + k * interval '1 second',
                      CASE WHEN m.status = 'delivered' THEN 204 ELSE 500 END, 20
               FROM messages m, generate_series(1, m.attempts) AS k"""
        )
        for vacuumed in ("messages", "attempts"):
            await conn.execute(f"VACUUM ANALYZE {vacuumed}")
        print(f"loaded 2 x {messages:,} messages with their attempts in {time.perf_counter() - started:.0f} s")
        return endpoints
    finally:
        await conn.close()


async def stats_reads(pool: asyncpg.Pool, endpoint: str, window: timedelta, repeat: int) -> list[object]:
    until = datetime.now(UTC)
    times: list[float] = []
    async with pool.acquire() as conn:
        for _ in range(repeat):
            started = time.perf_counter()
            row = await stats_store.endpoint_stats(conn, uuid.UUID(endpoint), until - window, until)
            times.append((time.perf_counter() - started) * 1000)
        plan = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM messages WHERE endpoint_id = $1 "
            "AND created_at >= $2 AND created_at < $3",
            endpoint,
            until - window,
            until,
        )
    times.sort()
    scan = plan[0]["Plan"]
    while scan.get("Plans"):
        scan = scan["Plans"][0]
    counted = row["delivered"] + row["failed"] + row["pending"]
    heap = scan.get("Heap Fetches", "-")
    return [str(window), f"{counted:,}", f"{percentile(times, 0.5):.1f}", f"{times[-1]:.1f}", scan["Node Type"], heap]


async def tally_cost(pool: asyncpg.Pool, endpoint: str, count: int) -> list[object]:
    async with pool.acquire() as conn:
        after = await stats_store.last_attempt_id(conn)
        await conn.execute(
            """INSERT INTO attempts (message_id, attempted_at, response_status, latency_ms)
               SELECT id, now() - interval '1 minute', CASE WHEN id % 10 = 0 THEN 500 ELSE 204 END, 20
               FROM (SELECT id FROM messages WHERE endpoint_id = $1::uuid ORDER BY id DESC LIMIT $2) recent""",
            endpoint,
            count,
        )
        started = time.perf_counter()
        rows = await stats_store.attempts_after(conn, after, timedelta(seconds=2))
        elapsed = time.perf_counter() - started
    tallied = sum(row["succeeded"] + row["failed"] for row in rows)
    return [f"{tallied:,}", f"{elapsed * 1000:.1f}", f"{elapsed / max(tallied, 1) * 1e6:.2f}"]


async def main(messages: int, tally: int, repeat: int) -> None:
    admin_dsn, _ = ensure_stack()
    dsn = await bench_database(admin_dsn)
    busy, _ = await prepare(dsn, messages)
    pool = await create_pool(dsn, SCHEMA, max_size=2)
    try:
        windows = (timedelta(hours=1), timedelta(days=1), timedelta(days=DAYS))
        reads = [await stats_reads(pool, busy, window, repeat) for window in windows]
        print(table(["window", "messages in it", "ms p50", "ms max", "count's scan", "heap fetches"], reads))
        print()
        print(table(["attempts tallied", "ms", "µs per attempt"], [await tally_cost(pool, busy, tally)]))
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tally", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.tally, arguments.repeat))
