"""Guest cancellation requests and the bank accounts they came with."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict, Unpack

import asyncpg

from services.cancellation_worker.domain.requests import CancellationRequest
from shared.cancellations import BankAccount
from shared.db import Connection

_COLUMNS = (
    "request_id, order_id, line_item_id, quantity, reason_id, cancellation_type, status, description, "
    "shipping_company_id, pickup_date, loyalty_money, iban_last4, refund_method, created_at, updated_at"
)


class RequestQuery(TypedDict, total=False):
    """Which requests `list_requests` returns, newest first: those matching every filter given, after
    the keyset `before` (created_at, request_id), at most `limit`."""

    status: str | None
    order_id: int | None
    cancellation_type: str | None
    created_since: datetime | None
    created_until: datetime | None
    before: tuple[datetime, int] | None
    limit: int


def _request(row: asyncpg.Record) -> CancellationRequest:
    return CancellationRequest(**row)  # the columns are named as its fields


async def insert_requests(
    conn: Connection, requests: Sequence[CancellationRequest], submission_id: uuid.UUID, account: BankAccount | None
) -> bool:
    """Store a submission's requests (and its bank account); False, storing nothing, when one of the
    request ids exists already. Run it in a transaction."""
    if account is not None:
        await conn.execute(
            "INSERT INTO bank_accounts (submission_id, order_id, iban, holder_name) VALUES ($1, $2, $3, $4)",
            submission_id,
            requests[0].order_id,
            account.iban,
            account.holder_name,
        )
    inserted = await conn.fetchval(
        f"""WITH added AS (
                INSERT INTO cancellation_requests ({_COLUMNS}, submission_id)
                SELECT *, $16::uuid FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::bigint[],
                    $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bool[], $12::text[],
                    $13::text[], $14::timestamptz[], $15::timestamptz[])
                ON CONFLICT (request_id) DO NOTHING RETURNING 1)
            SELECT count(*) FROM added""",
        *([getattr(request, name) for request in requests] for name in _COLUMNS.split(", ")),
        submission_id,
    )
    return bool(inserted == len(requests))


async def fetch_request(conn: Connection, request_id: int, *, lock: bool = False) -> CancellationRequest | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM cancellation_requests WHERE request_id = $1{' FOR UPDATE' if lock else ''}",
        request_id,
    )
    return _request(row) if row is not None else None


async def requests_of_order(conn: Connection, order_id: int) -> list[CancellationRequest]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM cancellation_requests WHERE order_id = $1 ORDER BY request_id", order_id
    )
    return [_request(row) for row in rows]


async def save_request(conn: Connection, request: CancellationRequest) -> None:
    """Record a request's new status (and how it pays back)."""
    await conn.execute(
        "UPDATE cancellation_requests SET status = $2, refund_method = $3, updated_at = $4 WHERE request_id = $1",
        request.request_id,
        request.status,
        request.refund_method,
        request.updated_at,
    )


async def list_requests(conn: Connection, **query: Unpack[RequestQuery]) -> list[CancellationRequest]:
    before = query.get("before")
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM cancellation_requests
            WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR order_id = $2)
              AND ($3::text IS NULL OR cancellation_type = $3)
              AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
              AND ($6::timestamptz IS NULL OR (created_at, request_id) < ($6, $7::bigint))
            ORDER BY created_at DESC, request_id DESC LIMIT $8""",
        query.get("status"),
        query.get("order_id"),
        query.get("cancellation_type"),
        query.get("created_since"),
        query.get("created_until"),
        before[0] if before else None,
        before[1] if before else None,
        query.get("limit", 50),
    )
    return [_request(row) for row in rows]


async def bank_account_of(conn: Connection, request_id: int) -> BankAccount | None:
    """The bank account the request's submission gave, if any."""
    row = await conn.fetchrow(
        """SELECT b.iban, b.holder_name FROM cancellation_requests r
           JOIN bank_accounts b ON b.submission_id = r.submission_id WHERE r.request_id = $1""",
        request_id,
    )
    return BankAccount(iban=row["iban"], holder_name=row["holder_name"]) if row is not None else None
