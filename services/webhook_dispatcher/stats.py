"""Endpoint statistics, as Svix's: per endpoint, its messages over a window counted by status
(delivered, failed, pending) with the last success and the last failure, for the admin API; and the
attempts written since the last look, per endpoint, for /metrics (stats_metrics.py).

Both are read from the rows the fan-out and the sender write anyway (stats_store.py says which
columns), so the delivery path writes nothing for them.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from services.webhook_dispatcher import stats_store as postgres_store
from services.webhook_dispatcher import store as endpoint_store
from services.webhook_dispatcher.domain import EndpointNotFound
from services.webhook_dispatcher.service import Database, Row
from shared.db import Connection

# The window the statistics cover when the caller names none.
DEFAULT_WINDOW: Final = timedelta(hours=24)
# How old an attempt must be before the metrics count it: a transaction that wrote a lower number
# is committed by then, so the tally never skips it.
SETTLE_DELAY: Final = timedelta(seconds=2)


class StatsStore(Protocol):
    """stats_store.py's functions."""

    async def endpoint_stats(
        self, conn: Connection, endpoint_id: uuid.UUID, since: datetime, until: datetime
    ) -> Row: ...

    async def last_attempt_id(self, conn: Connection) -> int: ...

    async def endpoint_ids(self, conn: Connection) -> set[uuid.UUID]: ...

    async def attempts_after(self, conn: Connection, after_id: int, settle: timedelta) -> Sequence[Row]: ...


class EndpointFinder(Protocol):
    async def fetch_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> Row | None: ...


class EndpointStats:
    def __init__(
        self, db: Database, *, store: StatsStore = postgres_store, endpoints: EndpointFinder = endpoint_store
    ) -> None:
        self._db = db
        self._store = store
        self._endpoints = endpoints
        self._after: int | None = None

    async def of(self, endpoint_id: uuid.UUID, since: datetime | None, until: datetime | None) -> Row:
        """The endpoint's messages created in [since, until) (by default the last DEFAULT_WINDOW up to
        now) by status, the last delivery and the last failed attempt among them."""
        until = until or datetime.now(UTC)
        since = since or until - DEFAULT_WINDOW
        async with self._db.acquire() as conn:
            if await self._endpoints.fetch_endpoint(conn, endpoint_id) is None:
                raise EndpointNotFound(endpoint_id)
            return await self._store.endpoint_stats(conn, endpoint_id, since, until)

    async def new_attempts(self) -> tuple[Sequence[Row], set[uuid.UUID]]:
        """Per endpoint, the attempts written since the previous call (at least SETTLE_DELAY ago): how
        many succeeded and failed, the last success and failure; and the endpoints there are now. The
        first call only marks where the tally starts, and returns no attempts."""
        async with self._db.acquire() as conn:
            endpoints = await self._store.endpoint_ids(conn)
            if self._after is None:
                self._after = await self._store.last_attempt_id(conn)
                return [], endpoints
            rows = await self._store.attempts_after(conn, self._after, SETTLE_DELAY)
        if rows:
            self._after = max(row["last_id"] for row in rows)
        return rows, endpoints
