"""The HTTP guards' tables: Idempotency-Key records and rate-limit windows."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from services.order_api.domain.http_guards import KeyRecord, WindowCount
from shared.db import Connection
from shared.purge import purge_in_batches

# The start of the fixed window of `$2` seconds that now falls in: every limit's one rule of windows.
_WINDOW_START: Final = "to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer)"


class HttpGuardRows:
    """Idempotency keys and rate-limit windows, through one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        """Take `key` for a new request and return None, or return the record that holds it. An expired
        key is taken afresh; so is one whose in-flight holder outlived its lease (its instance died), but
        only by the same request, since the first may have had its effect."""
        while True:
            claimed = await self.conn.fetchval(
                """
                INSERT INTO idempotency_keys AS k (principal, key, fingerprint, locked_until, expires_at)
                VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
                ON CONFLICT (principal, key) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = NULL, body = NULL, order_id = NULL,
                       locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
                 WHERE k.expires_at <= now()
                    OR (k.status IS NULL AND k.locked_until <= now() AND k.fingerprint = EXCLUDED.fingerprint)
                RETURNING true
                """,
                principal,
                key,
                fingerprint,
                lease_seconds,
                ttl_seconds,
            )
            if claimed:
                return None
            row = await self.conn.fetchrow(
                "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
                principal,
                key,
            )
            if row is not None:  # else its holder released it just now: claim again
                headers = [(name, value) for name, value in row["headers"] or []]
                return KeyRecord(row["fingerprint"], row["status"], headers, row["body"] or b"")

    async def complete_key(
        self,
        principal: str,
        key: str,
        *,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        order_id: int | None = None,
    ) -> None:
        await self.conn.execute(
            """UPDATE idempotency_keys SET status = $3, headers = $4, body = $5, order_id = $6
               WHERE principal = $1 AND key = $2""",
            principal,
            key,
            status,
            [list(header) for header in headers],
            body,
            order_id,
        )

    async def release_key(self, principal: str, key: str) -> None:
        await self.conn.execute(
            "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL", principal, key
        )

    async def count_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """Count one request in each bucket's current fixed window; per bucket, the hits so far in the
        window and the seconds until it ends. Buckets are locked in the order given, so callers that
        list them in one consistent order cannot deadlock."""
        rows = await self.conn.fetch(
            f"""
            INSERT INTO rate_limit_windows AS w (bucket, window_start, window_end, hits)
            SELECT bucket, start, start + make_interval(secs => $2::integer), 1
              FROM unnest($1::text[]) WITH ORDINALITY AS b (bucket, position),
                   (SELECT {_WINDOW_START} AS start) AS s
             ORDER BY position
            ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
            RETURNING bucket, hits, extract(epoch FROM window_end - now())::float8 AS remaining
            """,
            list(buckets),
            window_seconds,
        )
        return [WindowCount(row["bucket"], row["hits"], row["remaining"]) for row in rows]

    async def peek_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """The hits so far in each bucket's current fixed window, counting none; buckets with no hits in
        it are left out."""
        rows = await self.conn.fetch(
            f"""
            SELECT bucket, hits, extract(epoch FROM window_end - now())::float8 AS remaining
              FROM rate_limit_windows
             WHERE bucket = ANY($1::text[])
               AND window_start = {_WINDOW_START}
            """,
            list(buckets),
            window_seconds,
        )
        return [WindowCount(row["bucket"], row["hits"], row["remaining"]) for row in rows]

    async def purge(self, batch_rows: int) -> tuple[int, int]:
        """Delete expired Idempotency-Key records and ended rate-limit windows, `batch_rows` per
        statement (shared/purge.py); how many of each."""
        now = datetime.now(UTC)
        keys = await purge_in_batches(self.conn, "idempotency_keys", "expires_at <= $1", now, batch_rows=batch_rows)
        windows = await purge_in_batches(
            self.conn, "rate_limit_windows", "window_end <= $1", now, batch_rows=batch_rows
        )
        return keys, windows
