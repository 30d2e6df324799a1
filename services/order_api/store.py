"""order_api's SQL. Nothing else touches its tables."""

from datetime import datetime

import asyncpg

from services.order_api.domain import PricedOrder, money, order_name
from shared.db import Connection
from shared.events import LineItemSnapshot, OrderSnapshot

_ORDER_COLUMNS = "id, number, email, currency, subtotal_price, total_price, status, sequence, created_at, updated_at"


async def insert_order(conn: Connection, order: PricedOrder, now: datetime) -> tuple[OrderSnapshot, int]:
    """Insert the order and its line items; return its snapshot and sequence."""
    row = await conn.fetchrow(
        f"""INSERT INTO orders (email, currency, subtotal_price, total_price, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $5) RETURNING {_ORDER_COLUMNS}""",
        order.email,
        order.currency,
        order.subtotal_price,
        order.total_price,
        now,
    )
    assert row is not None
    items = await conn.fetch(
        """INSERT INTO line_items (order_id, position, title, price, quantity)
           SELECT $1, position, title, price, quantity
           FROM unnest($2::smallint[], $3::text[], $4::numeric[], $5::integer[])
                AS item (position, title, price, quantity)
           RETURNING id, title, price, quantity""",
        row["id"],
        list(range(len(order.line_items))),
        [item.title for item in order.line_items],
        [item.price for item in order.line_items],
        [item.quantity for item in order.line_items],
    )
    return _snapshot(row, items), row["sequence"]


async def fetch_order(conn: Connection, order_id: int) -> OrderSnapshot | None:
    row = await conn.fetchrow(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)
    if row is None:
        return None
    items = await conn.fetch(
        "SELECT id, title, price, quantity FROM line_items WHERE order_id = $1 ORDER BY position", order_id
    )
    return _snapshot(row, items)


def _snapshot(row: asyncpg.Record, items: list[asyncpg.Record]) -> OrderSnapshot:
    currency = row["currency"]
    return OrderSnapshot(
        id=row["id"],
        number=row["number"],
        name=order_name(row["number"]),
        email=row["email"],
        currency=currency,
        line_items=[
            LineItemSnapshot(
                id=item["id"], title=item["title"], price=money(item["price"], currency), quantity=item["quantity"]
            )
            for item in items
        ],
        subtotal_price=money(row["subtotal_price"], currency),
        total_price=money(row["total_price"], currency),
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
