"""order_api's background loops: the periodic purge of the HTTP guards' expired records (batched, so any
number of instances purge side by side; the kernel tables' retention is every service's, shared/retention.py),
and the folding of the order changes recorded for the counts by status (one fold at a time, however many
instances run)."""

import functools

from services.order_api.service.guards import HttpGuards
from services.order_api.service.orders import OrderService
from services.order_api.settings import OrderApiSettings
from services.order_api.store import PostgresDatabase
from shared.periodic import run_periodically
from shared.runtime import Runtime


async def purge_http_guards(runtime: Runtime[OrderApiSettings]) -> None:
    """Delete expired Idempotency-Key records every `purge_interval_seconds`."""
    guards = HttpGuards(PostgresDatabase(runtime.pool))
    purge = functools.partial(guards.purge, runtime.settings.table_purge_batch_rows)
    await run_periodically("purge http guards", purge, runtime.settings.purge_interval_seconds)


async def fold_order_counts(runtime: Runtime[OrderApiSettings]) -> None:
    """Fold the recorded order changes into the counts by status every `count_fold_interval_seconds`."""
    orders = OrderService(PostgresDatabase(runtime.pool), max_event_bytes=runtime.settings.max_event_bytes)
    await run_periodically("fold order counts", orders.fold_counts, runtime.settings.count_fold_interval_seconds)
