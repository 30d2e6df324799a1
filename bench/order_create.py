"""Order creates over HTTP against order_api on the real stack, beside the ceiling: the same rows
inserted with bare asyncpg on the same database.

    .venv/bin/python -m bench.order_create [--seconds 10] [--concurrency 32] [--rate 300] [--workers 1 2] [--full]

Starts the local stack if needed, provisions the scratch database `orders_bench`, runs
`python -m services.order_api` on a free port against it (with Kafka and its outbox relay, as a user
runs it), once per `--workers` value (ORDER_API_WORKERS; 1 and 2 by default), then prints a table:

- max throughput: closed loop at `--concurrency` for `--seconds`: creates/s, p50/p99 latency;
- fixed rate: `--rate` creates/s, open loop (latency counted from each request's scheduled time, so
  a stall shows up instead of slowing the generator down), p50/p99;
- ceiling: the same writes (id allocation, the order row, the outbox row) with bare asyncpg, a pool as
  large as the service's, the same concurrency, in a transaction as issue 12 set it; and the ratio
  HTTP / ceiling. Then the same writes without a transaction, as the lean create itself sends them
  (two statements), and the ratio against that too.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from bench.anonymization import order_body
from bench.support import (
    HttpConnection,
    Operation,
    Result,
    bench_database,
    closed_loop,
    cpu_by_process,
    fixed_rate,
    http_connections,
    local_stack_pids,
    measured,
    table,
)
from deploy.local.stack import ensure_stack
from services.order_api.store.orders import OrderRows
from shared.auth import LOCAL_API_KEY
from shared.db import create_pool
from shared.dsn import service_dsn
from shared.outbox import OUTBOX_COLUMNS
from shared.services import ORDER_API, REPO_ROOT
from shared.settings import ServiceSettings
from tests.support.processes import ServiceProcess

PATH = "/com/orders.json"
# A custom line item (no catalog lookup) and no email (no customer record): the lean create path.
BODY = json.dumps(
    {
        "order": {
            "currency": "USD",
            "line_items": [{"title": "Bench widget", "price": "19.99", "quantity": 2, "sku": "BENCH-1"}],
            "tags": "bench",
        }
    }
).encode()


def full_bodies() -> Callable[[], bytes]:
    """The whole pipeline's create (bench/pipeline.py): an email, a new customer for each order, both
    addresses; a transaction of 6 round trips instead of the lean body's 2 statements."""
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count(1)

    def body() -> bytes:
        number = next(numbers)
        return order_body(f"create-{run}-{number}@example.com", f"Buyer{number}")

    return body


def http_creates(
    url: str, api_key: str, connections: int, body: Callable[[], bytes] = lambda: BODY
) -> tuple[Operation, list[HttpConnection]]:
    """POST a create body; operation `i` uses connection `i` (keep-alive)."""
    pool = http_connections(url, api_key, connections)

    async def create(index: int) -> bool:
        status, _ = await pool[index].request("POST", PATH, body())
        return status == 201

    return create, pool


async def run_http(url: str, pid: int, args: argparse.Namespace, label: str, notes: list[str]) -> list[Result]:
    create, pool = http_creates(
        url, args.api_key, max(args.concurrency, args.slots), full_bodies() if args.full else lambda: BODY
    )

    try:
        # Warm up the connections, the service's pool and prepared statements, and the code paths.
        await closed_loop("warm-up", create, args.concurrency, 2.0)
        pids = {"order_api": pid} | local_stack_pids()
        cpu_before = cpu_by_process(pids)
        saturated = await measured(
            closed_loop(f"HTTP {label}, {args.concurrency} concurrent", create, args.concurrency, args.seconds), pid
        )
        notes.append(f"{label}, {args.concurrency} concurrent: {cpu_per_create(pids, cpu_before, saturated.count)}")
        return [
            saturated,
            await measured(
                fixed_rate(f"HTTP {label}, {args.rate:g}/s fixed rate", create, args.rate, args.seconds, args.slots),
                pid,
            ),
        ]
    finally:
        for connection in pool:
            await connection.close()


