"""The anonymizer's copy of orders (known_orders) and its audit log (ids, types, sequences, times)."""

from collections.abc import Sequence

from services.anonymizer.domain import KnownOrder
from shared.db import Connection, rows_affected
from shared.events import Event


async def record_order(conn: Connection, event: Event, order: KnownOrder) -> None:
    """`record_orders` for one event."""
    await record_orders(conn, [(event, order)])


async def record_orders(conn: Connection, seen: Sequence[tuple[Event, KnownOrder]]) -> None:
    """Keep whose data each order holds (newest sequence wins) and log that we saw each event, in one
    statement (one round trip per batch of order events)."""
    newest: dict[int, KnownOrder] = {}
    for _, order in seen:  # one row per order: an upsert cannot touch a row twice
        if order.order_id not in newest or newest[order.order_id].sequence < order.sequence:
            newest[order.order_id] = order
    copies = [newest[order_id] for order_id in sorted(newest)]
    await conn.execute(
        """WITH audit AS (
               INSERT INTO audit_log (order_id, event_id, event_type, sequence)
               SELECT * FROM unnest($7::bigint[], $8::uuid[], $9::text[], $10::integer[]))
           INSERT INTO known_orders (order_id, email_hash, customer_id, anonymized, last_sequence, eligible_since)
           SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::boolean[], $5::integer[],
                                $6::timestamptz[])
           ON CONFLICT (order_id) DO UPDATE
               SET email_hash = excluded.email_hash, customer_id = excluded.customer_id,
                   anonymized = excluded.anonymized, last_sequence = excluded.last_sequence,
                   eligible_since = excluded.eligible_since, updated_at = now()
               WHERE known_orders.last_sequence < excluded.last_sequence""",
        [order.order_id for order in copies],
        [order.email_hash for order in copies],
        [order.customer_id for order in copies],
        [order.anonymized for order in copies],
        [order.sequence for order in copies],
        [order.eligible_since for order in copies],
        [order.order_id for _, order in seen],
        [event.id for event, _ in seen],
        [event.type for event, _ in seen],
        [order.sequence for _, order in seen],
    )


async def forget_order(conn: Connection, order_id: int) -> int:
    """Erase the copy's link to a person (hash, customer id); the rows that still had one (0 or 1)."""
    status: str = await conn.execute(
        """UPDATE known_orders SET email_hash = NULL, customer_id = NULL, anonymized = true, updated_at = now()
           WHERE order_id = $1 AND (email_hash IS NOT NULL OR customer_id IS NOT NULL)""",
        order_id,
    )
    return rows_affected(status)
