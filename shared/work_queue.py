"""A work queue in Postgres: claim due items under a lease, process each in a task of its own, settle.

The pattern every background sender shares (the webhook dispatcher's deliveries; refunds and erasures
next):
- **Claim.** Items are rows. A claim takes due ones with `FOR UPDATE SKIP LOCKED`, so any number of
  instances share the backlog, and pushes each one's `next_attempt_at` a lease into the future: an
  item claimed by an instance that died is claimed again once its lease has run out.
- **Wake.** The claim loop sleeps until a NOTIFY on the queue's channel (a new or requeued item), a
  finished item, or the poll interval, whichever comes first; a dropped LISTEN connection is
  re-opened. A service that hands items to its own queue as it writes them (`add`) can say which
  NOTIFYs announce only those (`notified`), and after which finished items no claim can find more
  (`finished`), so they cost no claim.
- **Process.** Each claimed item is processed by a task of its own, at most `concurrency` at once;
  the loop never waits for one, so a slow item holds up only itself.
- **Settle.** Processing ends in an `Outcome`: done, failed for good, or pending again after a delay.
- **Outages.** While the database is away, claims and settlements fail; they are logged and waited
  out. An item whose settlement failed keeps its lease and is claimed again when it runs out.
  Delivery is therefore at least once: an item's effect must be idempotent.

Two layers. `WorkQueue` runs that loop over a `claim` and a `process` of the caller's: a service whose
claim has rules of its own (the dispatcher's per-endpoint caps and ordered endpoints) brings its own
SQL. `QueueTable` is the SQL for a table of the conventional shape, and `table_queue` joins the two,
so a worker only handles an item and says how it went.
"""

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import Final, Generic, Literal, TypeVar

import asyncpg

from shared.db import TRANSIENT_DB_ERRORS, Connection
from shared.logging import get_logger
from shared.retries import next_delay

log = get_logger(__name__)

ItemT = TypeVar("ItemT")

# After a wake-up, a moment more, so a burst of wake-ups (a NOTIFY per committed item, a finished item
# each) makes one claim instead of one each.
COALESCE_SECONDS: Final = 0.002
# How long a LISTEN connection that dropped waits before it is opened again.
RELISTEN_SECONDS: Final = 1.0


def _no_fields(_: object) -> Mapping[str, object]:
    return {}


def _always(_: object) -> bool:
    return True


