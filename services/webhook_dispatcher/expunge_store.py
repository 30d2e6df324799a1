"""The payload expunge's SQL: a settled message's payload emptied, with when and by whom, and what its
subscriber answered forgotten. Only expunge.py calls it."""

import uuid

import asyncpg

from services.webhook_dispatcher.store import ATTEMPT_LOG, MESSAGE_COLUMNS
from shared.db import Connection


async def expunge_payload(conn: Connection, endpoint_id: uuid.UUID, message_id: int, by: str) -> asyncpg.Record | None:
    """Empty a settled message's payload, noting when and by whom (a message expunged before keeps its
    first note), and clear its attempts' response excerpts (a body may echo the payload). The message's
    `status` and `payload_expunged_at` after it; None when the endpoint has no such message. A pending
    message is left as it is (the row lock orders this against a retry putting it back)."""
    row = await conn.fetchrow(
        """WITH target AS (
               SELECT id, status, payload_expunged_at FROM messages WHERE id = $1 AND endpoint_id = $2 FOR UPDATE),
           expunged AS (
               UPDATE messages m SET payload = '', payload_expunged_at = now(), payload_expunged_by = $3
               FROM target t WHERE m.id = t.id AND t.status <> 'pending' AND t.payload_expunged_at IS NULL
               RETURNING m.id, m.payload_expunged_at),
           excerpts AS (
               UPDATE attempts SET response_excerpt = NULL
               WHERE message_id IN (SELECT id FROM expunged) AND response_excerpt IS NOT NULL)
           SELECT t.status, coalesce(e.payload_expunged_at, t.payload_expunged_at) AS payload_expunged_at
           FROM target t LEFT JOIN expunged e USING (id)""",
        message_id,
        endpoint_id,
        by,
    )
    return row


async def fetch_message(conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> asyncpg.Record | None:
    """One message of the endpoint with its payload (empty once expunged), who expunged it, and its
    attempts."""
    return await conn.fetchrow(
        f"""SELECT {", ".join("m." + column for column in MESSAGE_COLUMNS.split(", "))}, m.payload,
                   m.payload_expunged_by, {ATTEMPT_LOG}
            FROM messages m WHERE m.id = $1 AND m.endpoint_id = $2""",
        message_id,
        endpoint_id,
    )
