"""The worker's copy of each order: the newest snapshot order_api published."""

from typing import Final

from pydantic import TypeAdapter

from shared.db import Connection
from shared.orders import LineItemSnapshot, OrderLifecycleData, OrderSnapshot

# The jsonb columns are written as JSON text pydantic makes in one step (the codec's json.dumps of
# `model_dump(mode="json")` had cost more than the rest of the statement).
_LINE_ITEMS: Final = TypeAdapter(list[LineItemSnapshot])


async def upsert_order(conn: Connection, data: OrderLifecycleData) -> bool:
    """Keep the newest view of the order; whether this one was newer (an older or repeated sequence
    changes nothing). Newer or not, the order's row stays locked until the transaction ends."""
    order = data.order
    applied = await conn.fetchval(
        """INSERT INTO orders (order_id, currency, total_price, line_items, status, last_sequence, snapshot)
           VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7::text::jsonb)
           ON CONFLICT (order_id) DO UPDATE
               SET currency = excluded.currency, total_price = excluded.total_price,
                   line_items = excluded.line_items, status = excluded.status,
                   last_sequence = excluded.last_sequence, snapshot = excluded.snapshot, updated_at = now()
               WHERE orders.last_sequence < excluded.last_sequence
           RETURNING true""",
        data.order_id,
        order.currency,
        order.total_price,
        _LINE_ITEMS.dump_json(order.line_items).decode(),
        order.status,
        data.sequence,
        order.model_dump_json(),
    )
    return bool(applied)


async def fetch_order(conn: Connection, order_id: int, *, lock: bool = False) -> OrderSnapshot | None:
    """The newest snapshot of the order, if the worker has one; with `lock`, the order's row is locked
    until the transaction ends (every change to an order's ledger holds it)."""
    snapshot = await conn.fetchval(
        f"SELECT snapshot FROM orders WHERE order_id = $1{' FOR UPDATE' if lock else ''}", order_id
    )
    return OrderSnapshot.model_validate(snapshot) if snapshot is not None else None
