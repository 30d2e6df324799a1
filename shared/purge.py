"""Deleting what has expired in batches, so a purge never blocks the service's writers.

`purge_in_batches` deletes the rows of a table that match a condition, at most `batch_rows` per
statement, each statement its own short transaction: the rows it takes are locked with `FOR UPDATE
SKIP LOCKED`, so a row a writer (or an erasure) holds is left for the next run rather than waited for,
and any number of instances purge side by side, each taking rows the others have not. The rows are
found through the condition's index and deleted by `ctid` (a TID scan), so a batch costs about as much
as the rows it deletes, however large the table. Every deleted row is counted per table in
`retention_rows_deleted_total`; each job's last completed run is `retention_last_run_timestamp_seconds`.
"""

import time
from typing import Final

import asyncpg
from prometheus_client import Counter, Gauge

from shared.db import Statements, rows_affected

DELETED: Final = Counter("retention_rows_deleted_total", "Rows deleted by retention jobs", ["table"])
LAST_RUN: Final = Gauge(
    "retention_last_run_timestamp_seconds", "When a retention job last completed, Unix time", ["job"]
)


async def purge_in_batches(
    db: "asyncpg.Pool | Statements", table: str, condition: str, *args: object, batch_rows: int
) -> int:
    """Delete the rows of `table` (a name of ours, never input) matching the SQL `condition` (its
    parameters `$1`... are `args`; a fixed cutoff, not `now()`, so the run ends), `batch_rows` at a
    time, each batch committed on its own (`db` is a pool, or a connection outside a transaction),
    until a batch finds fewer; how many."""
    limit = f"${len(args) + 1}"
    statement = (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {table} WHERE {condition} LIMIT {limit} FOR UPDATE SKIP LOCKED))"
    )
    deleted = 0
    while True:
        batch = rows_affected(await db.execute(statement, *args, batch_rows))
        deleted += batch
        DELETED.labels(table).inc(batch)
        if batch < batch_rows:
            return deleted


def completed(job: str) -> None:
    """Note that `job` completed a run now."""
    LAST_RUN.labels(job).set(time.time())
