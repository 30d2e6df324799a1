"""The dispatcher's erasure SQL (issue 10 design, section 5): anonymized orders' masked snapshots,
erasures waiting for one, and the rewrite of an order's stored messages and attempt logs. Only
erasure.py calls it; the rule of what a message may still say is domain.py's."""

from collections.abc import Sequence
from typing import Any

from services.webhook_dispatcher.domain import MaskedOrder
from shared.db import Connection, rows_affected
from shared.outbox import erase_sent_events


async def lock_order(conn: Connection, order_id: str, *, shared: bool = False) -> None:
    """Serialize, until the transaction ends, what is done about the order's anonymization: keeping its
    snapshot and erasing (exclusive) against fanning out one of its events from another topic (shared),
    so neither misses what the other has not yet committed."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await conn.execute(f"SELECT {function}(hashtextextended('webhooks.anonymized:' || $1, 0))", order_id)


async def keep_anonymized(conn: Connection, order_id: str, masked: MaskedOrder) -> None:
    """Keep the order's masked snapshot; a newer sequence replaces it, an older one is ignored."""
    await conn.execute(
        """INSERT INTO anonymized_orders (order_id, sequence, snapshot) VALUES ($1, $2, $3)
           ON CONFLICT (order_id) DO UPDATE SET sequence = EXCLUDED.sequence, snapshot = EXCLUDED.snapshot,
                                                received_at = now()
           WHERE anonymized_orders.sequence < EXCLUDED.sequence""",
        order_id,
        masked.sequence,
        masked.snapshot,
    )


async def anonymized(conn: Connection, order_id: str) -> MaskedOrder | None:
    row = await conn.fetchrow("SELECT sequence, snapshot FROM anonymized_orders WHERE order_id = $1", order_id)
    return None if row is None else MaskedOrder(row["sequence"], bytes(row["snapshot"]))


async def wait_for_snapshot(conn: Connection, order_id: str, request: dict[str, Any]) -> None:
    """Keep an erasure request until the order's snapshot arrives; a later attempt replaces an earlier."""
    await conn.execute(
        """INSERT INTO erasures_waiting (order_id, request) VALUES ($1, $2)
           ON CONFLICT (order_id) DO UPDATE SET request = EXCLUDED.request
           WHERE (erasures_waiting.request ->> 'attempt')::int <= (EXCLUDED.request ->> 'attempt')::int""",
        order_id,
        request,
    )


async def take_waiting(conn: Connection, order_id: str) -> dict[str, Any] | None:
    """The erasure request waiting for the order's snapshot, no longer waiting; None if there is none."""
    request: dict[str, Any] | None = await conn.fetchval(
        "DELETE FROM erasures_waiting WHERE order_id = $1 RETURNING request", order_id
    )
    return request


async def order_messages(conn: Connection, order_id: str) -> list[tuple[int, bytes]]:
    """Every stored message of the order (id, payload) but those whose payload was expunged (nothing
    left to erase), locked until the transaction ends: a sender's claim skips them meanwhile and sends
    what this transaction leaves (one already claimed is in flight with what it had)."""
    rows = await conn.fetch(
        "SELECT id, payload FROM messages WHERE order_id = $1 AND payload_expunged_at IS NULL ORDER BY id FOR UPDATE",
        order_id,
    )
    return [(row["id"], bytes(row["payload"])) for row in rows]


async def rewrite_payloads(conn: Connection, payloads: Sequence[tuple[int, bytes]]) -> int:
    """Replace these messages' payloads (status and schedule unchanged); how many."""
    if not payloads:
        return 0
    status = await conn.execute(
        """UPDATE messages m SET payload = new.payload
           FROM unnest($1::bigint[], $2::bytea[]) AS new (id, payload) WHERE m.id = new.id""",
        [message_id for message_id, _ in payloads],
        [payload for _, payload in payloads],
    )
    return rows_affected(status)


async def clear_response_excerpts(conn: Connection, order_id: str) -> int:
    """Forget what subscribers answered to the order's messages (their bodies may echo the payload)."""
    status = await conn.execute(
        """UPDATE attempts a SET response_excerpt = NULL FROM messages m
           WHERE m.order_id = $1 AND a.message_id = m.id AND a.response_excerpt IS NOT NULL""",
        order_id,
    )
    return rows_affected(status)


async def erase_outbox(conn: Connection, order_id: str) -> dict[str, int]:
    """The order's published and parked outbox rows (shared.outbox.erase_sent_events): the dispatcher
    keys only its receipts by order, so these are earlier receipts. UnsentEvents while one is unsent."""
    return await erase_sent_events(conn, order_id)
