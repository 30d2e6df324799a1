"""Background jobs that run every so often (purges, retention), the same way in every service."""

import asyncio
from collections.abc import Awaitable, Callable

from shared.db import TRANSIENT_DB_ERRORS
from shared.logging import get_logger

log = get_logger(__name__)


async def run_periodically(name: str, job: Callable[[], Awaitable[object]], interval_seconds: float) -> None:
    """Run `job` now and then every `interval_seconds`, until cancelled (what it returns is dropped). A
    run the database was away
    for is logged and left to the next one; anything else is a bug and ends the loop loudly."""
    while True:
        try:
            await job()
        except TRANSIENT_DB_ERRORS as error:
            log.warning("periodic job skipped: the database is unreachable", job=name, error=str(error))
        await asyncio.sleep(interval_seconds)
