"""The list and count queries every dialect runs, timed over a million orders.

    .venv/bin/python -m bench.order_list [--rows 1000000] [--repeat 50] [--explain]

Loads `--rows` orders into the scratch database `orders_bench` (never the dev database others test
against), once: the set is kept, and loaded again only when `--rows` or the generator changes. The rows
are generated inside Postgres (`INSERT ... SELECT` over `generate_series`, with the secondary indexes
built afterwards) from a real order snapshot, with these distributions: ids and creation times rising
together over two years; status 37 % open, 60 % closed, 3 % cancelled; financial status mostly paid;
one email per ~5 orders (30 % guests); one or two SKUs per order from 5,000, skewed so a few are in
many orders. Then each query runs `--repeat` times through the store's `OrderRows.list` / `OrderRows.count`
as order_api's role, with parameters drawn afresh each time (emails, SKUs, cursors, days), and the
table shows p50/p99 in milliseconds, including parsing the page's documents as the service does. The
counts by status, which read counters (store/order_counts.py), are also counted in the index
(`OrderRows.count_matching`, as before the counters) in the same run.
"""

import argparse
import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import asyncpg

from bench.support import bench_database, percentile, table
from deploy.local.stack import ensure_stack
from services.order_api.domain.building import NewOrderIds, build_order
from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.store.orders import OrderRows
from shared.db import Connection, create_pool
from shared.dsn import service_dsn
from shared.order_facts import OrderDraft
from shared.services import ORDER_API

# Bump when the generated rows change, so a kept data set of the old shape is loaded again.
GENERATOR_VERSION: Final = 1
FIRST_ID: Final = 1_000_000_001
SPAN: Final = timedelta(days=730)
PAGE: Final = 50

_TEMPLATE_DRAFT = OrderDraft.model_validate(
    {
        "email": "template@example.com",
        "currency": "USD",
        "line_items": [
            {"title": "Tetsubin teapot", "price": "89.00", "quantity": 1, "sku": "SKU-1", "grams": 1200},
            {"title": "Sencha, 100 g", "price": "12.50", "quantity": 2, "sku": "SKU-2", "grams": 100},
        ],
        "shipping_lines": [{"title": "Standard", "price": "5.00"}],
        "shipping_address": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "address1": "1 Loop Road",
            "city": "London",
            "country_code": "GB",
            "zip": "N1 9GU",
        },
        "tags": "bench",
        "financial_status": "paid",
    }
)

