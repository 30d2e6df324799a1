"""An anonymized order's copies outside its own row: remembered Idempotency-Key answers, guest-lookup
rate-limit windows, published outbox rows (design section 5)."""

from shared.db import Statements, rows_affected
from shared.outbox import erase_sent_events


class ErasureRows:
    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def erase_order(self, order_id: int, number_buckets: str | None) -> dict[str, int]:
        """Delete what of the order is kept outside its row; rows per table. The outbox first: while an
        older event of the order waits for the relay it raises UnsentEvents, before anything else."""
        outbox = await erase_sent_events(self.conn, str(order_id))
        keys = await self.conn.execute("DELETE FROM idempotency_keys WHERE order_id = $1", order_id)
        windows = "DELETE 0"
        if number_buckets is not None:
            # starts_with, not LIKE: the prefix is data, and `_` or `%` in it are not patterns.
            windows = await self.conn.execute("DELETE FROM rate_windows WHERE starts_with(bucket, $1)", number_buckets)
        return {
            "idempotency_keys": rows_affected(keys),
            "rate_windows": rows_affected(windows),
            **outbox,
        }
