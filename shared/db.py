"""asyncpg pools, one per service, each confined to its service's schema."""

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final, Protocol, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.json_codec import dumps
from shared.logging import get_logger

log = get_logger(__name__)

# A connection as handlers and stores see it: plain, or borrowed from a pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class Statements(Protocol):
    """What a store sends its statements through: a connection (a `Connection`, in a transaction or
    not), or a pool's connections one statement at a time (`PoolStatements`)."""

    async def execute(self, query: str, *args: object, timeout: float | None = ...) -> str: ...

    async def executemany(
        self, command: str, args: Iterable[Sequence[object]], *, timeout: float | None = ...
    ) -> None: ...

    async def fetch(self, query: str, *args: object, timeout: float | None = ...) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: object, timeout: float | None = ...) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: object, column: int = ..., timeout: float | None = ...) -> Any: ...

    def is_in_transaction(self) -> bool: ...


class PoolStatements:
    """Statements that are each their own transaction, each on whichever of `pool`'s connections is free,
    taken for that statement alone (asyncpg's `Pool.fetch` and the like). Work that waits between its
    statements (order_api's creates, queued to share another create's statement: order_api/store/
    gathering.py) then holds no connection while it waits, so the pool's connections serve statements
    only, not waiting (bench/README.md, "Tenth round")."""

    def __init__(self, pool: "asyncpg.Pool[asyncpg.Record]") -> None:
        self.execute = pool.execute
        self.executemany = pool.executemany
        self.fetch = pool.fetch
        self.fetchrow = pool.fetchrow
        self.fetchval = pool.fetchval

    def is_in_transaction(self) -> bool:
        return False


# Every session a service opens compresses the large values it writes (an order's document, an outbox
# row's body, a webhook message's payload: over the 2 kB at which Postgres compresses) with lz4 instead
# of the default pglz: about 15 % less Postgres CPU per order insert, and faster to read back
# (bench/README.md, "Seventh round"). Values already stored keep their method; each is read with its own.
# And no JIT compilation: the services' statements are short, and a generous estimate (a claim's, with a
# large backlog) is enough to pass `jit_above_cost` and spend 10-250 ms compiling a statement that then
# runs in one (bench/README.md, "Eighth round").
SESSION_SETTINGS: Final = {"default_toast_compression": "lz4", "jit": "off"}


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection goes back to the pool as it is, without asyncpg's default reset query
    (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`): a round trip on every release, a
    tenth of the services' round trips. asyncpg still rolls back a transaction left open and drops the
    connection's listener callbacks. Code that changes a pooled connection's session (a session
    advisory lock, SET, LISTEN) undoes it before releasing it, as the migrations and the LISTEN loops
    (outbox relay, work queues) do; a connection that broke meanwhile is closed, not pooled."""


async def create_pool(dsn: str, schema: str, *, max_size: int = 10, wait_seconds: float = 60.0) -> asyncpg.Pool:
    """A pool whose connections see only `schema`; waits for Postgres to accept connections."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=2,
                max_size=max_size,
                init=_init_connection,
                reset=_keep_session,
                server_settings={"search_path": schema, "application_name": schema, **SESSION_SETTINGS},
            )
        except (OSError, asyncpg.CannotConnectNowError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("database not reachable yet, retrying", error=str(error))
            await asyncio.sleep(1.0)


def rows_affected(status: str) -> int:
    """The rows a statement touched, from its command status (`UPDATE 3`, `DELETE 0`, `INSERT 0 1`)."""
    return int(status.rsplit(" ", 1)[-1])


# Errors that mean "the database is not there right now", not "this event is bad".
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
