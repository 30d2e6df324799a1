"""The HTTP guards' tables: Idempotency-Key records and rate-limit windows."""

from collections.abc import Sequence
from datetime import UTC, datetime

from services.order_api.domain.http_guards import KeyRecord
from shared.purge import purge_in_batches
from shared.rate_limits import RateLimitWindows


class HttpGuardRows(RateLimitWindows):
    """Idempotency keys and rate-limit windows (shared/rate_limits.py), through one connection."""

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

    async def purge(self, batch_rows: int) -> int:
        """Delete expired Idempotency-Key records, `batch_rows` per statement (shared/purge.py); how many.
        Ended rate-limit windows are every service's kernel retention's (shared/retention.py)."""
        now = datetime.now(UTC)
        return await purge_in_batches(self.conn, "idempotency_keys", "expires_at <= $1", now, batch_rows=batch_rows)
