"""Who may call what: API-key scopes for the order routes, rate limits for the public ones.

Each keyed route names the scope of what it does, whatever its HTTP method: reading an order needs
orders:read (a POST that only reads, such as Digital River's refresh, too), changing one orders:write.
A change answers with the order; a caller that may not read is shown it without its customer record
(service.py says what it may and may not see). A unit test holds every keyed route to one scope.

Rate limits count in Postgres fixed windows, so they hold however many instances run; a window lets
at most twice the limit through around its edge, which is fine for slowing guessing down.
"""

import math
from collections.abc import Sequence
from typing import Annotated, Final

import asyncpg
from fastapi import Depends
from fastapi.params import Depends as Dependency

from services.order_api import store
from shared.auth import has_scope, require_scope
from shared.logging import get_logger
from shared.problems import Problem

log = get_logger(__name__)

ORDERS_READ: Final = "orders:read"
ORDERS_WRITE: Final = "orders:write"

require_read = require_scope(ORDERS_READ)
require_write = require_scope(ORDERS_WRITE)
# A route's `dependencies`, naming its scope.
READS: Final[list[Dependency]] = [Depends(require_read)]
WRITES: Final[list[Dependency]] = [Depends(require_write)]


async def writer_may_read(scopes: Annotated[Sequence[str], Depends(require_write)]) -> bool:
    """A changing route's dependency (orders:write): whether its caller may read orders too."""
    return has_scope(scopes, ORDERS_READ)


# A changing route's parameter: requires orders:write, and says whether the caller may also read.
MayRead = Annotated[bool, Depends(writer_may_read)]


async def limit_rate(pool: asyncpg.Pool, limits: Sequence[tuple[str, int]], window_seconds: int) -> None:
    """Count this request against each (bucket, limit); 429 with Retry-After once any is over."""
    async with pool.acquire() as conn:
        counted = await store.count_hits(conn, [bucket for bucket, _ in limits], window_seconds)
    limit_of = dict(limits)
    waits = [remaining for bucket, hits, remaining in counted if hits > limit_of[bucket]]
    if waits:
        raise Problem(
            429,
            "rate_limited",
            "Too many attempts; wait as long as Retry-After says before trying again.",
            headers={"Retry-After": str(max(1, math.ceil(max(waits))))},
        )


async def purge_http_guards(pool: asyncpg.Pool) -> None:
    """Delete expired Idempotency-Key records and ended rate-limit windows."""
    async with pool.acquire() as conn:
        keys, windows = await store.purge_http_guards(conn)
    if keys or windows:
        log.info("expired idempotency keys and rate-limit windows purged", keys=keys, windows=windows)
