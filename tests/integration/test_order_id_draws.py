"""Creates at the same moment share their id draws (services/order_api/store/id_draws.py) on the real
Postgres: every order gets ids of its own, order numbers rise with order ids, every line item has an id
of its own, and no id is drawn that no order took."""

import asyncio

import asyncpg

from services.order_api.service.orders import OrderService
from services.order_api.store import PostgresDatabase
from services.order_api.store.orders import Gatherings
from shared.order_facts import OrderDraft
from tests.support.order_rules import custom, order

CREATES = 24


async def _last_values(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT last_value FROM order_id_seq), (SELECT last_value FROM order_number_seq), "
            "(SELECT last_value FROM object_id_seq)"
        )
    assert row is not None
    return row[0], row[1], row[2]


async def test_concurrent_creates_each_get_their_own_ids_and_none_is_wasted(order_api_pool: asyncpg.Pool) -> None:
    service = OrderService(PostgresDatabase(order_api_pool, Gatherings()), max_event_bytes=1_000_000)
    drafts = [OrderDraft.model_validate(order(*[custom("5.00")] * (1 + n % 3))) for n in range(CREATES)]
    await service.create_order(drafts[0], may_read=True)  # the sequences have a last value
    before = await _last_values(order_api_pool)
    placed = await asyncio.gather(*(service.create_order(draft, may_read=True) for draft in drafts))
    orders = sorted((created.stored.order for created in placed), key=lambda created: created.id)

    assert len({created.id for created in orders}) == CREATES
    assert [created.order_number for created in orders] == sorted(created.order_number for created in orders)
    assert [created.name for created in orders] == [f"#{created.order_number}" for created in orders]
    item_ids = [item.id for created in orders for item in created.line_items]
    assert len(set(item_ids)) == len(item_ids) == sum(1 + n % 3 for n in range(CREATES))
    after = await _last_values(order_api_pool)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (CREATES, CREATES, len(item_ids))
    async with order_api_pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM orders WHERE id = ANY($1::bigint[])", [o.id for o in orders])
    assert stored == CREATES
