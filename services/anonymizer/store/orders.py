"""The anonymizer's copy of orders (known_orders) and its audit log (ids, types, sequences, times)."""

from services.anonymizer.domain import KnownOrder
from shared.db import Connection, rows_affected
from shared.events import Event


async def record_order(conn: Connection, event: Event, order: KnownOrder) -> None:
    """Keep whose data the order holds (newest sequence wins) and log that we saw the event, in one
    statement (one round trip per order event)."""
    await conn.execute(
        """WITH audit AS (
               INSERT INTO audit_log (order_id, event_id, event_type, sequence) VALUES ($1, $7, $8, $5))
           INSERT INTO known_orders (order_id, email_hash, customer_id, anonymized, last_sequence, eligible_since)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (order_id) DO UPDATE
               SET email_hash = excluded.email_hash, customer_id = excluded.customer_id,
                   anonymized = excluded.anonymized, last_sequence = excluded.last_sequence,
                   eligible_since = excluded.eligible_since, updated_at = now()
               WHERE known_orders.last_sequence < excluded.last_sequence""",
        order.order_id,
        order.email_hash,
        order.customer_id,
        order.anonymized,
        order.sequence,
        order.eligible_since,
        event.id,
        event.type,
    )


async def forget_order(conn: Connection, order_id: int) -> int:
    """Erase the copy's link to a person (hash, customer id); the rows that still had one (0 or 1)."""
    status: str = await conn.execute(
        """UPDATE known_orders SET email_hash = NULL, customer_id = NULL, anonymized = true, updated_at = now()
           WHERE order_id = $1 AND (email_hash IS NOT NULL OR customer_id IS NOT NULL)""",
        order_id,
    )
    return rows_affected(status)
