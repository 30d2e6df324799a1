"""The HTTP guards' records: Idempotency-Keys (api/idempotency.py), rate limits (the guest lookup, failed
access token requests), and the purge of what has expired (workers.py).

Rate limits count in Postgres fixed windows, so they hold however many instances run; a window lets
at most twice the limit through around its edge, which is fine for slowing guessing down.
"""

from collections.abc import Sequence

from services.order_api.domain.http_guards import order_of_answer
from services.order_api.service.errors import RateLimited
from services.order_api.service.ports import Database
from shared.idempotency import KeyRecord
from shared.logging import get_logger
from shared.purge import completed
from shared.rate_limits import WindowCount, retry_after

log = get_logger(__name__)


class HttpGuards:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        """Take `key` for this request (None), or the record of the request that holds it. An expired
        key is taken afresh; so is one whose in-flight holder outlived its lease, by the same request only."""
        async with self.database.statements() as tables:
            return await tables.http_guards.claim_key(
                principal, key, fingerprint, lease_seconds=lease_seconds, ttl_seconds=ttl_seconds
            )

    async def keep_answer(
        self,
        principal: str,
        key: str,
        *,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        path: str = "",
    ) -> None:
        """Remember the answer of the request (to `path`) that held `key`, for its retries, with the
        order it is about, so that the order's erasure finds it."""
        location = next((value for name, value in headers if name.lower() == "location"), None)
        order_id = order_of_answer(path, location)
        async with self.database.statements() as tables:
            await tables.http_guards.complete_key(
                principal, key, status=status, headers=headers, body=body, order_id=order_id
            )

    async def release_key(self, principal: str, key: str) -> None:
        """Let `key` go unremembered (its request failed and changed nothing): it may be used again."""
        async with self.database.statements() as tables:
            await tables.http_guards.release_key(principal, key)

    async def limit_rate(self, limits: Sequence[tuple[str, int]], window_seconds: int) -> None:
        """Count this request against each (bucket, limit); RateLimited once any is over."""
        async with self.database.statements() as tables:
            counted = await tables.http_guards.count_hits([bucket for bucket, _ in limits], window_seconds)
        _refuse_over(limits, counted)

    async def check_rate(self, limits: Sequence[tuple[str, int]], window_seconds: int) -> None:
        """RateLimited if this request, were it counted, would be over any (bucket, limit); counts nothing.
        With `count`, for limits on failures: check before the attempt, count it once it failed."""
        async with self.database.statements() as tables:
            so_far = await tables.http_guards.peek_hits([bucket for bucket, _ in limits], window_seconds)
        _refuse_over(limits, [count._replace(hits=count.hits + 1) for count in so_far])

    async def count(self, buckets: Sequence[str], window_seconds: int) -> None:
        """Count this request in each bucket, refusing nothing (`check_rate` refuses the next)."""
        async with self.database.statements() as tables:
            await tables.http_guards.count_hits(buckets, window_seconds)

    async def purge(self, batch_rows: int) -> None:
        """Delete expired Idempotency-Key records, `batch_rows` per statement."""
        async with self.database.statements() as tables:
            keys = await tables.http_guards.purge(batch_rows)
        completed("http guards")
        if keys:
            log.info("expired idempotency keys purged", keys=keys)


def _refuse_over(limits: Sequence[tuple[str, int]], counted: Sequence[WindowCount]) -> None:
    """RateLimited, with how long to wait, when any bucket's count is over its limit."""
    wait = retry_after(dict(limits), counted)
    if wait is not None:
        raise RateLimited(wait)
