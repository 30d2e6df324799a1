"""Digital River's `state` in the real Postgres (order_api's migrations on a scratch schema): the column
Postgres computes from the statuses, which the `state` filter reads, is the state the answers show
(api/digital_river/state.py), for every combination of the statuses it is computed from."""

import itertools
from typing import get_args

import asyncpg

from services.order_api.api.digital_river.state import digital_river_state
from services.order_api.store.orders import OrderRows
from shared.orders import FinancialStatus, FraudState, FulfillmentStatus, OrderStatus
from tests.support.orders import sample_order


async def test_the_stored_state_is_the_state_the_answers_show(order_api_pool: asyncpg.Pool) -> None:
    combinations = list(
        itertools.product(
            get_args(OrderStatus), get_args(FraudState), get_args(FinancialStatus), (None, *get_args(FulfillmentStatus))
        )
    )
    orders = [
        sample_order(order_id).model_copy(
            update={
                "status": status,
                "fraud_state": fraud_state,
                "financial_status": financial_status,
                "fulfillment_status": fulfillment_status,
            }
        )
        for order_id, (status, fraud_state, financial_status, fulfillment_status) in enumerate(combinations, start=1)
    ]
    async with order_api_pool.acquire() as conn:
        for order in orders:
            await OrderRows(conn).insert(order, None)
        stored = {row["id"]: row["state"] for row in await conn.fetch("SELECT id, state FROM orders")}

    assert stored == {order.id: digital_river_state(order) for order in orders}