def cpu_per_create(pids: dict[str, int], before: dict[str, float], creates: int) -> str:
    """CPU ms per create of each process since `before` (the service, Postgres, Kafka, this client)."""
    after = cpu_by_process(pids)
    shares = ", ".join(f"{name} {(after[name] - before[name]) / creates * 1000:.2f}" for name in after)
    return f"CPU ms per create: {shares}"


async def template_rows(admin_dsn: str, url: str, api_key: str) -> tuple[asyncpg.Record, asyncpg.Record]:
    """One order created over HTTP: its stored row and its outbox row, for the ceiling to copy."""
    _, (connection,) = http_creates(url, api_key, 1)
    status, body = await connection.request("POST", PATH, BODY)
    await connection.close()
    if status != 201:
        raise RuntimeError(f"create answered {status}: {body.decode(errors='replace')}")
    order_id = json.loads(body)["order"]["id"]
    conn = await asyncpg.connect(admin_dsn)
    try:
        order = await conn.fetchrow(
            "SELECT *, document::text AS document_text FROM order_api.orders WHERE id = $1", order_id
        )
        outbox = await conn.fetchrow(
            "SELECT topic, key, headers::text AS headers, body FROM order_api.outbox WHERE key = $1", str(order_id)
        )
    finally:
        await conn.close()
    if order is None or outbox is None:
        raise RuntimeError(f"order {order_id} or its outbox row is missing")
    return order, outbox


async def run_ceiling(
    admin_dsn: str,
    template: tuple[asyncpg.Record, asyncpg.Record],
    args: argparse.Namespace,
    pool_size: int,
    *,
    transaction: bool,
) -> Result:
    """The create's writes with nothing else: allocate ids, insert the order row as the service stored
    it, insert its outbox row; as order_api's role, with a pool of the service's size. With
    `transaction`, in a transaction (the ceiling as issue 12 set it: four round trips); without, as the
    lean create sends them (two statements, each its own transaction)."""
    order, outbox = template
    fixed = [name for name in dict(order) if name not in ("id", "order_number", "token", "document", "document_text")]
    outbox_at = 5 + len(fixed)
    # The order row and its outbox row in one statement, as the service writes them.
    insert_order_and_event = (
        f"WITH new_order AS (INSERT INTO orders (id, order_number, token, document, {', '.join(fixed)}) "
        f"VALUES ($1, $2, $3, $4::text::jsonb, {', '.join(f'${n}' for n in range(5, outbox_at))})) "
        f"INSERT INTO outbox ({OUTBOX_COLUMNS}) "
        f"VALUES (${outbox_at}, ${outbox_at + 1}, ${outbox_at + 2}, ${outbox_at + 3}::text::jsonb, ${outbox_at + 4})"
    )
    values = [order[name] for name in fixed]
    event_ids: list[uuid.UUID] = []
    order_ids: list[int] = []
    pool = await create_pool(service_dsn(ORDER_API, admin_dsn), ORDER_API.schema, max_size=pool_size)

    async def insert(_: int) -> bool:
        event_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction() if transaction else contextlib.nullcontext():
            order_id, number, _ids = await OrderRows(conn).allocate_ids(1)
            await conn.execute(
                insert_order_and_event,
                order_id,
                number,
                uuid.uuid4().hex,
                order["document_text"],
                *values,
                event_id,
                outbox["topic"],
                str(order_id),
                outbox["headers"],
                outbox["body"],
            )
        event_ids.append(event_id)
        order_ids.append(order_id)
        return True

    try:
        await closed_loop("warm-up", insert, args.concurrency, 1.0)
        cpu_before = time.process_time()
        how = "in a transaction" if transaction else "no transaction"
        result = await closed_loop(
            f"ceiling: bare asyncpg, {how}, {args.concurrency} concurrent", insert, args.concurrency, args.seconds
        )
        # The client's side of the same work: this process, running only asyncpg.
        result = dataclasses.replace(result, cpu_seconds=time.process_time() - cpu_before)
        # Copies, not orders: the relay must never publish them, lists should not show them, and the
        # database should not keep them (marked sent, each run left ~30,000 rows of 2.5 kB, and the
        # later runs' ceilings slowed on the grown tables).
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM outbox WHERE event_id = ANY($1::uuid[])", event_ids)
            await conn.execute("DELETE FROM orders WHERE id = ANY($1::bigint[])", order_ids)
    finally:
        await pool.close()
    return result


