"""The dispatcher's SQL: endpoints, messages and their attempts. Only the use cases call it (service.py,
fan_out.py and the others); it decides no rule."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

import asyncpg

from services.webhook_dispatcher.domain import Channelled, DeliveredAttempt, Delivery, Written
from shared.db import Connection
from shared.json_codec import dumps
from shared.tracing import NO_TRACE, TRACEPARENT, TRACESTATE, TraceContext
from shared.tracking import Tracking

# Senders LISTEN here; a fan-out NOTIFYs on commit, so a new message is sent without polling delay.
MESSAGES_CHANNEL: Final = "webhooks.messages"
# Ends a fan-out's NOTIFY (after its transaction's id) when it leased every message it wrote: no claim
# can take any of them before their lease runs out.
ALL_LEASED: Final = " leased"

_ENDPOINT_COLUMNS = (
    "id, url, description, event_types, channels, rate_limit, ordered, headers, enabled, disabled_reason, created_at,"
    " updated_at, public_key, operational"
)
# Columns an update may change (the API validates the values).
UPDATABLE: Final = frozenset({"url", "description", "event_types", "channels", "rate_limit", "ordered", "headers"})


# ---- endpoints ---------------------------------------------------------------------------------


async def insert_endpoint(conn: Connection, fields: Mapping[str, Any], secret: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO endpoints (id, url, description, event_types, channels, rate_limit, ordered, headers, secret,
                                   public_key, operational)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {_ENDPOINT_COLUMNS}""",
        uuid.uuid4(),
        fields["url"],
        fields["description"],
        list(fields["event_types"]),
        list(fields.get("channels", ())),
        fields["rate_limit"],
        fields["ordered"],
        dict(fields["headers"]),
        secret,
        fields.get("public_key"),  # none: an HMAC endpoint
        fields.get("operational", False),
    )
    assert row is not None
    return row


async def fetch_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1", endpoint_id)


