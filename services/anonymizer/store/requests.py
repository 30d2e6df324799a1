"""Erasure requests (erasure_requests, erasure_request_orders): what someone asked to erase, which
orders it covers, its status (following its orders' erasures and its customer records', see
request_customers.py) and how they are listed."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from services.anonymizer.domain import ErasureRequest, OrderErasure, Receipt, RequestKind, RequestQuery
from services.anonymizer.store.erasures import ERASURE_COLUMNS, erasure_of, receipt_of
from shared.db import Connection

_REQUEST_COLUMNS: Final = "id, kind, status, created_at, customer_id, email_hash, completed_at"

# A request's status from its orders' states and its customer records' (domain.request_status, in
# SQL: a customer record not erased yet counts as a waiting order, an erased one as a complete one), for
# the requests `{requests}` (a query of request ids) picks. A request of neither keeps its own status.
# It names the requests to the update too, so their rows are found by id: joined to the aggregate alone,
# the plan read every request (a hash join), as many times as receipts closed orders (bench.anonymization).
_REFRESH: Final = """UPDATE erasure_requests r
    SET status = s.status,
        completed_at = CASE WHEN s.status = 'complete' THEN coalesce(r.completed_at, $2) END
    FROM (SELECT parts.request_id,
                 CASE WHEN bool_and(parts.state = 'complete') THEN 'complete'
                      WHEN bool_or(parts.state = 'overdue') THEN 'overdue'
                      WHEN bool_or(parts.state = 'erasing') THEN 'erasing'
                      ELSE 'waiting' END AS status
          FROM (SELECT ro.request_id, coalesce(e.state, 'waiting') AS state
                FROM erasure_request_orders ro LEFT JOIN order_erasures e ON e.order_id = ro.order_id
                WHERE ro.request_id IN ({requests})
                UNION ALL
                SELECT rc.request_id, CASE WHEN rc.erased_at IS NULL THEN 'waiting' ELSE 'complete' END
                FROM erasure_request_customers rc
                WHERE rc.request_id IN ({requests})) parts
          GROUP BY parts.request_id) s
    WHERE r.id IN ({requests}) AND r.id = s.request_id AND r.status IS DISTINCT FROM s.status"""


def _request(row: Any) -> ErasureRequest:
    return ErasureRequest(**row)


async def orders_of_person(conn: Connection, *, email_hash: bytes | None, customer_ids: Sequence[int]) -> list[int]:
    """The orders the copy links to the person (by email hash or one of their customer ids), not yet anonymized."""
    rows = await conn.fetch(
        """SELECT order_id FROM known_orders
           WHERE NOT anonymized AND (email_hash = $1 OR customer_id = ANY($2::bigint[])) ORDER BY order_id""",
        email_hash,
        list(customer_ids),
    )
    return [row["order_id"] for row in rows]


async def customers_of_person(conn: Connection, *, email_hash: bytes | None, customer_id: int | None) -> list[int]:
    """The customer ids of the person's orders in the copy (by email hash or customer id), not yet anonymized."""
    rows = await conn.fetch(
        """SELECT DISTINCT customer_id FROM known_orders
           WHERE NOT anonymized AND customer_id IS NOT NULL AND (email_hash = $1 OR customer_id = $2)
           ORDER BY customer_id""",
        email_hash,
        customer_id,
    )
    return [row["customer_id"] for row in rows]


async def insert_request(conn: Connection, request: ErasureRequest, order_ids: Sequence[int]) -> None:
    await conn.execute(
        f"INSERT INTO erasure_requests ({_REQUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        request.id,
        request.kind,
        request.status,
        request.created_at,
        request.customer_id,
        request.email_hash,
        request.completed_at,
    )
    await conn.executemany(
        "INSERT INTO erasure_request_orders (request_id, order_id) VALUES ($1, $2)",
        [(request.id, order_id) for order_id in order_ids],
    )


