"""The customer records of erasure requests (erasure_request_customers): which ones a request asked
order_api to erase, and order_api's answer for each."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from services.anonymizer.domain import CustomerErasure
from shared.db import Connection


async def insert_request_customers(conn: Connection, request_id: uuid.UUID, customer_ids: Sequence[int]) -> None:
    """The customer records the request asked order_api to erase, each waiting for its answer."""
    await conn.executemany(
        "INSERT INTO erasure_request_customers (request_id, customer_id) VALUES ($1, $2)",
        [(request_id, customer_id) for customer_id in customer_ids],
    )


async def customer_erased(
    conn: Connection, request_id: uuid.UUID, customer_id: int, rows: Mapping[str, int], erased_at: datetime
) -> bool:
    """Record order_api's answer for the request's customer record (a repeated answer keeps the
    first); False when the request did not ask for that record."""
    found = await conn.fetchval(
        """UPDATE erasure_request_customers SET erased_at = coalesce(erased_at, $3), rows = coalesce(rows, $4)
           WHERE request_id = $1 AND customer_id = $2 RETURNING true""",
        request_id,
        customer_id,
        erased_at,
        dict(rows),
    )
    return bool(found)


async def request_customers(conn: Connection, request_id: uuid.UUID) -> list[CustomerErasure]:
    """The customer records the request asked to erase, by customer id."""
    rows = await conn.fetch(
        """SELECT customer_id, erased_at, rows FROM erasure_request_customers WHERE request_id = $1
           ORDER BY customer_id""",
        request_id,
    )
    return [CustomerErasure(row["customer_id"], row["erased_at"], row["rows"]) for row in rows]
