"""The anonymizer's SQL."""

from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData


async def record_order_fact(conn: Connection, event: Event, data: OrderLifecycleData) -> None:
    """Remember whose data the order holds (newest sequence wins) and log that we saw the event."""
    await conn.execute(
        """INSERT INTO known_orders (order_id, email, last_sequence) VALUES ($1, $2, $3)
           ON CONFLICT (order_id) DO UPDATE
               SET email = excluded.email, last_sequence = excluded.last_sequence, updated_at = now()
               WHERE known_orders.last_sequence < excluded.last_sequence""",
        data.order_id,
        data.order.email,
        data.sequence,
    )
    await conn.execute(
        "INSERT INTO audit_log (order_id, event_id, event_type, sequence) VALUES ($1, $2, $3, $4)",
        data.order_id,
        event.id,
        event.type,
        data.sequence,
    )
