"""The counts by status, financial and fulfillment status (migration 0014, store/order_counts.py) in the
real Postgres: after every kind of change, concurrent ones included, and before and after the changes
are folded, each count agrees with a COUNT(*) over the orders; a filter the counters do not cover is
counted in the orders themselves; creates never wait for each other on a counter; the migration counts
the orders already there, a writer in flight included."""

import asyncio
import itertools
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import asyncpg

from services.order_api.domain.queries import OrderQuery
from services.order_api.store.order_filters import where
from services.order_api.store.orders import OrderRows
from shared.db import Connection
from shared.migrations import apply_migrations
from shared.orders import FinancialStatus, FulfillmentStatus, OrderSnapshot, OrderStatus
from shared.services import ORDER_API
from tests.support.orders import sample_order
from tests.support.polling import eventually
from tests.support.scratch import scratch_schema

STATUSES: tuple[str, ...] = get_args(OrderStatus)
FINANCIAL: tuple[str, ...] = get_args(FinancialStatus)
FULFILLMENT: tuple[str | None, ...] = (None, *get_args(FulfillmentStatus))
BUCKETS = list(itertools.product(STATUSES, FINANCIAL, FULFILLMENT))

# Each bucket filter alone and with the others (None: not filtered), a few of several values each, and
# filters the counters do not cover, alone and beside the statuses.
QUERIES = [
    OrderQuery(
        statuses=None if status is None else [status],
        financial_statuses=None if financial is None else [financial],
        fulfillment_statuses=None if fulfillment == "any" else [fulfillment],
    )
    for status, financial, fulfillment in itertools.product(
        (None, *STATUSES), (None, *FINANCIAL), ("any", *FULFILLMENT)
    )
] + [
    OrderQuery(statuses=["open", "closed"], financial_statuses=["paid", "refunded", "voided"]),
    OrderQuery(fulfillment_statuses=[None, "partial"], financial_statuses=["pending", "authorized"]),
    OrderQuery(statuses=[]),
    OrderQuery(statuses=["open"], email="counted-2@example.com"),
    OrderQuery(financial_statuses=["paid"], ids=[3_100_000_001, 3_100_000_002, 3_100_000_003]),
    OrderQuery(fulfillment_statuses=[None], currency="EUR"),
]

FIRST_ID = 3_100_000_001


def order(order_id: int, status: str, financial: str, fulfillment: str | None) -> OrderSnapshot:
    return sample_order(order_id, f"counted-{order_id % 3}@example.com").model_copy(
        update={
            "status": status,
            "financial_status": financial,
            "fulfillment_status": fulfillment,
            "currency": "EUR" if order_id % 2 else "USD",
        }
    )


async def counts_and_truths(conn: Connection) -> tuple[list[int], list[int]]:
    """Each query's count as the store answers it, and as COUNT(*) over the orders table finds it."""
    counted = [await OrderRows(conn).count(query) for query in QUERIES]
    truths = []
    for query in QUERIES:
        clauses, args = where(query)
        truths.append(await conn.fetchval(f"SELECT count(*) FROM orders WHERE {clauses}", *args))
    return counted, truths


async def assert_exact(conn: Connection) -> None:
    counted, truths = await counts_and_truths(conn)
    assert counted == truths
    assert truths[0] == await conn.fetchval("SELECT count(*) FROM orders")  # QUERIES[0] filters nothing


async def fold(conn: Connection) -> int:
    async with conn.transaction():
        return await OrderRows(conn).fold_counts()


