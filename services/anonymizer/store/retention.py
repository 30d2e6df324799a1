"""The retention sweep's SQL: the orders due (eligible since the cutoff or earlier, not anonymized, no
erasure of theirs yet), a batch at a time, and how many are left."""

from datetime import datetime
from typing import Final

from shared.db import Connection

_DUE: Final = """FROM known_orders k
    WHERE NOT k.anonymized AND k.eligible_since <= $1
      AND NOT EXISTS (SELECT 1 FROM order_erasures e WHERE e.order_id = k.order_id)"""


async def lock_retention_sweep(conn: Connection) -> bool:
    """Take the sweep for this transaction, if no other instance has it (an advisory lock held until
    commit); whether it was taken."""
    taken: bool = await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended('anonymizer.retention', 0))")
    return taken


async def retention_due(conn: Connection, cutoff: datetime, limit: int) -> list[int]:
    """Up to `limit` orders due, longest eligible first, locked until commit; an order whose row another
    transaction holds (its event being recorded) is skipped, for the next sweep."""
    rows = await conn.fetch(
        f"SELECT k.order_id {_DUE} ORDER BY k.eligible_since, k.order_id LIMIT $2 FOR UPDATE OF k SKIP LOCKED",
        cutoff,
        limit,
    )
    return [row["order_id"] for row in rows]


async def count_retention_due(conn: Connection, cutoff: datetime) -> int:
    """How many orders are due (those this transaction asked for are not: they have an erasure now)."""
    count: int = await conn.fetchval(f"SELECT count(*) {_DUE}", cutoff)
    return count
