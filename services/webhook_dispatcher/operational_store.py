"""The operational webhooks' SQL: which operator endpoints an operational event goes to, the failure
reports that await a recovery, and the recoveries taken. Only operational.py calls it; the messages
themselves are written as the fan-out writes them (store.insert_messages)."""

import uuid

import asyncpg

from services.webhook_dispatcher.store import insert_messages
from shared.db import Connection

__all__ = ["insert_messages", "note_failure_reported", "operator_filters", "take_recovered"]


async def operator_filters(conn: Connection, about: uuid.UUID) -> list[asyncpg.Record]:
    """The enabled operator endpoints' filters (id, event_types, channels); none for an event about an
    operator endpoint itself, so an operator endpoint's failures never feed themselves."""
    return await conn.fetch(
        """SELECT id, event_types, channels FROM endpoints
           WHERE operational AND enabled
             AND NOT EXISTS (SELECT 1 FROM endpoints about WHERE about.id = $1 AND about.operational)""",
        about,
    )


async def note_failure_reported(conn: Connection, endpoint_id: uuid.UUID) -> None:
    """Operators were told the endpoint is failing: from now on its next delivery is a recovery."""
    await conn.execute(
        "UPDATE endpoints SET failure_reported_at = now() WHERE id = $1 AND failure_reported_at IS NULL", endpoint_id
    )


async def take_recovered(conn: Connection, limit: int) -> list[asyncpg.Record]:
    """Endpoints reported failing that have delivered a message since and not failed after it (their
    failing streak is over), at most `limit`: their reports cleared, each returned as (id, url,
    failure_reported_at). SKIP LOCKED: several instances never announce one recovery twice."""
    return await conn.fetch(
        """WITH recovered AS (
               SELECT e.id, e.failure_reported_at FROM endpoints e
               WHERE e.failure_reported_at IS NOT NULL AND e.enabled AND e.failing_since IS NULL
                 AND EXISTS (SELECT 1 FROM messages m
                             WHERE m.endpoint_id = e.id AND m.status = 'delivered'
                               AND m.delivered_at > e.failure_reported_at)
               LIMIT $1
               FOR UPDATE OF e SKIP LOCKED)
           UPDATE endpoints e SET failure_reported_at = NULL
           FROM recovered r WHERE e.id = r.id
           RETURNING e.id, e.url, r.failure_reported_at""",
        limit,
    )
