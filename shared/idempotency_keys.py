"""The Idempotency-Key records (shared/idempotency.py) in a service's own `idempotency_keys` table:
one row per (API key's principal, Idempotency-Key). A row without a status is a request still in
flight; its lease lets another request take the key over if the instance died. Shared by every
instance, so a retry that lands elsewhere still replays the first answer."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import asyncpg

from shared.db import Statements
from shared.idempotency import KeyRecord
from shared.purge import purge_in_batches

TABLE = "idempotency_keys"


class IdempotencyKeyRows:
    """The keys, through `conn` (`shared.db.Statements`). A service whose table has columns of its own
    about an answer names them in `ANSWER_COLUMNS`: a key taken afresh clears them too."""

    ANSWER_COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        """Take `key` for a new request and return None, or return the record that holds it. An expired
        key is taken afresh; so is one whose in-flight holder outlived its lease (its instance died), but
        only by the same request, since the first may have had its effect."""
        cleared = "".join(f", {column} = NULL" for column in self.ANSWER_COLUMNS)
        while True:
            claimed = await self.conn.fetchval(
                f"""
                INSERT INTO {TABLE} AS k (principal, key, fingerprint, locked_until, expires_at)
                VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
                ON CONFLICT (principal, key) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = NULL, body = NULL{cleared},
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
                f"SELECT fingerprint, status, headers, body FROM {TABLE} WHERE principal = $1 AND key = $2",
                principal,
                key,
            )
            if row is not None:  # else its holder released it just now: claim again
                headers = [(name, value) for name, value in row["headers"] or []]
                return KeyRecord(row["fingerprint"], row["status"], headers, row["body"] or b"")

    async def keep_answer(
        self,
        principal: str,
        key: str,
        *,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        about: Mapping[str, object] | None = None,
    ) -> None:
        """Remember the answer of the request that holds `key`; `about` sets the service's own
        `ANSWER_COLUMNS`."""
        extra = dict(about or {})
        assert set(extra) <= set(self.ANSWER_COLUMNS), extra
        assignments = "".join(f", {column} = ${index}" for index, column in enumerate(extra, start=6))
        await self.conn.execute(
            f"UPDATE {TABLE} SET status = $3, headers = $4, body = $5{assignments} WHERE principal = $1 AND key = $2",
            principal,
            key,
            status,
            [list(header) for header in headers],
            body,
            *extra.values(),
        )

    async def release_key(self, principal: str, key: str) -> None:
        await self.conn.execute(
            f"DELETE FROM {TABLE} WHERE principal = $1 AND key = $2 AND status IS NULL", principal, key
        )


async def purge_expired_keys(db: "asyncpg.Pool | Statements", batch_rows: int) -> int:
    """Delete expired Idempotency-Key records, `batch_rows` per statement (shared/purge.py); how many."""
    return await purge_in_batches(db, TABLE, "expires_at <= $1", datetime.now(UTC), batch_rows=batch_rows)
