"""`OrderRows.lock_all` in the real Postgres (Elastic Path's anonymize locks up to 100 orders with it):
the orders that exist, by id, in one round trip, each locked until the transaction ends; unknown ids
are simply absent."""

import asyncio

import asyncpg

from services.order_api.domain.stored import StoredOrder
from services.order_api.store.orders import OrderRows
from tests.support.orders import sample_order

FIRST = sample_order(2_100_000_001, "lock-all-1@example.com")
SECOND = sample_order(2_100_000_002, "lock-all-2@example.com")


async def test_the_orders_named_are_found_and_locked(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as first, order_api_pool.acquire() as second:
        for order in (FIRST, SECOND):
            await OrderRows(first).insert(order, None)

        holding = first.transaction()
        await holding.start()
        locked = await OrderRows(first).lock_all([SECOND.id, FIRST.id, SECOND.id + 1_000])
        assert locked == {FIRST.id: StoredOrder(FIRST, 1), SECOND.id: StoredOrder(SECOND, 1)}

        async with second.transaction():
            waiting = asyncio.create_task(OrderRows(second).fetch(SECOND.id, for_update=True))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # locked by the first transaction
            await holding.commit()
            assert await asyncio.wait_for(waiting, 5) == StoredOrder(SECOND, 1)