# One statement, generated server-side: columns drawn from random numbers per row, then the stored
# document is the template with this row's values laid over it (Postgres computes `state` itself).
_LOAD = """
INSERT INTO order_api.orders (id, order_number, token, email, currency, status, financial_status,
    fulfillment_status, fraud_state, customer_id, guest, upstream_id, checkout_id, locale, browser_ip,
    skus, total_price, refunded_amount, created_at, updated_at, processed_at, sequence, document)
SELECT id, order_number, token, email, currency, status, financial_status, fulfillment_status, fraud_state,
    customer_id, customer_id IS NULL, upstream_id, checkout_id, locale, browser_ip, skus, total_price,
    refunded_amount, created_at, updated_at, created_at, 1,
    $2::jsonb || jsonb_build_object(
        'id', id, 'number', order_number - 1000, 'order_number', order_number, 'name', '#' || order_number,
        'token', token, 'email', email, 'currency', currency, 'status', status,
        'financial_status', financial_status, 'fulfillment_status', fulfillment_status,
        'fraud_state', fraud_state, 'guest', customer_id IS NULL, 'upstream_id', upstream_id,
        'checkout_id', checkout_id, 'locale', locale, 'browser_ip', browser_ip,
        'total_price', total_price::text, 'created_at', created_at, 'updated_at', updated_at,
        'processed_at', created_at,
        'closed_at', CASE WHEN status = 'closed' THEN updated_at END,
        'cancelled_at', CASE WHEN status = 'cancelled' THEN updated_at END,
        'customer', CASE WHEN customer_id IS NOT NULL THEN jsonb_build_object(
            'id', customer_id, 'email', email, 'state', 'enabled', 'created_at', created_at,
            'updated_at', created_at) END,
        'line_items', jsonb_build_array(
            jsonb_set($2::jsonb -> 'line_items' -> 0, '{sku}', to_jsonb(skus[1])),
            jsonb_set($2::jsonb -> 'line_items' -> 1, '{sku}', to_jsonb(skus[array_length(skus, 1)]))))
FROM (
    SELECT id, order_number, token, created_at, status, financial_status, fulfillment_status, fraud_state,
        customer_id, currency, skus, total_price, upstream_id, checkout_id, locale, browser_ip,
        CASE WHEN customer_id IS NULL THEN 'guest' || (id % 300000) ELSE 'customer' || customer_id END
            || '@example.com' AS email,
        LEAST(created_at + r_updated * interval '30 days', $3::timestamptz) AS updated_at,
        CASE WHEN financial_status = 'refunded' THEN total_price
             WHEN financial_status = 'partially_refunded' THEN round(total_price / 3, 2) ELSE 0 END
            AS refunded_amount
    FROM (
        SELECT $4::bigint + g - 1 AS id, 1000 + g AS order_number, md5(g::text) AS token,
            $3::timestamptz - $5::interval + (g::float8 / $1) * $5::interval AS created_at,
            CASE WHEN r1 < 0.03 THEN 'cancelled' WHEN r1 < 0.63 THEN 'closed' ELSE 'open' END AS status,
            CASE WHEN r2 < 0.70 THEN 'paid' WHEN r2 < 0.80 THEN 'pending' WHEN r2 < 0.85 THEN 'authorized'
                 WHEN r2 < 0.87 THEN 'partially_paid' WHEN r2 < 0.92 THEN 'partially_refunded'
                 WHEN r2 < 0.97 THEN 'refunded' ELSE 'voided' END AS financial_status,
            CASE WHEN r3 < 0.60 THEN 'fulfilled' WHEN r3 < 0.65 THEN 'partial' END AS fulfillment_status,
            CASE WHEN r4 < 0.005 THEN 'blocked' WHEN r4 < 0.015 THEN 'review_opened' ELSE 'passed' END
                AS fraud_state,
            CASE WHEN r5 >= 0.30 THEN 9000000000 + (r6 * 140000)::bigint END AS customer_id,
            CASE WHEN r7 < 0.70 THEN 'USD' WHEN r7 < 0.85 THEN 'EUR' WHEN r7 < 0.95 THEN 'VND' ELSE 'JPY' END
                AS currency,
            ARRAY(SELECT DISTINCT 'SKU-' || floor(5000 * power(random(), 3))::int
                  FROM generate_series(1, 1 + (r8 * 2)::int) WHERE g > 0) AS skus,
            round((10 + r9 * 490)::numeric, 2) AS total_price,
            CASE WHEN r10 < 0.5 THEN 'up-' || g END AS upstream_id,
            CASE WHEN r10 < 0.5 THEN 'co-' || g END AS checkout_id,
            (ARRAY['en-US', 'vi-VN', 'de-DE', 'ja-JP'])[1 + (r7 * 3.99)::int] AS locale,
            '10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g % 97) AS browser_ip,
            r_updated
        FROM (
            SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                random() AS r6, random() AS r7, random() AS r8, random() AS r9, random() AS r10,
                random() AS r_updated
            FROM generate_series(1, $1) AS g
        ) AS draws
    ) AS columns
) AS rows
"""


