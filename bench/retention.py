"""The batched purge (shared/purge.py) of a million published outbox rows while a writer inserts.

    .venv/bin/python -m bench.retention [--rows 1000000] [--batch 1000] [--rate 200] [--seconds 10]

In the scratch database `orders_bench` (never the dev database), a schema of its own gets the kernel
tables, and `--rows` outbox rows published two days ago (generated inside Postgres). A writer inserts
outbox rows as a service's transaction does, `--rate` a second on a fixed schedule (latency counted
from each insert's scheduled time, so a stall shows), first alone for `--seconds`, then while the
purge deletes every old row, `--batch` per statement, as the retention job does. The table shows the
purge's rate and the writer's latency p50/p99/max in both phases.
"""

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import asyncpg

from bench.support import bench_database, percentile, table
from deploy.local.stack import ensure_stack
from shared.db import create_pool
from shared.migrations import apply_migrations
from shared.purge import purge_in_batches

SCHEMA: Final = "bench_retention"
WRITERS: Final = 4  # connections the writer may have in flight


async def prepare(dsn: str, rows: int) -> None:
    """A fresh schema with the kernel tables and `rows` published outbox rows."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        with tempfile.TemporaryDirectory() as empty:  # no service migrations: the kernel only
            await apply_migrations(conn, SCHEMA, Path(empty))
        started = time.perf_counter()
        await conn.execute(
            f"""INSERT INTO {SCHEMA}.outbox (event_id, topic, key, headers, body, created_at, sent_at)
                SELECT gen_random_uuid(), 'orders.events', (n % 100000)::text,
                       '[["ce_type", "order.created"]]', convert_to(repeat('x', 400), 'UTF8'),
                       now() - interval '2 days', now() - interval '2 days' + n * interval '1 ms'
                  FROM generate_series(1, $1) AS n""",
            rows,
        )
        await conn.execute(f"VACUUM ANALYZE {SCHEMA}.outbox")
        print(f"loaded {rows:,} published rows in {time.perf_counter() - started:.0f} s")
    finally:
        await conn.close()


async def write(pool: asyncpg.Pool, rate: float, stop: asyncio.Event) -> list[float]:
    """Insert unsent outbox rows at `rate` a second until `stop`; each one's latency, sorted."""
    latencies: list[float] = []
    slots = asyncio.Semaphore(WRITERS)
    start = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        async with slots:
            await pool.execute(
                """INSERT INTO outbox (event_id, topic, key, headers, body)
                   VALUES (gen_random_uuid(), 'orders.events', '1', '[]', convert_to(repeat('y', 400), 'UTF8'))"""
            )
        latencies.append(time.perf_counter() - scheduled)

    number = 0
    while not stop.is_set():
        scheduled = start + number / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        task = asyncio.create_task(one(scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        number += 1
    await asyncio.gather(*pending)
    return sorted(latencies)


def latency_row(name: str, latencies: list[float]) -> list[object]:
    return [
        name,
        len(latencies),
        *(f"{percentile(latencies, fraction) * 1000:.1f}" for fraction in (0.5, 0.99, 1.0)),
    ]


async def main(rows: int, batch: int, rate: float, seconds: float) -> None:
    admin_dsn, _ = ensure_stack()
    dsn = await bench_database(admin_dsn)
    await prepare(dsn, rows)
    pool = await create_pool(dsn, SCHEMA, max_size=WRITERS + 2)
    try:
        stop = asyncio.Event()
        alone = asyncio.create_task(write(pool, rate, stop))
        await asyncio.sleep(seconds)
        stop.set()
        quiet = await alone

        stop = asyncio.Event()
        during = asyncio.create_task(write(pool, rate, stop))
        started = time.perf_counter()
        cutoff = datetime.now(UTC) - timedelta(hours=24)
        deleted = await purge_in_batches(pool, "outbox", "sent_at < $1", cutoff, batch_rows=batch)
        purge_seconds = time.perf_counter() - started
        stop.set()
        busy = await during
    finally:
        await pool.close()
    print(f"purge: {deleted:,} rows in {purge_seconds:.1f} s, {deleted / purge_seconds:,.0f} rows/s, {batch} per batch")
    print(
        table(
            ["writer", "inserts", "p50 ms", "p99 ms", "max ms"],
            [latency_row("alone", quiet), latency_row("during the purge", busy)],
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.batch, arguments.rate, arguments.seconds))
