"""Creates at the same moment share their insert statements (services/order_api/store/orders.py,
`NewOrders`) on the real Postgres: every order is stored with its own `order.created` outbox row (and a
new customer's record with its order counted), a shared statement that fails leaves each create to its
own outcome, and a create inside a transaction writes its order in that transaction, never in another
create's statement."""

import asyncio
import contextlib
import json
from collections.abc import Callable

import asyncpg

from services.order_api.domain.stored import StoredOrder
from services.order_api.service.errors import UpstreamConflict
from services.order_api.service.lifecycle import order_event
from services.order_api.service.orders import OrderService
from services.order_api.store import PostgresDatabase
from services.order_api.store.orders import Gatherings, NewOrders, OrderRows
from shared.events import Event
from shared.order_facts import OrderDraft
from shared.orders import OrderSnapshot
from tests.support.order_rules import build, custom, order
from tests.support.polling import eventually

CREATES = 24


def _service(pool: asyncpg.Pool, gatherings: Gatherings | None = None) -> OrderService:
    return OrderService(PostgresDatabase(pool, gatherings or Gatherings()), max_event_bytes=1_000_000)


def _draft(price: str, **fields: str) -> OrderDraft:
    return OrderDraft.model_validate(order(custom(price), **fields))


async def _created_together(
    pool: asyncpg.Pool, drafts: list[OrderDraft], queue: Callable[[Gatherings], NewOrders]
) -> list[OrderSnapshot]:
    """The orders of `drafts`, created at the same moment by one process's service while the first
    create's insert is held by a lock, so that the others all queue (in `queue(gatherings)`) behind it:
    more creates than the pool has connections, since a create waiting there holds none."""
    gatherings = Gatherings()
    service = _service(pool, gatherings)
    async with pool.acquire() as locker:
        async with locker.transaction():
            await locker.execute("LOCK TABLE orders IN SHARE MODE")  # reads pass, inserts wait
            placing = asyncio.gather(*(service.create_order(draft, may_read=True) for draft in drafts))
            await eventually(
                lambda: _waiting(queue(gatherings)), lambda waiting: waiting == len(drafts) - 1, timeout=30
            )
        placed = await asyncio.wait_for(placing, 30)
    return [created.stored.order for created in placed]


async def _waiting(gathering: NewOrders) -> int:
    return gathering.waiting


async def test_concurrent_lean_creates_share_statements_and_each_has_its_event(order_api_pool: asyncpg.Pool) -> None:
    placed = await _created_together(
        order_api_pool,
        [_draft(f"{n + 1}.00") for n in range(CREATES)],
        lambda gatherings: gatherings.without_customers,
    )
    ids = [created.id for created in placed]
    async with order_api_pool.acquire() as conn:
        orders = await conn.fetch(
            "SELECT id, xmin::text AS statement, document->'line_items'->0->>'price' AS price FROM orders"
            " WHERE id = ANY($1::bigint[])",
            ids,
        )
        events = await conn.fetch("SELECT key, headers, body FROM outbox WHERE topic = 'orders.events'")

    assert {row["id"]: row["price"] for row in orders} == {
        created.id: str(created.line_items[0].price) for created in placed
    }
    # One `order.created` per order, keyed by it, about it.
    assert sorted(event["key"] for event in events) == sorted(str(order_id) for order_id in ids)
    for event in events:
        assert ["ce_type", "order.created"] in event["headers"]
        assert json.loads(event["body"])["order_id"] == int(event["key"])
    # Rows one statement wrote share its transaction id: the held create's, then one for all the others.
    assert len({row["statement"] for row in orders}) == 2


async def test_concurrent_creates_of_new_customers_share_statements_and_each_record_counts_its_order(
    order_api_pool: asyncpg.Pool,
) -> None:
    emails = [f"buyer-{n}@example.com" for n in range(CREATES)]
    orders = await _created_together(
        order_api_pool,
        [_draft(f"{n + 1}.00", email=e) for n, e in enumerate(emails)],
        lambda gatherings: gatherings.making_customers,
    )
    async with order_api_pool.acquire() as conn:
        records = await conn.fetch(
            "SELECT email, orders_count, total_spent, last_order_id, xmin::text AS statement"
            " FROM customers WHERE email = ANY($1::text[])",
            emails,
        )
        events = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'orders.events'")

    by_email = {record["email"]: record for record in records}
    assert sorted(by_email) == sorted(emails)
    for created in orders:
        assert created.customer is not None
        record = by_email[created.email]
        assert (record["orders_count"], record["total_spent"], record["last_order_id"]) == (
            1,
            created.total_price,
            created.id,
        )
        assert created.customer.orders_count == 1
    assert events == CREATES
    assert len({record["statement"] for record in records}) == 2


async def test_a_clash_in_a_shared_insert_fails_only_the_create_that_clashed(order_api_pool: asyncpg.Pool) -> None:
    service = _service(order_api_pool)
    drafts = [_draft(f"{n + 1}.00") for n in range(CREATES)]
    # Two creates with the same new upstream id and different contents, among the others.
    drafts[5] = _draft("1.50", upstream_id="shop-77")
    drafts[6] = _draft("2.50", upstream_id="shop-77")
    outcomes = await asyncio.gather(
        *(service.create_order(draft, may_read=True) for draft in drafts), return_exceptions=True
    )

    clashes = [outcome for outcome in outcomes if isinstance(outcome, UpstreamConflict)]
    created = [outcome.stored.order for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert len(clashes) == 1
    assert len(created) == CREATES - 1
    winner = next(placed for placed in created if placed.upstream_id == "shop-77")
    assert clashes[0].order_id == winner.id
    async with order_api_pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE id = ANY($1::bigint[])", [o.id for o in created]
        )
        events = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'orders.events'")
    assert stored == events == CREATES - 1


def _numbered(number: int) -> OrderSnapshot:
    return build(order(custom("5.00"))).model_copy(
        update={"id": 7_000_000 + number, "order_number": 70_000 + number, "token": f"lean-{number}"}
    )


def _created(first: StoredOrder) -> Event:
    return order_event("order.created", first, 1_000_000)


class _RolledBack(Exception):
    pass


async def test_a_create_in_a_transaction_writes_its_order_in_it(order_api_pool: asyncpg.Pool) -> None:
    gatherings = Gatherings()

    async def insert(number: int) -> None:
        async with order_api_pool.acquire() as conn:
            await OrderRows(conn, gatherings).insert(_numbered(number), None, _created)

    async def insert_then_roll_back(number: int) -> None:
        async with order_api_pool.acquire() as conn:
            with contextlib.suppress(_RolledBack):
                async with conn.transaction():
                    await OrderRows(conn, gatherings).insert(_numbered(number), None, _created)
                    raise _RolledBack

    async with order_api_pool.acquire() as locker:
        async with locker.transaction():
            # Inserts wait on the lock: the first create's statement stays under way while the next
            # create queues for the following one, and the create in a transaction comes after both.
            await locker.execute("LOCK TABLE orders IN SHARE MODE")
            under_way = asyncio.create_task(insert(1))
            await asyncio.sleep(0.2)
            queued = asyncio.create_task(insert(2))
            await asyncio.sleep(0.05)
            in_transaction = asyncio.create_task(insert_then_roll_back(3))
            await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(under_way, queued, in_transaction), 10)
        stored = await locker.fetch("SELECT order_number FROM orders WHERE order_number > 70000 ORDER BY 1")
    assert [row["order_number"] for row in stored] == [70_001, 70_002]