async def test_the_counts_stay_exact_through_every_kind_of_change(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        rows = OrderRows(conn)
        placed = [order(FIRST_ID + n, *bucket) for n, bucket in enumerate(BUCKETS)]
        for new in placed:  # one order in every bucket, then a second in some
            await rows.insert(new, None)
        for n, bucket in enumerate(BUCKETS[::5]):
            await rows.insert(order(FIRST_ID + 1000 + n, *bucket), None)
        await assert_exact(conn)

        changes: list[dict[str, object]] = [
            {"status": "closed"},  # close
            {"status": "open"},  # reopen
            {"status": "cancelled", "financial_status": "voided"},  # cancel
            {"financial_status": "paid"},  # a payment
            {"financial_status": "refunded"},  # a refund
            {"fulfillment_status": "fulfilled"},  # a fulfilment
            {"fulfillment_status": None},  # its cancellation
            {"anonymized": True, "email": None},  # anonymized: the same bucket
        ]
        for n, stored in enumerate(placed):
            await rows.save(stored.model_copy(update=changes[n % len(changes)]))
        await assert_exact(conn)

        for stored in placed[::4]:  # deleted
            await rows.delete(stored.id)
        # Any statement on the table counts, not only the store's.
        await conn.execute("UPDATE orders SET status = 'closed', fulfillment_status = 'restocked' WHERE id % 7 = 0")
        undone = conn.transaction()  # changes rolled back change no count
        await undone.start()
        await rows.save(placed[1].model_copy(update={"status": "cancelled"}))
        await rows.insert(order(FIRST_ID + 5000, "open", "paid", None), None)
        await undone.rollback()
        await assert_exact(conn)

        assert await fold(conn) > 0
        await assert_exact(conn)
        assert await fold(conn) == 0  # nothing left to fold
        await rows.save(placed[2].model_copy(update={"status": "cancelled"}))
        await assert_exact(conn)  # folded buckets and a change not folded yet

        await conn.execute("TRUNCATE orders")
        assert await counts_and_truths(conn) == ([0] * len(QUERIES), [0] * len(QUERIES))


async def test_concurrent_creates_updates_and_folds_keep_the_counts_exact(order_api_pool: asyncpg.Pool) -> None:
    shared = [order(FIRST_ID + n, "open", "pending", None) for n in range(10)]
    async with order_api_pool.acquire() as conn:
        for placed in shared:
            await OrderRows(conn).insert(placed, None)
    writing = True

    async def writer(number: int) -> None:
        draw = random.Random(number)
        async with order_api_pool.acquire() as conn:
            rows = OrderRows(conn)
            for n in range(30):
                new = order(FIRST_ID + 1000 * (number + 1) + n, *draw.choice(BUCKETS))
                await rows.insert(new, None)
                async with conn.transaction():
                    stored = await rows.fetch(new.id, for_update=True)
                    assert stored is not None
                    await rows.save(stored.order.model_copy(update={"status": draw.choice(STATUSES)}))
                # The orders every writer changes: each update moves the row as it is when locked.
                await conn.execute(
                    "UPDATE orders SET financial_status = $2, fulfillment_status = $3 WHERE id = $1",
                    draw.choice(shared).id,
                    draw.choice(FINANCIAL),
                    draw.choice(FULFILLMENT),
                )
                if n % 4 == 0:
                    await rows.delete(new.id)
                if n % 5 == 0:
                    undone = conn.transaction()
                    await undone.start()
                    await rows.save(new.model_copy(update={"financial_status": "voided"}))
                    await undone.rollback()

    async def folder() -> int:
        folded = 0
        async with order_api_pool.acquire() as conn:
            while writing:
                folded += await fold(conn)
                await asyncio.sleep(0.01)
        return folded

    folding = asyncio.create_task(folder())
    second_folder = asyncio.create_task(folder())  # two instances' folds at once
    await asyncio.gather(*(writer(number) for number in range(6)))
    writing = False
    assert await folding + await second_folder > 0

    async with order_api_pool.acquire() as conn:
        await assert_exact(conn)
        await fold(conn)
        await assert_exact(conn)
        assert await conn.fetchval("SELECT count(*) FROM orders") == 10 + 6 * (30 - 8)


async def test_a_create_waits_for_no_other_create_in_its_bucket(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as first, order_api_pool.acquire() as second:
        async with first.transaction():
            await OrderRows(first).insert(order(FIRST_ID, "open", "paid", None), None)
            async with second.transaction():
                # Waiting for the first create's commit (a lock on a shared counter row) would fail here.
                await second.execute("SET LOCAL lock_timeout = '2s'")
                await OrderRows(second).insert(order(FIRST_ID + 1, "open", "paid", None), None)
        assert await OrderRows(first).count(OrderQuery(statuses=["open"], financial_statuses=["paid"])) == 2


async def test_the_migration_counts_the_orders_there_and_a_create_in_flight(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    before = tmp_path / "before_the_counts"
    before.mkdir()
    for path in sorted(ORDER_API.migrations_dir.glob("*.sql")):
        if path.name < "0014":
            shutil.copy(path, before)
    async with scratch_schema(stack[0], before) as pool, pool.acquire() as conn, pool.acquire() as writer:
        for n, bucket in enumerate(BUCKETS * 2):
            await OrderRows(conn).insert(order(FIRST_ID + n, *bucket), None)
        in_flight = writer.transaction()
        await in_flight.start()
        await OrderRows(writer).insert(order(FIRST_ID + 9000, "open", "authorized", "partial"), None)

        schema = await conn.fetchval("SELECT current_schema()")
        migrating = asyncio.create_task(apply_migrations(conn, schema, ORDER_API.migrations_dir))
        # The migration waits for the create in flight before it counts.
        await eventually(
            lambda: writer.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'orders'::regclass"
            ),
            lambda waiting: waiting == 1,
            timeout=30,
        )
        await in_flight.commit()
        assert await migrating == ["0014_order_counts.sql"]
        await OrderRows(writer).insert(order(FIRST_ID + 9001, "closed", "paid", None), None)

        await assert_exact(conn)
        assert await OrderRows(conn).count(OrderQuery(statuses=["open"])) == 2 * 7 * 4 + 1
        a_day_ago = datetime.now(UTC) - timedelta(days=1)
        assert await OrderRows(conn).count(OrderQuery(created_at_min=a_day_ago)) == 2 * len(BUCKETS) + 2
