"""The endpoint statistics' SQL, read from the rows the fan-out and the sender write anyway (messages and
their attempts): nothing is written for them on the delivery path. Only stats.py calls it.

What it relies on the sender keeping: a message's `status` ('pending', 'delivered', 'failed'),
`delivered_at` when delivered and `attempts` (tries claimed), and one `attempts` row per try with its
`attempted_at`, `response_status` (NULL without an answer) and `error`, rows numbered in the order
they are written (identity `id`)."""

import uuid
from datetime import datetime, timedelta

import asyncpg

from shared.db import Connection

# Whether an attempt (`a`) succeeded: domain.settle's rule (2xx delivers).
_SUCCEEDED = "coalesce(a.response_status BETWEEN 200 AND 299, false)"


async def endpoint_stats(conn: Connection, endpoint_id: uuid.UUID, since: datetime, until: datetime) -> asyncpg.Record:
    """The window, and the endpoint's messages created in it, [since, until): how many are delivered,
    failed and pending; the last delivery among them (time, answer status) and the last failed attempt
    (time, status, error). Each part reads the window's range of messages_endpoint_stats (the counts
    from the index alone); only the last success's message, and the messages that had a failure (more
    than one try, or not delivered), are looked up in `attempts`."""
    row = await conn.fetchrow(
        f"""WITH counts AS (
               SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'pending') AS pending,
                      max(delivered_at) FILTER (WHERE status = 'delivered') AS last_success_at
               FROM messages WHERE endpoint_id = $1 AND created_at >= $2 AND created_at < $3),
           last_success AS (
               SELECT (SELECT a.response_status FROM attempts a WHERE a.message_id = m.id
                       ORDER BY a.id DESC LIMIT 1) AS response_status
               FROM counts c JOIN messages m ON m.delivered_at = c.last_success_at
               WHERE m.endpoint_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND m.status = 'delivered'
               LIMIT 1),
           last_failure AS (
               SELECT f.attempted_at, f.response_status, f.error
               FROM messages m CROSS JOIN LATERAL (
                   SELECT a.id, a.attempted_at, a.response_status, a.error FROM attempts a
                   WHERE a.message_id = m.id AND NOT {_SUCCEEDED} ORDER BY a.id DESC LIMIT 1) f
               WHERE m.endpoint_id = $1 AND m.created_at >= $2 AND m.created_at < $3
                 AND (m.attempts > 1 OR m.status <> 'delivered')
               ORDER BY f.attempted_at DESC, f.id DESC LIMIT 1)
           SELECT $2::timestamptz AS since, $3::timestamptz AS until, c.delivered, c.failed, c.pending,
                  c.last_success_at, s.response_status AS last_success_status,
                  f.attempted_at AS last_failure_at, f.response_status AS last_failure_status,
                  f.error AS last_failure_error
           FROM counts c LEFT JOIN last_success s ON true LEFT JOIN last_failure f ON true""",
        endpoint_id,
        since,
        until,
    )
    assert row is not None
    return row


async def last_attempt_id(conn: Connection) -> int:
    """The newest attempt's id (0 when there is none): where the metrics' tally starts."""
    newest: int | None = await conn.fetchval("SELECT max(id) FROM attempts")
    return newest or 0


async def endpoint_ids(conn: Connection) -> set[uuid.UUID]:
    return {row["id"] for row in await conn.fetch("SELECT id FROM endpoints")}


async def attempts_after(conn: Connection, after_id: int, settle: timedelta) -> list[asyncpg.Record]:
    """Per endpoint, the attempts numbered after `after_id` and written at least `settle` ago (so that a
    transaction still writing a lower number is not skipped for good): how many succeeded and failed,
    the last success's time, the last failure's time and status (0 without an answer), and the
    highest number read. Read through the attempts' primary key: as much work as there are new rows."""
    return await conn.fetch(
        f"""SELECT m.endpoint_id,
                   count(*) FILTER (WHERE {_SUCCEEDED}) AS succeeded,
                   count(*) FILTER (WHERE NOT {_SUCCEEDED}) AS failed,
                   max(a.attempted_at) FILTER (WHERE {_SUCCEEDED}) AS last_success_at,
                   max(a.attempted_at) FILTER (WHERE NOT {_SUCCEEDED}) AS last_failure_at,
                   (array_agg(coalesce(a.response_status, 0) ORDER BY a.id DESC)
                        FILTER (WHERE NOT {_SUCCEEDED}))[1] AS last_failure_status,
                   max(a.id) AS last_id
            FROM attempts a JOIN messages m ON m.id = a.message_id
            WHERE a.id > $1 AND a.attempted_at <= now() - $2::interval
            GROUP BY m.endpoint_id""",
        after_id,
        settle,
    )