async def ensure_order_request(conn: Connection, erasure: OrderErasure, kind: RequestKind, now: datetime) -> None:
    """An order erased without a request covering it gets one of its own (`order`: the Elastic Path
    route; `forget`: its customer asked to be forgotten), with the erasure's id and state, so the API
    shows it like any other. Nothing when a request covers the order already."""
    await conn.execute(
        """WITH created AS (
               INSERT INTO erasure_requests (id, kind, customer_id, status, created_at)
               SELECT $1, $5, $3, $6, $4
               WHERE NOT EXISTS (SELECT 1 FROM erasure_request_orders WHERE order_id = $2)
               ON CONFLICT (id) DO NOTHING
               RETURNING id)
           INSERT INTO erasure_request_orders (request_id, order_id) SELECT id, $2 FROM created""",
        erasure.erasure_id,
        erasure.order_id,
        erasure.customer_id,
        now,
        kind,
        erasure.state,
    )


# The requests are locked (in id order) by one statement and their status computed by the next, whose
# snapshot is taken once the lock is held: two instances completing the last two orders of one request
# at once would each see the other's order unfinished in a shared snapshot, and the request would stay
# `erasing` for good. The second one now waits for the first to commit and sees both.
_LOCK: Final = "SELECT id FROM erasure_requests WHERE id IN ({requests}) ORDER BY id FOR UPDATE"


async def _refresh(conn: Connection, requests: str, subject: object, now: datetime) -> None:
    await conn.execute(_LOCK.format(requests=requests), subject)
    await conn.execute(_REFRESH.format(requests=requests), subject, now)


async def refresh_requests(conn: Connection, order_id: int, now: datetime) -> None:
    """Set the status of every request holding the order from its orders' and customer records' states."""
    await _refresh(conn, "SELECT request_id FROM erasure_request_orders WHERE order_id = $1", order_id, now)


async def refresh_request(conn: Connection, request_id: uuid.UUID, now: datetime) -> None:
    """Set the request's status from its orders' and customer records' states (a request of neither
    keeps its own)."""
    await _refresh(conn, "SELECT $1::uuid", request_id, now)


async def fetch_request(conn: Connection, request_id: uuid.UUID) -> ErasureRequest | None:
    row = await conn.fetchrow(f"SELECT {_REQUEST_COLUMNS} FROM erasure_requests WHERE id = $1", request_id)
    return _request(row) if row is not None else None


async def request_erasures(conn: Connection, request_id: uuid.UUID) -> list[OrderErasure]:
    """The erasure of each order the request covers, by order id."""
    columns = ", ".join(f"e.{name.strip()}" for name in ERASURE_COLUMNS.split(","))
    rows = await conn.fetch(
        f"""SELECT {columns} FROM erasure_request_orders ro JOIN order_erasures e ON e.order_id = ro.order_id
            WHERE ro.request_id = $1 ORDER BY ro.order_id""",
        request_id,
    )
    return [erasure_of(row) for row in rows]


async def request_receipts(conn: Connection, request_id: uuid.UUID) -> list[Receipt]:
    """Every receipt of the request's orders' erasures, oldest first."""
    rows = await conn.fetch(
        """SELECT r.erasure_id, r.order_id, r.service, r.rows, r.attempt, r.received_at
           FROM erasure_request_orders ro JOIN order_erasures e ON e.order_id = ro.order_id
               JOIN erasure_receipts r ON r.erasure_id = e.erasure_id
           WHERE ro.request_id = $1 ORDER BY r.received_at, r.order_id, r.service""",
        request_id,
    )
    return [receipt_of(row) for row in rows]


async def list_requests(conn: Connection, query: RequestQuery) -> list[ErasureRequest]:
    """Requests newest first ((created_at, id) descending), from the keyset position on; only the
    conditions given are in the SQL, so (status, created_at, id) or (created_at, id) serves it."""
    conditions: list[str] = []
    arguments: list[Any] = []
    if query.status is not None:
        arguments.append(query.status)
        conditions.append(f"status = ${len(arguments)}")
    if query.before is not None:
        arguments.extend(query.before)
        conditions.append(f"(created_at, id) < (${len(arguments) - 1}, ${len(arguments)})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await conn.fetch(
        f"""SELECT {_REQUEST_COLUMNS} FROM erasure_requests {where}
            ORDER BY created_at DESC, id DESC LIMIT ${len(arguments) + 1}""",
        *arguments,
        query.limit,
    )
    return [_request(row) for row in rows]