async def outbox_backlog(admin_dsn: str) -> int:
    conn = await asyncpg.connect(admin_dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM order_api.outbox WHERE sent_at IS NULL")
    finally:
        await conn.close()
    return count


async def main(args: argparse.Namespace) -> None:
    admin_dsn, bootstrap = ensure_stack()
    dsn = await bench_database(admin_dsn)
    log_dir = REPO_ROOT / ".local" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    pool_size = ServiceSettings.load(ORDER_API).db_pool_size
    results: list[Result] = []
    notes: list[str] = []
    template: tuple[asyncpg.Record, asyncpg.Record] | None = None
    for workers in args.workers:
        # A consumer group of its own: in the shared `order_api` group this instance, on the bench
        # database, would take orders.ingest facts meant for the real one.
        extra_env = {"ORDER_API_WORKERS": str(workers), "ORDER_API_CONSUMER_GROUP": "order_api_bench"}
        service = ServiceProcess(ORDER_API, (dsn, bootstrap), log_dir, extra_env)
        service.start()
        try:
            template = template or await template_rows(dsn, service.url, args.api_key)
            label = f"{workers} worker{'s' if workers > 1 else ''}{', full create' if args.full else ''}"
            results.extend(await run_http(service.url, service.pid, args, label, notes))
            notes.append(f"{label}: outbox rows not yet relayed at the end: {await outbox_backlog(dsn):,}")
        finally:
            code = service.terminate()
            if code != 0:
                print(f"order_api exited with {code}; log: {service.log_path}", file=sys.stderr)
    assert template is not None
    stack = local_stack_pids()
    cpu_before = cpu_by_process(stack)
    ceiling = await run_ceiling(dsn, template, args, pool_size, transaction=True)
    notes.append(
        f"ceiling, {args.concurrency} concurrent (warm-up included): {cpu_per_create(stack, cpu_before, ceiling.count)}"
    )
    cpu_before = cpu_by_process(stack)
    statements = await run_ceiling(dsn, template, args, pool_size, transaction=False)
    notes.append(
        f"ceiling without a transaction (warm-up included): {cpu_per_create(stack, cpu_before, statements.count)}"
    )
    notes.extend(
        f"{result.name} against the ceiling without a transaction: {result.rate / statements.rate:.0%}"
        for result in results
        if result.saturating
    )
    header = ["run", "creates", "errors", "creates/s", "p50 ms", "p99 ms", "app CPU ms/create", "of ceiling"]
    print()
    print(table(header, [*(result.row(ceiling) for result in results), ceiling.row(), statements.row()]))
    print()
    for note in notes:
        print(note)
    print(f"database {dsn.rsplit('/', 1)[-1]}, service pool {pool_size} connections, {Path(sys.executable).name}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight in the closed loop")
    parser.add_argument("--rate", type=float, default=300.0, help="creates per second in the fixed-rate run")
    parser.add_argument("--slots", type=int, default=64, help="most requests in flight in the fixed-rate run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="ORDER_API_WORKERS values to try")
    parser.add_argument("--api-key", default=LOCAL_API_KEY, help="a key with orders:write (ORDER_API_API_KEYS)")
    parser.add_argument(
        "--full",
        action="store_true",
        help="post bench/pipeline.py's create (email, new customer, addresses) instead of the lean one; "
        "the ceiling stays the lean create's",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