async def load(admin: asyncpg.Connection, rows: int) -> float | None:
    """Load `rows` orders unless exactly that set is there; returns the seconds it took, None if kept."""
    await admin.execute(
        """CREATE SCHEMA IF NOT EXISTS bench;
           CREATE TABLE IF NOT EXISTS bench.dataset (rows bigint NOT NULL, version int NOT NULL,
               loaded_at timestamptz NOT NULL)"""
    )
    kept = await admin.fetchrow("SELECT rows, version FROM bench.dataset")
    if kept is not None and (kept["rows"], kept["version"]) == (rows, GENERATOR_VERSION):
        # Orders other benchmarks created here sit above the set's ids, where every newest-first page
        # starts: removed, so each run measures the same data.
        removed = await admin.execute(
            "DELETE FROM order_api.orders WHERE id NOT BETWEEN $1 AND $2", FIRST_ID, FIRST_ID + rows - 1
        )
        if removed != "DELETE 0":
            await admin.execute("VACUUM ANALYZE order_api.orders")
        return None
    started = time.perf_counter()
    template = build_order(
        _TEMPLATE_DRAFT, NewOrderIds(1, 1001, secrets.token_hex(16), iter(range(1, 10))), datetime.now(UTC), {}, None
    )
    indexes = await admin.fetch(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           JOIN pg_index x ON x.indexrelid = format('%I.%I', i.schemaname, i.indexname)::regclass
           WHERE i.schemaname = 'order_api' AND i.tablename = 'orders' AND NOT x.indisunique"""
    )
    async with admin.transaction():
        await admin.execute("DELETE FROM bench.dataset")
        await admin.execute("TRUNCATE order_api.orders")
        # Building each index once after the load is several times faster than maintaining it per row.
        for index in indexes:
            await admin.execute(f'DROP INDEX order_api."{index["indexname"]}"')
        await admin.execute("SELECT setseed(0.42)")
        await admin.execute(_LOAD, rows, template.model_dump_json(), datetime.now(UTC), FIRST_ID, SPAN)
        for index in indexes:
            await admin.execute(index["indexdef"])
        # Orders created here later (bench/order_create.py) take numbers after these; their ids come
        # from a range of their own (BENCH_FIRST_ORDER_ID), above these.
        await admin.execute("SELECT setval('order_api.order_number_seq', max(order_number)) FROM order_api.orders")
        await admin.execute(
            "INSERT INTO bench.dataset (rows, version, loaded_at) VALUES ($1, $2, now())", rows, GENERATOR_VERSION
        )
    await admin.execute("VACUUM ANALYZE order_api.orders")
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Samples:
    """Real values of the data set to draw query parameters from."""

    first_id: int
    last_id: int
    emails: list[str]
    common_skus: list[str]
    rare_skus: list[str]
    customer_ids: list[int]
    oldest: datetime
    newest: datetime


async def samples(conn: asyncpg.Connection) -> Samples:
    bounds = await conn.fetchrow("SELECT min(id), max(id), min(created_at), max(created_at) FROM order_api.orders")
    assert bounds is not None
    picked = await conn.fetch(
        "SELECT email, customer_id, skus FROM order_api.orders TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 2000"
    )
    skus = sorted({sku for row in picked for sku in row["skus"]}, key=lambda sku: int(sku.removeprefix("SKU-")))
    return Samples(
        bounds[0],
        bounds[1],
        [row["email"] for row in picked],
        skus[:10],
        skus[-50:],
        [row["customer_id"] for row in picked if row["customer_id"] is not None],
        bounds[2],
        bounds[3],
    )


Query = Callable[[Connection, random.Random], Awaitable[Any]]


def queries(s: Samples) -> list[tuple[str, Query]]:
    def listing(query: Callable[[random.Random], OrderQuery], **page: Callable[[random.Random], Any]) -> Query:
        async def run(conn: Connection, rng: random.Random) -> Any:
            kwargs: dict[str, Any] = {"limit": PAGE, **{name: draw(rng) for name, draw in page.items()}}
            return await OrderRows(conn).list(query(rng), Page(**kwargs))

        return run

    def counting(query: Callable[[random.Random], OrderQuery]) -> Query:
        async def run(conn: Connection, rng: random.Random) -> Any:
            return await OrderRows(conn).count(query(rng))

        return run

    def scanning(query: Callable[[random.Random], OrderQuery]) -> Query:
        """The count in the orders' index, as every count was before the counters (migration 0014)."""

        async def run(conn: Connection, rng: random.Random) -> Any:
            return await OrderRows(conn).count_matching(query(rng))

        return run

    def middle_id(rng: random.Random) -> int:
        return rng.randint(s.first_id, s.last_id)

    def day(rng: random.Random) -> OrderQuery:
        start = s.oldest + (s.newest - s.oldest - timedelta(days=1)) * rng.random()
        return OrderQuery(created_at_min=start, created_at_max=start + timedelta(days=1))

    def browser_ip(g: int) -> str:  # the address _LOAD gives order g
        return f"10.{g % 250}.{g // 250 % 250}.{g % 97}"

    every = lambda _: OrderQuery()  # noqa: E731
    is_open = lambda _: OrderQuery(statuses=["open"])  # noqa: E731
    open_paid = lambda _: OrderQuery(statuses=["open"], financial_statuses=["paid"])  # noqa: E731
    open_refunded = lambda _: OrderQuery(statuses=["open"], financial_statuses=["refunded"])  # noqa: E731
    open_paid_unfulfilled = lambda _: OrderQuery(  # noqa: E731
        statuses=["open"], financial_statuses=["paid"], fulfillment_statuses=[None]
    )
    return [
        ("first page, any status", listing(every)),
        ("first page, status=open (Haravan default)", listing(is_open)),
        ("keyset page deep in the set, desc", listing(every, before_id=middle_id)),
        ("since_id deep in the set, asc", listing(every, after_id=middle_id, direction=lambda _: "asc")),
        ("Haravan page 10 (offset 450), open", listing(is_open, offset=lambda _: 450)),
        ("open + paid, first page", listing(open_paid)),
        ("open + paid, deep cursor", listing(open_paid, before_id=middle_id)),
        ("open + refunded (rare), deep cursor", listing(open_refunded, before_id=middle_id)),
        ("email", listing(lambda rng: OrderQuery(email=rng.choice(s.emails)))),
        ("customer id", listing(lambda rng: OrderQuery(customer_id=rng.choice(s.customer_ids)))),
        ("sku, popular", listing(lambda rng: OrderQuery(sku=rng.choice(s.common_skus)))),
        ("sku, rare", listing(lambda rng: OrderQuery(sku=rng.choice(s.rare_skus)))),
        ("created_at one-day range", listing(day)),
        ("Digital River state=pending_payment", listing(lambda _: OrderQuery(states=["pending_payment"]))),
        ("Digital River fraudState=blocked (rare)", listing(lambda _: OrderQuery(fraud_state="blocked"))),
        ("Digital River currency nobody uses", listing(lambda _: OrderQuery(currency="GBP"))),
        ("Digital River browserIp", listing(lambda rng: OrderQuery(browser_ip=browser_ip(rng.randrange(1, 10**6))))),
        (
            "Digital River refundedAmount",
            listing(lambda rng: OrderQuery(refunded_amount=Decimal(rng.randrange(99)) + 10)),
        ),
        (
            "Digital River upstreamIds (10)",
            listing(lambda rng: OrderQuery(upstream_ids=[f"up-{rng.randrange(1, 1_000_000)}" for _ in range(10)])),
        ),
        ("count, status=open", counting(is_open)),
        ("count, status=open, in the index (no counters)", scanning(is_open)),
        ("count, open + paid", counting(open_paid)),
        ("count, open + paid, in the index (no counters)", scanning(open_paid)),
        ("count, open + paid + unfulfilled", counting(open_paid_unfulfilled)),
        ("count, open + paid + unfulfilled, in the index", scanning(open_paid_unfulfilled)),
        ("count, any status", counting(every)),
        ("count, any status, in the index (no counters)", scanning(every)),
        ("count, email", counting(lambda rng: OrderQuery(email=rng.choice(s.emails)))),
        ("count, one-day range", counting(day)),
    ]


async def explain(conn: Connection, name: str, run: Query, rng: random.Random) -> None:
    """Print the plan of the statement `run` sends (its first one), by capturing it on the way."""
    statements: list[tuple[str, tuple[Any, ...]]] = []

    class Capture:
        async def fetch(self, sql: str, *args: Any) -> list[Any]:
            statements.append((sql, args))
            return []

        async def fetchval(self, sql: str, *args: Any) -> int:
            statements.append((sql, args))
            return 0

    await run(Capture(), rng)  # type: ignore[arg-type]
    sql, args = statements[0]
    plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    print(f"\n-- {name}\n" + "\n".join(row[0] for row in plan))


async def main(args: argparse.Namespace) -> None:
    admin_dsn, _ = ensure_stack()
    dsn = await bench_database(admin_dsn)
    admin = await asyncpg.connect(dsn)
    try:
        took = await load(admin, args.rows)
        print(f"loaded {args.rows:,} orders in {took:.0f} s" if took else f"kept the loaded {args.rows:,} orders")
        found = await samples(admin)
    finally:
        await admin.close()
    pool = await create_pool(service_dsn(ORDER_API, dsn), ORDER_API.schema, max_size=2)
    rng = random.Random(42)  # noqa: S311 - query parameters, not secrets
    rows: list[list[object]] = []
    try:
        async with pool.acquire() as conn, conn.transaction():  # as the service's loop does every second
            folded = await OrderRows(conn).fold_counts()
        print(f"folded {folded:,} order changes into the counts by status")
        async with pool.acquire() as conn:
            for name, run in queries(found):
                await run(conn, rng)  # warm: prepared statement, cache
                timings: list[float] = []
                sizes: list[int] = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    result = await run(conn, rng)
                    timings.append(time.perf_counter() - started)
                    sizes.append(len(result) if isinstance(result, list) else result)
                timings.sort()
                rows.append(
                    [
                        name,
                        f"{percentile(timings, 0.5) * 1000:.1f}",
                        f"{percentile(timings, 0.99) * 1000:.1f}",
                        f"{sum(sizes) / len(sizes):,.0f}",
                    ]
                )
                if args.explain:
                    await explain(conn, name, run, rng)
    finally:
        await pool.close()
    print()
    print(table(["query (page of 50 unless said)", "p50 ms", "p99 ms", "rows (avg)"], rows))
    print(f"\n{args.repeat} runs each, parameters drawn afresh per run; database {dsn.rsplit('/', 1)[-1]}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders in the data set")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs of each query")
    parser.add_argument("--explain", action="store_true", help="print each query's plan (EXPLAIN ANALYZE)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
