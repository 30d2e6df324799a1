"""order_api's background loops: the periodic purge of the HTTP guards' expired records."""

from services.order_api.service.guards import HttpGuards
from services.order_api.settings import OrderApiSettings
from services.order_api.store import PostgresDatabase
from shared.periodic import run_periodically
from shared.runtime import Runtime


async def purge_http_guards(runtime: Runtime[OrderApiSettings]) -> None:
    """Delete expired Idempotency-Key records and ended rate-limit windows, every `purge_interval_seconds`."""
    guards = HttpGuards(PostgresDatabase(runtime.pool))
    await run_periodically("purge http guards", guards.purge, runtime.settings.purge_interval_seconds)
