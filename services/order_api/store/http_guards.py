"""The HTTP guards' tables: Idempotency-Key records and rate-limit windows."""

from collections.abc import Sequence

from shared.idempotency_keys import IdempotencyKeyRows, purge_expired_keys
from shared.rate_limits import RateLimitWindows


class HttpGuardRows(RateLimitWindows, IdempotencyKeyRows):
    """Idempotency keys (shared/idempotency_keys.py; order_api's remember the order an answer is about)
    and rate-limit windows (shared/rate_limits.py), through `conn` (`shared.db.Statements`)."""

    ANSWER_COLUMNS = ("order_id",)

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
        await self.keep_answer(principal, key, status=status, headers=headers, body=body, about={"order_id": order_id})

    async def purge(self, batch_rows: int) -> int:
        """Delete expired Idempotency-Key records, `batch_rows` per statement (shared/purge.py); how many.
        Ended rate-limit windows are every service's kernel retention's (shared/retention.py)."""
        return await purge_expired_keys(self.conn, batch_rows)
