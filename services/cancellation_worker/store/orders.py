"""The worker's copy of each order: the newest snapshot order_api published."""

from collections.abc import Sequence
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
    return data.order_id in await upsert_orders(conn, [data])


async def upsert_orders(conn: Connection, views: Sequence[OrderLifecycleData]) -> set[int]:
    """`upsert_order` for many views in one statement (of one order, its newest view of those given);
    the orders whose copy changed."""
    newest: dict[int, OrderLifecycleData] = {}
    for data in views:  # one row per order: an upsert cannot touch a row twice
        if data.order_id not in newest or newest[data.order_id].sequence < data.sequence:
            newest[data.order_id] = data
    rows = [newest[order_id] for order_id in sorted(newest)]
    changed = await conn.fetch(
        """INSERT INTO orders (order_id, currency, total_price, line_items, status, last_sequence, snapshot)
           SELECT order_id, currency, total_price, line_items::jsonb, status, last_sequence, snapshot::jsonb
           FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::text[], $5::text[], $6::integer[], $7::text[])
               AS new (order_id, currency, total_price, line_items, status, last_sequence, snapshot)
           ON CONFLICT (order_id) DO UPDATE
               SET currency = excluded.currency, total_price = excluded.total_price,
                   line_items = excluded.line_items, status = excluded.status,
                   last_sequence = excluded.last_sequence, snapshot = excluded.snapshot, updated_at = now()
               WHERE orders.last_sequence < excluded.last_sequence
           RETURNING order_id""",
        [data.order_id for data in rows],
        [data.order.currency for data in rows],
        [data.order.total_price for data in rows],
        [_LINE_ITEMS.dump_json(data.order.line_items).decode() for data in rows],
        [data.order.status for data in rows],
        [data.sequence for data in rows],
        [data.order.model_dump_json() for data in rows],
    )
    return {row["order_id"] for row in changed}


async def fetch_order(conn: Connection, order_id: int, *, lock: bool = False) -> OrderSnapshot | None:
    """The newest snapshot of the order, if the worker has one; with `lock`, the order's row is locked
    until the transaction ends (every change to an order's ledger holds it)."""
    snapshot = await conn.fetchval(
        f"SELECT snapshot FROM orders WHERE order_id = $1{' FOR UPDATE' if lock else ''}", order_id
    )
    return OrderSnapshot.model_validate(snapshot) if snapshot is not None else None
