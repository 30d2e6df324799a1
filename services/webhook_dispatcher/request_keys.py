"""The admin API's Idempotency-Keys (shared/idempotency.py's middleware): kept in the dispatcher's own
`idempotency_keys` table through the shared rows (shared/idempotency_keys.py), and purged once
expired by the dispatcher's retention (workers.py)."""

from collections.abc import Sequence

from services.webhook_dispatcher.service import Database
from shared.idempotency import KeyRecord
from shared.idempotency_keys import IdempotencyKeyRows, purge_expired_keys
from shared.logging import get_logger
from shared.purge import completed

log = get_logger(__name__)


class RequestKeys:
    """shared.idempotency.KeyStore on the dispatcher's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        async with self._db.acquire() as conn:
            return await IdempotencyKeyRows(conn).claim_key(
                principal, key, fingerprint, lease_seconds=lease_seconds, ttl_seconds=ttl_seconds
            )

    async def keep_answer(
        self, principal: str, key: str, *, status: int, headers: Sequence[tuple[str, str]], body: bytes, path: str
    ) -> None:
        async with self._db.acquire() as conn:
            await IdempotencyKeyRows(conn).keep_answer(principal, key, status=status, headers=headers, body=body)

    async def release_key(self, principal: str, key: str) -> None:
        async with self._db.acquire() as conn:
            await IdempotencyKeyRows(conn).release_key(principal, key)

    async def purge(self, batch_rows: int) -> None:
        """Delete expired keys, `batch_rows` per statement."""
        async with self._db.acquire() as conn:
            keys = await purge_expired_keys(conn, batch_rows)
        completed("webhook idempotency keys")
        if keys:
            log.info("expired idempotency keys purged", keys=keys)
