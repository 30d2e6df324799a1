"""The erasure saga's tables: one record per order (order_erasures) and the receipts it collected
(the requests they belong to are in requests.py)."""

import uuid
from datetime import datetime
from typing import Any

from services.anonymizer.domain import OrderErasure, Receipt
from shared.db import Connection

ERASURE_COLUMNS = """erasure_id, order_id, state, services, customer_id, anonymized_sequence, attempt,
    requested_at, deadline_at, completed_at"""


def erasure_of(row: Any) -> OrderErasure:
    return OrderErasure(**{**row, "services": tuple(row["services"])})


def receipt_of(row: Any) -> Receipt:
    return Receipt(**row)


async def open_erasure(conn: Connection, erasure: OrderErasure) -> OrderErasure | None:
    """Start erasing the order: a new record, or the one waiting for it (its id kept). None when the
    order's erasure is under way or done already (nothing changed)."""
    row = await conn.fetchrow(
        f"""INSERT INTO order_erasures ({ERASURE_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (order_id) DO UPDATE
                SET state = excluded.state, services = excluded.services, customer_id = excluded.customer_id,
                    anonymized_sequence = excluded.anonymized_sequence, attempt = excluded.attempt,
                    requested_at = excluded.requested_at, deadline_at = excluded.deadline_at
                WHERE order_erasures.state = 'waiting'
            RETURNING {ERASURE_COLUMNS}""",
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
    return erasure_of(row) if row is not None else None


async def fetch_erasure(conn: Connection, erasure_id: uuid.UUID, *, lock: bool = False) -> OrderErasure | None:
    row = await conn.fetchrow(
        f"SELECT {ERASURE_COLUMNS} FROM order_erasures WHERE erasure_id = $1{' FOR UPDATE' if lock else ''}",
        erasure_id,
    )
    return erasure_of(row) if row is not None else None


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
        f"""SELECT {ERASURE_COLUMNS} FROM order_erasures
            WHERE state IN ('erasing', 'overdue') AND deadline_at <= $1
            ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [erasure_of(row) for row in rows]


async def insert_receipt(conn: Connection, receipt: Receipt) -> list[Receipt] | None:
    """Keep a service's first receipt for the erasure: then every receipt of the erasure, this one
    included (in one round trip: the erasure closes when none is missing); None for a repeat (not kept)."""
    rows = await conn.fetch(
        """WITH inserted AS (
               INSERT INTO erasure_receipts (erasure_id, service, order_id, rows, attempt, received_at)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (erasure_id, service) DO NOTHING
               RETURNING erasure_id, order_id, service, rows, attempt, received_at)
           SELECT * FROM inserted
           UNION ALL
           SELECT erasure_id, order_id, service, rows, attempt, received_at FROM erasure_receipts
           WHERE erasure_id = $1 AND EXISTS (SELECT FROM inserted)
           ORDER BY received_at, service""",
        receipt.erasure_id,
        receipt.service,
        receipt.order_id,
        receipt.rows,
        receipt.attempt,
        receipt.received_at,
    )
    return [receipt_of(row) for row in rows] or None


async def receipts_of(conn: Connection, erasure_id: uuid.UUID) -> list[Receipt]:
    rows = await conn.fetch(
        """SELECT erasure_id, order_id, service, rows, attempt, received_at FROM erasure_receipts
           WHERE erasure_id = $1 ORDER BY received_at, service""",
        erasure_id,
    )
    return [receipt_of(row) for row in rows]


async def wait_for(conn: Connection, erasure: OrderErasure) -> OrderErasure:
    """Record that the order is to be erased once anonymized (a `waiting` erasure), unless it has an
    erasure already: the order's erasure as it now stands."""
    row = await conn.fetchrow(
        f"""WITH created AS (
                INSERT INTO order_erasures (erasure_id, order_id, state, customer_id, attempt)
                VALUES ($1, $2, 'waiting', $3, 1)
                ON CONFLICT (order_id) DO NOTHING
                RETURNING {ERASURE_COLUMNS})
            SELECT {ERASURE_COLUMNS} FROM created
            UNION ALL SELECT {ERASURE_COLUMNS} FROM order_erasures WHERE order_id = $2""",
        erasure.erasure_id,
        erasure.order_id,
        erasure.customer_id,
    )
    assert row is not None, "inserted or there already"
    return erasure_of(row)
