"""The cancellation worker's SQL."""

from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData


async def upsert_order(conn: Connection, _: Event, data: OrderLifecycleData) -> None:
    """Keep the newest view of the order; an older or repeated sequence changes nothing."""
    order = data.order
    await conn.execute(
        """INSERT INTO orders (order_id, currency, total_price, line_items, status, last_sequence)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (order_id) DO UPDATE
               SET currency = excluded.currency, total_price = excluded.total_price,
                   line_items = excluded.line_items, status = excluded.status,
                   last_sequence = excluded.last_sequence, updated_at = now()
               WHERE orders.last_sequence < excluded.last_sequence""",
        data.order_id,
        order.currency,
        order.total_price,
        [item.model_dump(mode="json") for item in order.line_items],
        order.status,
        data.sequence,
    )
