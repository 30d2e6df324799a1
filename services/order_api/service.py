"""order_api's use cases: one transaction each, the change and its outbox event together.

HTTP routes (api.py) and Kafka handlers (handlers.py) both call these, so an order placed by any
route or by another service follows the same rules and emits the same events.
"""

from datetime import UTC, datetime

import asyncpg

from services.order_api import store
from services.order_api.domain import OrderDraft, price_order
from shared.events import Event, OrderLifecycleData, OrderSnapshot
from shared.logging import current_correlation_id
from shared.outbox import enqueue
from shared.services import ORDER_API
from shared.topics import ORDERS_EVENTS


def lifecycle_event(event_type: str, order: OrderSnapshot, sequence: int) -> Event:
    return Event.new(
        event_type,
        ORDER_API.name,
        str(order.id),
        OrderLifecycleData(order_id=order.id, sequence=sequence, order=order),
        sequence=sequence,
        correlation_id=current_correlation_id(),
    )


async def create_order(pool: asyncpg.Pool, draft: OrderDraft) -> OrderSnapshot:
    """Validate and price the draft, store it and emit `order.created`; raises OrderRuleError."""
    priced = price_order(draft)
    async with pool.acquire() as conn, conn.transaction():
        order, sequence = await store.insert_order(conn, priced, datetime.now(UTC))
        await enqueue(conn, ORDERS_EVENTS, lifecycle_event("order.created", order, sequence))
    return order


async def get_order(pool: asyncpg.Pool, order_id: int) -> OrderSnapshot | None:
    async with pool.acquire() as conn:
        return await store.fetch_order(conn, order_id)
