"""Concurrent creates for one customer on the real Postgres (services/order_api/service/orders.py, the
order counted on its customer's record in the order's own insert): every order is counted once, each
order shows the record as it stood once that order was counted (counts 1 to N, no two alike), and the
record ends with the last of them. For a checkout record found by email and for a customer named by id."""

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg

from services.order_api.service.orders import OrderService
from services.order_api.store import PostgresDatabase
from services.order_api.store.catalog import CustomerRows
from shared.order_facts import CustomerFact, OrderDraft
from shared.orders import OrderSnapshot
from tests.support.order_rules import custom, order

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
