"""The erasure saga's tables: one record per order (order_erasures), the receipts it collected, and
the requests (erasure_requests) whose status follows their orders'."""

import uuid
from datetime import datetime
from typing import Any

from services.anonymizer.domain import OrderErasure, Receipt
from shared.db import Connection

_ERASURE_COLUMNS = """erasure_id, order_id, state, services, customer_id, anonymized_sequence, attempt,
    requested_at, deadline_at, completed_at"""


def _erasure(row: Any) -> OrderErasure:
    return OrderErasure(**{**row, "services": tuple(row["services"])})


def _receipt(row: Any) -> Receipt:
    return Receipt(**row)


async def open_erasure(conn: Connection, erasure: OrderErasure) -> OrderErasure | None:
    """Start erasing the order: a new record, or the one waiting for it (its id kept). None when the
    order's erasure is under way or done already (nothing changed)."""
    row = await conn.fetchrow(
        f"""INSERT INTO order_erasures ({_ERASURE_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (order_id) DO UPDATE
                SET state = excluded.state, services = excluded.services, customer_id = excluded.customer_id,
                    anonymized_sequence = excluded.anonymized_sequence, attempt = excluded.attempt,
                    requested_at = excluded.requested_at, deadline_at = excluded.deadline_at
                WHERE order_erasures.state = 'waiting'
            RETURNING {_ERASURE_COLUMNS}""",
        erasure.erasure_id,
        erasure.order_id,
        erasure.state,
        list(erasure.services),
        erasure.customer_id,
        erasure.anonymized_sequence,
        erasure.attempt,
        erasure.requested_at,
        erasure.deadline_at,
        erasure.completed_at,
    )
    return _erasure(row) if row is not None else None


async def fetch_erasure(conn: Connection, erasure_id: uuid.UUID, *, lock: bool = False) -> OrderErasure | None:
    row = await conn.fetchrow(
        f"SELECT {_ERASURE_COLUMNS} FROM order_erasures WHERE erasure_id = $1{' FOR UPDATE' if lock else ''}",
        erasure_id,
    )
    return _erasure(row) if row is not None else None


async def save_erasure(conn: Connection, erasure: OrderErasure) -> None:
    """Write the record's progress (state, attempt, deadline, completion)."""
    await conn.execute(
        """UPDATE order_erasures SET state = $2, attempt = $3, requested_at = $4, deadline_at = $5,
               completed_at = $6
           WHERE erasure_id = $1""",
        erasure.erasure_id,
        erasure.state,
        erasure.attempt,
        erasure.requested_at,
        erasure.deadline_at,
        erasure.completed_at,
    )


async def due_erasures(conn: Connection, now: datetime, limit: int) -> list[OrderErasure]:
    """Records still missing receipts past their deadline, oldest first, locked (others skip them)."""
    rows = await conn.fetch(
        f"""SELECT {_ERASURE_COLUMNS} FROM order_erasures
            WHERE state IN ('erasing', 'overdue') AND deadline_at <= $1
            ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_erasure(row) for row in rows]


async def insert_receipt(conn: Connection, receipt: Receipt) -> bool:
    """Keep a service's first receipt for the erasure; whether it is new (a repeat is not kept)."""
    inserted = await conn.fetchval(
        """INSERT INTO erasure_receipts (erasure_id, service, order_id, rows, attempt, received_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (erasure_id, service) DO NOTHING RETURNING true""",
        receipt.erasure_id,
        receipt.service,
        receipt.order_id,
        receipt.rows,
        receipt.attempt,
        receipt.received_at,
    )
    return bool(inserted)


async def receipts_of(conn: Connection, erasure_id: uuid.UUID) -> list[Receipt]:
    rows = await conn.fetch(
        """SELECT erasure_id, order_id, service, rows, attempt, received_at FROM erasure_receipts
           WHERE erasure_id = $1 ORDER BY received_at, service""",
        erasure_id,
    )
    return [_receipt(row) for row in rows]


async def ensure_order_request(conn: Connection, erasure: OrderErasure, now: datetime) -> None:
    """An order anonymized without a request for it (the Elastic Path route) gets one of its own,
    kind `order`, with the erasure's id, so the API shows it like any other."""
    await conn.execute(
        """WITH created AS (
               INSERT INTO erasure_requests (id, kind, customer_id, status, created_at)
               SELECT $1, 'order', $3, 'erasing', $4
               WHERE NOT EXISTS (SELECT 1 FROM erasure_request_orders WHERE order_id = $2)
               ON CONFLICT (id) DO NOTHING
               RETURNING id)
           INSERT INTO erasure_request_orders (request_id, order_id) SELECT id, $2 FROM created""",
        erasure.erasure_id,
        erasure.order_id,
        erasure.customer_id,
        now,
    )


async def refresh_requests(conn: Connection, order_id: int, now: datetime) -> None:
    """Set the status of every request holding the order from its orders' states: complete when all
    are, else overdue when one is, else erasing when one is, else waiting."""
    await conn.execute(
        """UPDATE erasure_requests r
           SET status = s.status,
               completed_at = CASE WHEN s.status = 'complete' THEN coalesce(r.completed_at, $2) END
           FROM (SELECT ro.request_id,
                        CASE WHEN bool_and(coalesce(e.state, 'waiting') = 'complete') THEN 'complete'
                             WHEN bool_or(e.state = 'overdue') THEN 'overdue'
                             WHEN bool_or(e.state = 'erasing') THEN 'erasing'
                             ELSE 'waiting' END AS status
                 FROM erasure_request_orders ro LEFT JOIN order_erasures e ON e.order_id = ro.order_id
                 WHERE ro.request_id IN (SELECT request_id FROM erasure_request_orders WHERE order_id = $1)
                 GROUP BY ro.request_id) s
           WHERE r.id = s.request_id AND r.status IS DISTINCT FROM s.status""",
        order_id,
        now,
    )
