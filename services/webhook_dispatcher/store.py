"""The dispatcher's SQL."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from shared.db import Connection
from shared.events import Event

_ENDPOINT_COLUMNS = "id, url, description, event_types, enabled, created_at, updated_at"


async def insert_endpoint(
    conn: Connection, url: str, description: str, event_types: Sequence[str], secret: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO endpoints (id, url, description, event_types, secret) VALUES ($1, $2, $3, $4, $5)
            RETURNING {_ENDPOINT_COLUMNS}""",
        uuid.uuid4(),
        url,
        description,
        list(event_types),
        secret,
    )
    assert row is not None
    return row


async def fetch_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1", endpoint_id)


async def list_endpoints(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints ORDER BY created_at, id")


async def enabled_endpoint_filters(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, event_types FROM endpoints WHERE enabled")


async def insert_messages(conn: Connection, endpoint_ids: Sequence[uuid.UUID], event: Event, payload: bytes) -> None:
    await conn.execute(
        """INSERT INTO messages (endpoint_id, event_id, event_type, order_id, correlation_id, payload)
           SELECT endpoint_id, $2, $3, $4, $5, $6 FROM unnest($1::uuid[]) AS endpoint_id
           ON CONFLICT (endpoint_id, event_id) DO NOTHING""",
        list(endpoint_ids),
        event.id,
        event.type,
        event.subject,
        event.correlation_id,
        payload,
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed message, with what is needed to send it."""

    message_id: int
    event_id: uuid.UUID
    event_type: str
    correlation_id: str | None
    payload: bytes
    attempt: int
    endpoint_id: uuid.UUID
    url: str
    secret: str


async def claim_due(conn: Connection, limit: int, lease: timedelta) -> list[Delivery]:
    """Claim due messages for this sender: pushed `lease` into the future, so a sender that dies
    mid-send leaves them to be claimed again; SKIP LOCKED lets many senders share the backlog."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT id FROM messages
               WHERE status = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED)
           UPDATE messages m
           SET next_attempt_at = now() + $2::interval, attempts = m.attempts + 1
           FROM due, endpoints e
           WHERE m.id = due.id AND e.id = m.endpoint_id AND e.enabled
           RETURNING m.id, m.event_id, m.event_type, m.correlation_id, m.payload, m.attempts,
                     e.id AS endpoint_id, e.url, e.secret""",
        limit,
        lease,
    )
    return [
        Delivery(
            row["id"],
            row["event_id"],
            row["event_type"],
            row["correlation_id"],
            row["payload"],
            row["attempts"],
            row["endpoint_id"],
            row["url"],
            row["secret"],
        )
        for row in rows
    ]


async def record_attempt(
    conn: Connection,
    delivery: Delivery,
    *,
    response_status: int | None,
    latency_ms: int,
    error: str | None,
    response_excerpt: str | None,
    outcome: str,
    retry_in: timedelta | None,
) -> None:
    """Log the attempt and settle the message: delivered, failed, or pending again after `retry_in`."""
    await conn.execute(
        """INSERT INTO attempts (message_id, response_status, latency_ms, error, response_excerpt)
           VALUES ($1, $2, $3, $4, $5)""",
        delivery.message_id,
        response_status,
        latency_ms,
        error,
        response_excerpt,
    )
    await conn.execute(
        """UPDATE messages SET status = $2,
               delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
               next_attempt_at = CASE WHEN $3::interval IS NULL THEN next_attempt_at ELSE now() + $3::interval END
           WHERE id = $1""",
        delivery.message_id,
        outcome,
        retry_in,
    )


async def disable_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> None:
    await conn.execute("UPDATE endpoints SET enabled = false, updated_at = now() WHERE id = $1", endpoint_id)
