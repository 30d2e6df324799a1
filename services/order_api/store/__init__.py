"""order_api's SQL, one module per table family: orders (`orders`, `order_filters`, their counts by
status `order_counts`), the catalog and customers (`catalog`), the HTTP guards (`http_guards`), the
cancellation reference data (`reference_data`), an anonymized order's copies elsewhere (`erasure`), a
customer's erasure (`customer_erasure`). Nothing else touches these tables; each returns domain types
and decides no rule.

`PostgresDatabase` opens them for the use cases (service/), as service/ports.py describes;
`InTransaction` hands the use cases a transaction already open (the ingest consumer's).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.order_api.store.catalog import CustomerRows, VariantRows
from services.order_api.store.customer_erasure import CustomerErasureRows
from services.order_api.store.erasure import ErasureRows
from services.order_api.store.http_guards import HttpGuardRows
from services.order_api.store.orders import Gatherings, OrderRows
from services.order_api.store.reference_data import ReferenceRows
from shared.db import Connection, PoolStatements, Statements
from shared.events import Event
from shared.outbox import enqueue


class OutboxRows:
    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def enqueue(self, topic: str, event: Event) -> None:
        await enqueue(self.conn, topic, event)


class PostgresTables:
    """Every table family through one connection, or through the pool's a statement at a time."""

    def __init__(self, conn: Statements, gatherings: Gatherings | None = None) -> None:
        self.orders = OrderRows(conn, gatherings)
        self.catalog = VariantRows(conn)
        self.customers = CustomerRows(conn)
        self.http_guards = HttpGuardRows(conn)
        self.reference_data = ReferenceRows(conn)
        self.erasures = ErasureRows(conn)
        self.customer_erasures = CustomerErasureRows(conn)
        self.outbox = OutboxRows(conn)


class PostgresDatabase:
    """The tables on the service's pool: a transaction on one of its connections, or statements that are
    each their own transaction, each on whichever connection is free for that statement alone; what
    creates send together (their ids' draws, their new orders' inserts) sent with the other creates
    sharing `gatherings` (one per process: gathering.py), else alone."""

    def __init__(self, pool: asyncpg.Pool, gatherings: Gatherings | None = None) -> None:
        self.pool = pool
        self.gatherings = gatherings
        self._statements = PoolStatements(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTables]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresTables(conn, self.gatherings)

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[PostgresTables]:
        yield PostgresTables(self._statements, self.gatherings)


class InTransaction:
    """The tables inside a transaction the caller opened and will commit (the idempotent consumer's,
    whose processed-event record commits with the change)."""

    def __init__(self, conn: Connection) -> None:
        self.tables = PostgresTables(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTables]:
        yield self.tables

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[PostgresTables]:
        yield self.tables