async def list_endpoints(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints ORDER BY created_at, id")


async def update_endpoint(
    conn: Connection, endpoint_id: uuid.UUID, changes: Mapping[str, Any]
) -> asyncpg.Record | None:
    names = sorted(changes)
    assert set(names) <= UPDATABLE, names
    assignments = "".join(f", {name} = ${index}" for index, name in enumerate(names, start=2))
    return await conn.fetchrow(
        f"UPDATE endpoints SET updated_at = now(){assignments} WHERE id = $1 RETURNING {_ENDPOINT_COLUMNS}",
        endpoint_id,
        *(changes[name] for name in names),
    )


async def delete_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> bool:
    return await conn.fetchval("DELETE FROM endpoints WHERE id = $1 RETURNING true", endpoint_id) is not None


async def enable_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE endpoints SET enabled = true, disabled_reason = NULL, failing_since = NULL, updated_at = now()
            WHERE id = $1 RETURNING {_ENDPOINT_COLUMNS}""",
        endpoint_id,
    )


async def disable_endpoint(conn: Connection, endpoint_id: uuid.UUID, reason: str) -> asyncpg.Record | None:
    """Disable an enabled endpoint; its row, or None when it was already disabled (or is gone)."""
    return await conn.fetchrow(
        f"""UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
            WHERE id = $1 AND enabled RETURNING {_ENDPOINT_COLUMNS}, failing_since""",
        endpoint_id,
        reason,
    )


async def rotate_secret(
    conn: Connection, endpoint_id: uuid.UUID, secret: str, public_key: str | None, grace: timedelta
) -> asyncpg.Record | None:
    """The new secret (with its public key, for ed25519) signs from now on; the current one keeps
    signing beside it for `grace`."""
    return await conn.fetchrow(
        f"""UPDATE endpoints SET previous_secret = secret, previous_secret_expires_at = now() + $3::interval,
               secret = $2, public_key = $4, updated_at = now()
            WHERE id = $1 RETURNING {_ENDPOINT_COLUMNS}, previous_secret_expires_at""",
        endpoint_id,
        secret,
        grace,
        public_key,
    )


async def endpoint_failed(conn: Connection, endpoint_id: uuid.UUID, disable_after: timedelta) -> asyncpg.Record | None:
    """Note a failure; disable the endpoint when it has failed without a success for `disable_after`.
    Returns the endpoint's row when this call disabled it."""
    await conn.execute(
        "UPDATE endpoints SET failing_since = now() WHERE id = $1 AND failing_since IS NULL", endpoint_id
    )
    return await conn.fetchrow(
        f"""UPDATE endpoints SET enabled = false, disabled_reason = 'failing', updated_at = now()
            WHERE id = $1 AND enabled AND failing_since <= now() - $2::interval
            RETURNING {_ENDPOINT_COLUMNS}, failing_since""",
        endpoint_id,
        disable_after,
    )


class Filters(NamedTuple):
    """The subscribers' endpoints' filters (`id`, `event_types`, `channels`), and their version
    (migration 0009): any change to them counts it up."""

    version: int
    endpoints: Sequence[Any]  # asyncpg.Records


async def enabled_endpoint_filters(conn: Connection) -> Filters:
    """The subscribers' endpoints' filters: operator endpoints take only operational events."""
    rows = await conn.fetch(
        """SELECT v.version, e.id, e.event_types, e.channels
           FROM endpoint_filters_version v LEFT JOIN endpoints e ON e.enabled AND NOT e.operational"""
    )
    return Filters(rows[0]["version"], [row for row in rows if row["id"] is not None])


# ---- messages ----------------------------------------------------------------------------------


class Fanned(NamedTuple):
    """One event's messages to write: its body, the trace context it was fanned out in, the endpoints it
    goes to, and those of them leased to this instance's sender (handoff.py)."""

    event: Channelled
    payload: bytes
    trace: TraceContext
    endpoint_ids: Sequence[uuid.UUID]
    leased: Sequence[uuid.UUID] = ()


async def insert_messages(
    conn: Connection,
    endpoint_ids: Sequence[uuid.UUID],
    event: Channelled,
    payload: bytes,
    trace: TraceContext = NO_TRACE,
    *,
    leased: Sequence[uuid.UUID] = (),
    lease: timedelta = timedelta(0),
) -> Written:
    """`insert_fanned` for one event."""
    written = await insert_fanned(conn, [Fanned(event, payload, trace, endpoint_ids, leased)], lease)
    assert written is not None  # checked against no filters' version
    return written


async def insert_fanned(
    conn: Connection,
    fanned: Sequence[Fanned],
    lease: timedelta,
    filters_version: int | None = None,
    tracking: Tracking | None = None,
) -> Written | None:
    """One message per event and endpoint, in one statement, in the order given (an ordered endpoint's
    messages of one order are claimed by id). One deleted since the filters were read is skipped, one
    that has the event already keeps its own. Those for an event's `leased` endpoints that keep no order
    are written claimed, as `claim_due` would claim them, for this instance's sender (handoff.py). The
    commit NOTIFYs the transaction's id, which the returned `Written` names (and `ALL_LEASED` after it
    when it leased every message it wrote; with `tracking`, only when it did not).

    With `filters_version`, the endpoints were chosen by filters of that version: when it is no longer
    the current one, nothing is written and None returned (choose again). With `tracking`, the events'
    tracking rows are written too, and only the events recorded now get messages (the others were
    processed before): the statement is the consumer's whole effect (shared/consumer_handlers.py)."""
    targets = [
        (index, endpoint_id, endpoint_id in one.leased)
        for index, one in enumerate(fanned, start=1)
        for endpoint_id in one.endpoint_ids
    ]
    if not targets and filters_version is None and tracking is None:
        return Written("", 0, [])
    rows = await conn.fetch(
        _FANNED_TRACKED if tracking is not None else _FANNED,
        [one.event.id for one in fanned],
        [one.event.type for one in fanned],
        [one.event.subject for one in fanned],
        [one.event.correlation_id for one in fanned],
        [one.payload for one in fanned],
        [one.trace.get(TRACEPARENT) for one in fanned],
        [one.trace.get(TRACESTATE) for one in fanned],
        [index for index, _, _ in targets],
        [endpoint_id for _, endpoint_id, _ in targets],
        [leased for _, _, leased in targets],
        lease,
        MESSAGES_CHANNEL,
        filters_version,
        [dumps(one.event.channels) for one in fanned],
        *(tracking.arguments() if tracking is not None else ()),
    )
    if filters_version is not None and rows[0]["version"] != filters_version:
        return None
    recorded = frozenset(rows[0]["recorded"] or ())
    rows = [row for row in rows if row["message_id"] is not None]
    by_event = {one.event.id: one for one in fanned}
    leased_deliveries = []
    for row in rows:
        if not row["attempt"]:
            continue
        one = by_event[row["event_id"]]
        leased_deliveries.append(
            Delivery(
                message_id=row["message_id"],
                event_id=one.event.id,
                event_type=one.event.type,
                correlation_id=one.event.correlation_id,
                payload=one.payload,
                attempt=row["attempt"],
                endpoint_id=row["endpoint_id"],
                url=row["url"],
                secret=row["secret"],
                order_id=one.event.subject,
                previous_secret=row["previous_secret"],
                headers=row["headers"],
                rate_limit=row["rate_limit"],
                traceparent=one.trace.get(TRACEPARENT),
                tracestate=one.trace.get(TRACESTATE),
            )
        )
    return Written(rows[0]["transaction"] if rows else "", len(rows), leased_deliveries, recorded)


def _fanned(tracked: bool) -> str:
    """insert_fanned's statement: $1-$14 its own parameters; with `tracked`, $15-$19 the tracking rows',
    which it writes when the filters' version holds, and writes messages only for the events they
    recorded. A tracked write, its own transaction, NOTIFYs only when it left messages to the claim: what
    it leased, this instance's fan-out hands over when the statement returns (every listening backend of
    the database wakes for a NOTIFY, whatever its channel). The ids recorded come on the first row only:
    on every row, a poll of 200 events to 4 endpoints returned 800 copies of 200 ids, 160,000 UUIDs to
    encode and decode (a statement of 500 events to 4 endpoints took 534-815 ms instead of 70-145)."""
    filters_hold = "($13::bigint IS NULL OR $13 = (SELECT version FROM filters_now))"
    tracked_part = f"tracked AS ({Tracking.insert(15, where=filters_hold)})," if tracked else ""
    only_tracked = "AND v.event_id IN (SELECT event_id FROM tracked)" if tracked else ""
    recorded = "(SELECT array_agg(event_id) FROM tracked)" if tracked else "NULL::uuid[]"
    all_leased = "coalesce((SELECT bool_and(attempts > 0) FROM inserted), false)"
    notify = f"NOT {all_leased}" if tracked else "true"
    return f"""WITH filters_now AS (SELECT version FROM endpoint_filters_version),
           {tracked_part}
           events AS (
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[],
                                    $14::text[])
                   WITH ORDINALITY AS v (event_id, event_type, order_id, correlation_id, payload, traceparent,
                                         tracestate, channels, n)),
           targets AS (
               SELECT * FROM unnest($8::int[], $9::uuid[], $10::bool[]) WITH ORDINALITY AS t (event_n, endpoint_id,
                                                                                             leased, n)),
           inserted AS (
               INSERT INTO messages (endpoint_id, event_id, event_type, order_id, correlation_id, payload,
                                     traceparent, tracestate, channels, attempts, next_attempt_at)
               SELECT e.id, v.event_id, v.event_type, v.order_id, v.correlation_id, v.payload, v.traceparent,
                      v.tracestate, ARRAY(SELECT jsonb_array_elements_text(v.channels::jsonb)),
                      (t.leased AND NOT e.ordered)::int,
                      CASE WHEN t.leased AND NOT e.ordered THEN clock_timestamp() + $11::interval ELSE now() END
               FROM targets t JOIN events v ON v.n = t.event_n JOIN endpoints e ON e.id = t.endpoint_id
               WHERE {filters_hold} {only_tracked}
               ORDER BY t.n
               ON CONFLICT (endpoint_id, event_id) DO NOTHING
               RETURNING id, endpoint_id, event_id, attempts)
           SELECT c.version, i.id AS message_id, i.event_id, i.attempts AS attempt, e.id AS endpoint_id, e.url,
                  e.secret, e.headers, e.rate_limit,
                  CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret,
                  txid_current()::text AS transaction,
                  CASE WHEN row_number() OVER () = 1 THEN {recorded} END AS recorded,
                  CASE WHEN i.id IS NOT NULL AND {notify} THEN pg_notify(
                      $12, txid_current()::text || CASE WHEN {all_leased} THEN '{ALL_LEASED}' ELSE '' END)
                  END AS notified
           FROM filters_now c LEFT JOIN (inserted i JOIN endpoints e ON e.id = i.endpoint_id) ON true"""


_FANNED: Final = _fanned(tracked=False)
_FANNED_TRACKED: Final = _fanned(tracked=True)


async def insert_test_message(
    conn: Connection, endpoint_id: uuid.UUID, event_id: uuid.UUID, event_type: str, payload: bytes
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO messages (endpoint_id, event_id, event_type, order_id, payload)
            VALUES ($1, $2, $3, '', $4) RETURNING {MESSAGE_COLUMNS}""",
        endpoint_id,
        event_id,
        event_type,
        payload,
    )
    assert row is not None
    await conn.execute("SELECT pg_notify($1, '')", MESSAGES_CHANNEL)
    return row


MESSAGE_COLUMNS: Final = (
    "id, endpoint_id, event_id, event_type, order_id, channels, status, attempts, next_attempt_at, created_at, "
    "delivered_at, payload_expunged_at"
)
# A message's attempts, oldest first, as a JSON array (the message is `m`).
ATTEMPT_LOG: Final = """coalesce((SELECT json_agg(json_build_object(
                                 'attempted_at', a.attempted_at, 'response_status', a.response_status,
                                 'latency_ms', a.latency_ms, 'error', a.error,
                                 'response_excerpt', a.response_excerpt) ORDER BY a.id)
                             FROM attempts a WHERE a.message_id = m.id), '[]') AS attempt_log"""


async def list_messages(
    conn: Connection,
    *,
    endpoint_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """Messages, newest first, each with its attempts (oldest first) as a JSON array; with `channel`,
    those whose event carried that channel."""
    return await conn.fetch(
        f"""SELECT {", ".join("m." + column for column in MESSAGE_COLUMNS.split(", "))}, {ATTEMPT_LOG}
            FROM messages m
            WHERE ($1::uuid IS NULL OR m.endpoint_id = $1) AND ($2::uuid IS NULL OR m.event_id = $2)
              AND ($3::text IS NULL OR m.status = $3)
              AND ($4::timestamptz IS NULL OR m.created_at >= $4) AND ($5::timestamptz IS NULL OR m.created_at < $5)
              AND ($7::text IS NULL OR $7 = ANY (m.channels))
            ORDER BY m.created_at DESC, m.id DESC LIMIT $6""",
        endpoint_id,
        event_id,
        status,
        since,
        until,
        limit,
        channel,
    )


async def retry_message(conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> asyncpg.Record | None:
    """Send a message again now, whatever its status; one more attempt (failed again if it fails). None
    when the endpoint has no such message, or its payload was expunged."""
    row = await conn.fetchrow(
        f"""UPDATE messages SET status = 'pending', next_attempt_at = now()
            WHERE id = $1 AND endpoint_id = $2 AND payload_expunged_at IS NULL RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        endpoint_id,
    )
    await conn.execute("SELECT pg_notify($1, '')", MESSAGES_CHANNEL)
    return row


async def payload_expunged(conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> bool:
    """Whether the endpoint's message had its payload expunged."""
    found = await conn.fetchval(
        "SELECT payload_expunged_at IS NOT NULL FROM messages WHERE id = $1 AND endpoint_id = $2",
        message_id,
        endpoint_id,
    )
    return bool(found)


async def recover(conn: Connection, endpoint_id: uuid.UUID, since: datetime) -> int:
    """Re-send every failed message of the endpoint created since `since` (not those whose payload was
    expunged); how many."""
    count: int = await conn.fetchval(
        """WITH requeued AS (
               UPDATE messages SET status = 'pending', next_attempt_at = now()
               WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2 AND payload_expunged_at IS NULL
               RETURNING 1)
           SELECT count(*) FROM requeued""",
        endpoint_id,
        since,
    )
    await conn.execute("SELECT pg_notify($1, '')", MESSAGES_CHANNEL)
    return count


async def claim_due(
    conn: Connection, limit: int, lease: timedelta, *, in_flight: Mapping[uuid.UUID, int], per_endpoint: int
) -> list[Delivery]:
    """Claim due messages for this sender: per endpoint at most `per_endpoint` less what this sender
    has `in_flight` there (an endpoint given `per_endpoint` or more gets none), at most `limit` in all,
    the longest due first. Claimed messages are pushed `lease` into the future, so a sender that dies
    mid-send leaves them to be claimed again; SKIP LOCKED lets many senders share the backlog. On an
    ordered endpoint a message waits while an earlier one of its order is pending (being sent, or
    waiting for a retry). Each endpoint with room is read apart, through messages_due_per_endpoint
    (migration 0011), so a full endpoint's backlog is never read: scanning every due message in time
    order, a claim passed over all of a slow endpoint's (21.6 ms at 100,000, now 1.1) to reach another's.
    What an endpoint's scan locks and the claim does not take (beyond `limit` across endpoints) is free
    again when the claim's transaction ends."""
    rows = await conn.fetch(
        """WITH busy AS (
               SELECT endpoint_id, $4 - n AS room FROM unnest($3::uuid[], $5::int[]) AS b (endpoint_id, n)),
           open AS (
               SELECT e.id, e.ordered, coalesce(busy.room, $4) AS room
               FROM endpoints e LEFT JOIN busy ON busy.endpoint_id = e.id
               WHERE e.enabled AND coalesce(busy.room, $4) > 0),
           due AS (
               SELECT c.id FROM open o CROSS JOIN LATERAL (
                   SELECT m.id, m.next_attempt_at FROM messages m
                   WHERE m.endpoint_id = o.id AND m.status = 'pending' AND m.next_attempt_at <= now()
                     AND (NOT o.ordered OR NOT EXISTS (
                         SELECT 1 FROM messages p
                         WHERE p.endpoint_id = m.endpoint_id AND p.order_id = m.order_id
                           AND p.status = 'pending' AND p.id < m.id))
                   ORDER BY m.next_attempt_at, m.id
                   LIMIT least(o.room, $1)
                   FOR UPDATE OF m SKIP LOCKED) c
               ORDER BY c.next_attempt_at, c.id
               LIMIT $1)
           UPDATE messages m
           SET next_attempt_at = now() + $2::interval, attempts = m.attempts + 1
           FROM due, endpoints e
           WHERE m.id = due.id AND e.id = m.endpoint_id
           RETURNING m.id AS message_id, m.event_id, m.event_type, m.correlation_id, m.traceparent, m.tracestate,
                     m.payload, m.attempts AS attempt,
                     m.order_id, e.id AS endpoint_id, e.url, e.secret, e.headers, e.rate_limit, e.ordered,
                     CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret""",
        limit,
        lease,
        list(in_flight),
        per_endpoint,
        list(in_flight.values()),
    )
    return [Delivery(**row) for row in rows]  # the columns are named as its fields


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
    """Log the attempt and settle the message: delivered, failed, or pending again after `retry_in`.
    A delivery also ends the endpoint's failing streak. One statement: atomic without a transaction."""
    await conn.execute(
        """WITH attempt AS (
               INSERT INTO attempts (message_id, response_status, latency_ms, error, response_excerpt)
               VALUES ($1, $4, $5, $6, $7)),
           message AS (
               UPDATE messages SET status = $2,
                   delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
                   next_attempt_at = CASE WHEN $3::interval IS NULL THEN next_attempt_at
                                          ELSE now() + $3::interval END
               WHERE id = $1)
           UPDATE endpoints SET failing_since = NULL
           WHERE $2 = 'delivered' AND id = $8 AND failing_since IS NOT NULL""",
        delivery.message_id,
        outcome,
        retry_in,
        response_status,
        latency_ms,
        error,
        response_excerpt,
        delivery.endpoint_id,
    )


async def record_deliveries(conn: Connection, delivered: Sequence[DeliveredAttempt]) -> None:
    """`record_attempt` for many delivered attempts in one statement. A message deleted meanwhile (its
    endpoint was) is skipped, not an error for the others."""
    await conn.execute(
        """WITH done AS (
               SELECT d.*, m.endpoint_id FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[])
                   AS d (message_id, response_status, latency_ms, response_excerpt)
               JOIN messages m ON m.id = d.message_id),
           attempt AS (
               INSERT INTO attempts (message_id, response_status, latency_ms, response_excerpt)
               SELECT message_id, response_status, latency_ms, response_excerpt FROM done),
           message AS (
               UPDATE messages m SET status = 'delivered', delivered_at = now()
               FROM done WHERE m.id = done.message_id)
           UPDATE endpoints SET failing_since = NULL
           WHERE id IN (SELECT endpoint_id FROM done) AND failing_since IS NOT NULL""",
        [attempt.delivery.message_id for attempt in delivered],
        [attempt.answer.status for attempt in delivered],
        [attempt.latency_ms for attempt in delivered],
        [attempt.answer.excerpt for attempt in delivered],
    )


async def purge(conn: Connection, older_than: timedelta) -> tuple[int, int]:
    """Delete settled messages (with their attempts) and attempts older than `older_than`."""
    messages: int = await conn.fetchval(
        """WITH gone AS (DELETE FROM messages WHERE created_at < now() - $1::interval AND status <> 'pending'
                         RETURNING 1)
           SELECT count(*) FROM gone""",
        older_than,
    )
    attempts: int = await conn.fetchval(
        """WITH gone AS (DELETE FROM attempts WHERE attempted_at < now() - $1::interval RETURNING 1)
           SELECT count(*) FROM gone""",
        older_than,
    )
    return messages, attempts


async def endpoint_backlog(conn: Connection) -> list[asyncpg.Record]:
    """Per endpoint: whether it is enabled, its pending messages, how long the oldest due one has been
    due and how long the endpoint has been failing (seconds, 0 when none)."""
    return await conn.fetch(
        """SELECT e.id, e.enabled, coalesce(m.pending, 0) AS pending,
                  coalesce(extract(epoch FROM now() - m.oldest_due), 0)::float8 AS oldest_due_seconds,
                  coalesce(extract(epoch FROM now() - e.failing_since), 0)::float8 AS failing_seconds
           FROM endpoints e
           LEFT JOIN (SELECT endpoint_id, count(*) AS pending,
                             min(next_attempt_at) FILTER (WHERE next_attempt_at <= now()) AS oldest_due
                      FROM messages WHERE status = 'pending' GROUP BY endpoint_id) m ON m.endpoint_id = e.id
           ORDER BY e.id"""
    )
