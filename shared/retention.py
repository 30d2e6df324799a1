"""The retention of the tables every service has (shared/sql): published outbox rows, parked ones, and
`processed_events` past the redelivery horizon. `shared.runtime` runs it in every service, every
`<PREFIX>TABLE_PURGE_INTERVAL_SECONDS`; the deletes are batched (shared/purge.py), so any number of
instances run it side by side without blocking each other or the service's writers.

- `outbox`: a row is purged `<PREFIX>OUTBOX_RETENTION_HOURS` after it was published (`sent_at`); unsent
  rows are the relay's and never touched. An order's erasure deletes its published rows itself, at once.
- `outbox_dead_letters`: the rows Kafka refused for good, kept `<PREFIX>OUTBOX_PARKED_RETENTION_HOURS`
  after they were parked for an operator to look at, then purged (their bodies hold personal data).
- `rate_windows`: a rate-limit window is purged once it has ended (shared/rate_limits.py).
- `processed_events`: a row is purged once its event can no longer be redelivered from any topic the
  service consumes (shared/redelivery.py); while the broker cannot say how long that is, nothing is.
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka.errors import KafkaError

from shared.logging import get_logger
from shared.purge import completed, purge_in_batches
from shared.redelivery import redelivery_horizon
from shared.settings import ServiceSettings

log = get_logger(__name__)


class KernelRetention:
    """Purges the kernel tables of one service's schema."""

    def __init__(self, pool: asyncpg.Pool, settings: ServiceSettings, consumed: Collection[str]) -> None:
        self._pool = pool
        self._settings = settings
        self._consumed = consumed

    async def purge(self) -> dict[str, int]:
        """One run: the rows deleted per table."""
        settings, now = self._settings, datetime.now(UTC)
        batch = settings.table_purge_batch_rows
        kept_since = {  # table: (its time column, how long a row is kept after it)
            "outbox": ("sent_at", settings.outbox_retention_hours),
            "outbox_dead_letters": ("parked_at", settings.outbox_parked_retention_hours),
        }
        deleted = {
            table: await purge_in_batches(
                self._pool, table, f"{column} < $1", now - timedelta(hours=hours), batch_rows=batch
            )
            for table, (column, hours) in kept_since.items()
        }
        deleted["rate_windows"] = await purge_in_batches(
            self._pool, "rate_windows", "window_end <= $1", now, batch_rows=batch
        )
        if self._consumed:
            try:
                horizon = await redelivery_horizon(settings.kafka_bootstrap_servers, self._consumed)
            except KafkaError as error:
                horizon = None
                log.warning("processed_events not pruned: the topics' retention is unknown", error=repr(error))
            if horizon is not None:
                deleted["processed_events"] = await prune_processed_events(self._pool, now - horizon, batch)
        completed("kernel tables")
        if any(deleted.values()):
            log.info("retention purged rows", **deleted)
        return deleted


async def prune_processed_events(pool: asyncpg.Pool, before: datetime, batch_rows: int) -> int:
    """Delete the `processed_events` rows processed before `before` (the redelivery horizon's start)."""
    return await purge_in_batches(pool, "processed_events", "processed_at < $1", before, batch_rows=batch_rows)
