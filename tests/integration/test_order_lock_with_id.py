"""`OrderRows.fetch_for_change` in the real Postgres: the order locked for a change and a new object id,
in one round trip, the id drawn only once the order is locked (a second change of the same order,
waiting on the lock, draws a higher id than any drawn before it got the lock)."""

import asyncio

import asyncpg

from services.order_api.domain.stored import StoredOrder
from services.order_api.store.orders import OrderRows
from tests.support.orders import sample_order

ORDER = sample_order(1, "lock@example.com")


async def test_the_order_is_locked_and_an_id_drawn_after_the_lock(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as first, order_api_pool.acquire() as second:
        await OrderRows(first).insert(ORDER, None)
        assert await OrderRows(first).fetch_for_change(ORDER.id + 1_000) is None

        first_change = first.transaction()
        await first_change.start()
        locked = await OrderRows(first).fetch_for_change(ORDER.id)
        assert locked is not None
        stored, first_id = locked
        assert stored == StoredOrder(ORDER, 1)

        second_change = second.transaction()
        await second_change.start()
        waiting = asyncio.create_task(OrderRows(second).fetch_for_change(ORDER.id))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the row is locked by the first change
        between = await OrderRows(first).next_object_id()  # drawn meanwhile, as another change would
        await first_change.commit()

        relocked = await asyncio.wait_for(waiting, 5)
        await second_change.commit()
        assert relocked is not None
        assert first_id < between < relocked[1]
