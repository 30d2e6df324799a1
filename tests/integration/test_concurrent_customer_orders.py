"""Concurrent creates for one customer on the real Postgres (services/order_api/service/orders.py, the
order counted on its customer's record in the order's own insert): every order is counted once, each
order shows the record as it stood once that order was counted (counts 1 to N, no two alike), and the
record ends with the last of them. For a checkout record found by email and for a customer named by id.
And the insert itself (store/orders.py): on a record that moved on since it was read, it writes nothing
at all; a new checkout record drawn for an order exists only once the order's insert made it."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.order_api.domain.customers import with_counted_customer
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.lifecycle import order_event
from services.order_api.service.orders import OrderService
from services.order_api.service.ports import NewIds, OrderCustomer
from services.order_api.store import PostgresDatabase
from services.order_api.store.catalog import CustomerRows
from services.order_api.store.orders import OrderRows
from shared.db import Connection
from shared.events import Event
from shared.order_facts import CustomerDraft, CustomerFact, OrderDraft
from shared.orders import OrderSnapshot
from tests.support.order_rules import custom, order
from tests.support.orders import sample_order

CREATES = 6
CUSTOMER = 207119552


async def _create_concurrently(pool: asyncpg.Pool, body: dict[str, Any], creates: int) -> list[OrderSnapshot]:
    service = OrderService(PostgresDatabase(pool), max_event_bytes=1_000_000)
    draft = OrderDraft.model_validate(body)
    placed = await asyncio.gather(*(service.create_order(draft, may_read=True) for _ in range(creates)))
    return [created.stored.order for created in placed]


def _assert_counted_once_each(orders: list[OrderSnapshot]) -> None:
    shown = [created.customer for created in orders]
    assert all(customer is not None for customer in shown)
    counts = sorted((customer.orders_count, customer.total_spent) for customer in shown if customer is not None)
    assert counts == [(n, Decimal("12.50") * n) for n in range(1, CREATES + 1)]
    assert len({customer.id for customer in shown if customer is not None}) == 1


async def test_concurrent_orders_with_one_email_count_on_one_checkout_record(order_api_pool: asyncpg.Pool) -> None:
    body = order(custom("12.50"), email="ada@example.com")
    # The first order makes the record (two concurrent first orders of one email may make two).
    orders = await _create_concurrently(order_api_pool, body, 1)
    orders += await _create_concurrently(order_api_pool, body, CREATES - 1)
    _assert_counted_once_each(orders)
    async with order_api_pool.acquire() as conn:
        record = await CustomerRows(conn).fetch(orders[0].customer.id if orders[0].customer else 0)
    last = max(orders, key=lambda created: created.customer.orders_count if created.customer else 0)
    assert record is not None
    assert (record.orders_count, record.total_spent, record.last_order_id) == (
        CREATES,
        Decimal("75.00"),
        last.id,
    )


async def test_concurrent_orders_naming_a_customer_count_on_it(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        await CustomerRows(conn).upsert(CustomerFact(id=CUSTOMER, email="bob@example.com", first_name="Bob"))
    orders = await _create_concurrently(order_api_pool, order(custom("12.50"), customer={"id": CUSTOMER}), CREATES)
    _assert_counted_once_each(orders)
    async with order_api_pool.acquire() as conn:
        record = await CustomerRows(conn).fetch(CUSTOMER)
    assert record is not None
    # The order that locked the record last drew the highest id: the record's last order is the newest.
    assert (record.orders_count, record.last_order_id) == (CREATES, max(created.id for created in orders))


def _order_for(read: OrderCustomer, ids: NewIds) -> OrderSnapshot:
    order_id, number, _ = ids
    placed = sample_order(order_id).model_copy(update={"order_number": number, "name": f"#{number}", "guest": False})
    return with_counted_customer(placed.model_copy(update={"customer": read.record}), read.record)


def _created(stored: StoredOrder) -> Event:
    return order_event("order.created", stored, 1_000_000)


async def _events_of(conn: Connection, order: OrderSnapshot) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", str(order.id))
    return count


async def test_an_insert_on_a_record_that_moved_on_since_it_was_read_writes_nothing(
    order_api_pool: asyncpg.Pool,
) -> None:
    async with order_api_pool.acquire() as conn:
        customers, orders = CustomerRows(conn), OrderRows(conn)
        await customers.upsert(CustomerFact(id=CUSTOMER, email="cy@example.com", first_name="Cy"))
        read = await customers.read_for_order(CUSTOMER, 0, lock=False)
        assert read is not None
        stale = _order_for(*read)
        await customers.upsert(CustomerFact(id=CUSTOMER, email="cy@example.com", first_name="Cyd"))

        assert await orders.insert(stale, None, _created, customer_version=read[0].version) is None
        assert (await orders.fetch(stale.id), await _events_of(conn, stale)) == (None, 0)
        record = await customers.fetch(CUSTOMER)
        assert record is not None
        assert (record.orders_count, record.first_name) == (0, "Cyd")

        again = await customers.read_for_order(CUSTOMER, 0, lock=False)
        assert again is not None
        fresh = _order_for(*again)
        assert await orders.insert(fresh, None, _created, customer_version=again[0].version) is not None
        counted = await customers.fetch(CUSTOMER)
        assert counted is not None
        assert (counted.orders_count, counted.total_spent, counted.last_order_id) == (1, Decimal("25.00"), fresh.id)
        assert await _events_of(conn, fresh) == 1


async def test_a_new_checkout_record_exists_only_once_its_orders_insert_made_it(
    order_api_pool: asyncpg.Pool,
) -> None:
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    async with order_api_pool.acquire() as conn:
        customers, orders = CustomerRows(conn), OrderRows(conn)
        draft = CustomerDraft(email="dee@example.com", first_name="Dee", accepts_marketing=True)
        drawn, ids = await customers.find_or_draw_for_order(draft, now, 0, lock=False)
        assert drawn.version is None
        assert await customers.fetch(drawn.record.id) is None

        placed = _order_for(drawn, ids)
        assert await orders.insert(placed, None, _created) is not None
        made = await customers.fetch(drawn.record.id)
        assert made is not None
        assert (made.email, made.first_name, made.accepts_marketing, made.state, made.created_at) == (
            "dee@example.com",
            "Dee",
            True,
            "disabled",
            now,
        )
        assert (made.orders_count, made.total_spent, made.last_order_id, made.last_order_name) == (
            1,
            Decimal("25.00"),
            placed.id,
            placed.name,
        )
        found, _ = await customers.find_or_draw_for_order(draft, now, 0, lock=False)
        assert (found.record.id, found.version is not None) == (made.id, True)