@dataclass(eq=False)
class WorkQueue(Generic[ItemT]):
    """Claims items with `claim(limit)` and processes each with `process(item)`, which settles it.

    `claim` runs its own transaction and returns at most `limit` items, already leased; `process`
    must finish within the lease (or the item is claimed again meanwhile). At most `concurrency` items
    are in hand at once, at most `batch_size` claimed at a time; the loop claims again on a NOTIFY on
    `channel`, a finished item, or every `poll_interval` seconds. What a claim or an item raises is
    logged, with `describe(item)`'s fields and the queue's `name`, and never stops the queue: a
    database error as an outage to wait out, anything else as a bug, with its stack. `run()` returns
    only when cancelled, after cancelling the items in hand (their leases bring them back).
    """

    pool: asyncpg.Pool
    _: KW_ONLY
    name: str
    channel: str
    claim: Callable[[int], Awaitable[Sequence[ItemT]]]
    process: Callable[[ItemT], Awaitable[None]]
    concurrency: int
    batch_size: int
    poll_interval: float
    describe: Callable[[ItemT], Mapping[str, object]] = _no_fields
    # Told each NOTIFY's payload, and each item processed: whether it calls for a claim (each does,
    # unless these say not).
    notified: Callable[[str], bool] = _always
    finished: Callable[[ItemT], bool] = _always
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def in_flight(self) -> int:
        """Items claimed by this queue and not yet settled."""
        return len(self._tasks)

    def wake(self) -> None:
        """Claim again now (something made items due that no NOTIFY announces)."""
        self._wake.set()

    def add(self, item: ItemT) -> None:
        """Process an item claimed some other way (leased already), as one `claim` returned."""
        task = asyncio.create_task(self._process_safely(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name=f"{self.name}-notifications")
        try:
            while True:
                self._wake.clear()
                room = min(self.concurrency - len(self._tasks), self.batch_size)
                claimed = await self._claim_safely(room) if room > 0 else []
                for item in claimed:
                    self.add(item)
                if len(claimed) < room or room <= 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                    await asyncio.sleep(COALESCE_SECONDS)
        finally:
            listener.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)

    async def _claim_safely(self, limit: int) -> Sequence[ItemT]:
        try:
            return await self.claim(limit)
        except TRANSIENT_DB_ERRORS as error:
            log.warning("work queue cannot claim: the database is unreachable", queue=self.name, error=str(error))
        except Exception:  # a bug must not stop the queue; the next wake-up tries again
            log.exception("work queue claim failed", queue=self.name)
        return ()

    async def _process_safely(self, item: ItemT) -> None:
        try:
            await self.process(item)
        except TRANSIENT_DB_ERRORS as error:
            log.warning(
                "work item not settled: the database is unreachable; its lease brings it back",
                queue=self.name,
                error=str(error),
                **self.describe(item),
            )
        except Exception:  # a bug must not stop the queue; the lease brings the item back
            log.exception("work item crashed; its lease brings it back", queue=self.name, **self.describe(item))
        finally:
            if self.finished(item):
                self._wake.set()

    async def _listen(self) -> None:
        """Wake the claim loop on every NOTIFY; open the connection again when it drops."""
        while True:
            try:
                await self._listen_once()
            except TRANSIENT_DB_ERRORS as error:
                log.warning("work queue notifications interrupted", queue=self.name, error=str(error))
            except Exception:  # the poll fallback keeps the queue going meanwhile
                log.exception("work queue notifications failed", queue=self.name)
            await asyncio.sleep(RELISTEN_SECONDS)

    async def _listen_once(self) -> None:
        def wake(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            if self.notified(str(payload)):
                self._wake.set()

        lost = asyncio.Event()
        async with self.pool.acquire() as conn:
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener(self.channel, wake)
            try:
                await lost.wait()
            finally:
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    await conn.remove_listener(self.channel, wake)


# ---- the conventional table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """How processing an item ended: `done`, `failed` for good, or `pending` again after `retry_in`."""

    status: Literal["done", "pending", "failed"]
    retry_in: timedelta | None = None

    @classmethod
    def done(cls) -> "Outcome":
        return cls("done")

    @classmethod
    def failed(cls) -> "Outcome":
        return cls("failed")

    @classmethod
    def retry(cls, after: timedelta) -> "Outcome":
        return cls("pending", after)

    @classmethod
    def retry_on_schedule(cls, attempts_made: int, schedule: Sequence[float]) -> "Outcome":
        """Pending again after the schedule's next delay (with jitter); failed once it is spent."""
        delay = next_delay(attempts_made, schedule)
        return cls.failed() if delay is None else cls.retry(delay)


_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class QueueTable:
    """The SQL of a work-item table in the queue's shape, in the service's own schema:

        CREATE TABLE <name> (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
            attempts         integer NOT NULL DEFAULT 0,
            next_attempt_at  timestamptz NOT NULL DEFAULT now(),
            ...              the item's own columns
        );
        CREATE INDEX <name>_due ON <name> (next_attempt_at) WHERE status = 'pending';

    Add items with a plain INSERT and call `notify` in the same transaction (the NOTIFY goes out on
    commit); requeue one by setting it `pending` and due, and notify likewise.
    """

    name: str
    channel: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(f"{self.name!r} is not a plain table name")

    async def claim(self, conn: Connection, limit: int, lease: timedelta) -> list[asyncpg.Record]:
        """Up to `limit` due items, oldest due first, each leased for `lease` and its `attempts`
        counting this one. Run it in a transaction."""
        return await conn.fetch(
            f"""UPDATE {self.name} AS item SET attempts = item.attempts + 1, next_attempt_at = now() + $2::interval
                FROM (SELECT id FROM {self.name} WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) AS due
                WHERE item.id = due.id
                RETURNING item.*""",
            limit,
            lease,
        )

    async def settle(self, conn: Connection, item: asyncpg.Record, outcome: Outcome) -> bool:
        """Record how the claimed `item` ended. Whether it applied: not when the item's lease ran out
        and another claim took it meanwhile (that claim settles it)."""
        settled = await conn.fetchval(
            f"""UPDATE {self.name} SET status = $3,
                    next_attempt_at = CASE WHEN $4::interval IS NULL THEN next_attempt_at ELSE now() + $4::interval END
                WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING true""",
            item["id"],
            item["attempts"],
            outcome.status,
            outcome.retry_in,
        )
        return bool(settled)

    async def notify(self, conn: Connection) -> None:
        """Wake the queues claiming from this table (on commit, when in a transaction)."""
        await conn.execute("SELECT pg_notify($1, '')", self.channel)


FollowUp = Callable[[Connection, asyncpg.Record, Outcome], Awaitable[None]]


def table_queue(
    pool: asyncpg.Pool,
    table: QueueTable,
    handle: Callable[[asyncpg.Record], Awaitable[Outcome]],
    *,
    lease: timedelta,
    concurrency: int = 10,
    batch_size: int = 100,
    poll_interval: float = 1.0,
    follow_up: FollowUp | None = None,
) -> WorkQueue[asyncpg.Record]:
    """A queue over `table`: each claimed row goes to `handle`, whose `Outcome` is then settled.

    `handle` gets at most the lease to finish (then it is cancelled, and the row is claimed again);
    `follow_up`, when given, runs in the settlement's transaction (an event to publish when an item
    failed for good, say), and only when the settlement applied.
    """

    async def claim(limit: int) -> list[asyncpg.Record]:
        async with pool.acquire() as conn, conn.transaction():
            return await table.claim(conn, limit, lease)

    async def process(row: asyncpg.Record) -> None:
        async with asyncio.timeout(lease.total_seconds()):
            outcome = await handle(row)
        async with pool.acquire() as conn, conn.transaction():
            settled = await table.settle(conn, row, outcome)
            if settled and follow_up is not None:
                await follow_up(conn, row, outcome)
        if not settled:
            log.warning(
                "work item settled after its lease ran out: left to the claim that took it",
                table=table.name,
                item_id=row["id"],
            )

    return WorkQueue(
        pool,
        name=table.name,
        channel=table.channel,
        claim=claim,
        process=process,
        concurrency=concurrency,
        batch_size=batch_size,
        poll_interval=poll_interval,
        describe=lambda row: {"item_id": row["id"]},
    )
