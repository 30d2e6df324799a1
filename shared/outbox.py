"""Transactional outbox: write an event with the change that caused it, publish it afterwards.

`enqueue` runs inside the caller's transaction, so the change and its event commit or vanish
together. `OutboxRelay` publishes committed rows in id order. One instance per service leads, under
a lease on a row of the service's own schema (`outbox_leader`) that it renews while it leads; the
others stand by and take over once the lease runs out (at once when the leader stops cleanly).

A row Kafka refuses for good (over the topic's size limit, say) is parked in `outbox_dead_letters`
with the error, counted and logged, so it never blocks the rows behind it; every other row of a batch
is marked sent when the broker acknowledged it and no row before it failed for a passing reason.
"""

import asyncio
import collections
import contextlib
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Final

import asyncpg
from aiokafka.errors import InvalidTopicError, KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from prometheus_client import Counter, Gauge

from shared.db import TRANSIENT_DB_ERRORS, Connection, Statements
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.logging import get_logger
from shared.tracing import outgoing_event_headers

log = get_logger(__name__)

PUBLISHED = Counter("outbox_events_published_total", "Outbox events published to Kafka", ["topic"])
PARKED = Counter(
    "outbox_events_parked_total", "Outbox events Kafka refused for good, moved to outbox_dead_letters", ["topic"]
)
PENDING = Gauge("outbox_events_pending", "Outbox rows not published yet")
OLDEST_PENDING_AGE = Gauge(
    "outbox_oldest_pending_age_seconds", "How long the oldest outbox row not published yet has waited (0: none)"
)

# Passes start at most this often: a pass (two queries and a produce request) costs about as much CPU
# for one row as for ten, and so does what each pass sets off downstream (every consumer's fetch, the
# dispatcher's batch transaction and offset commit). A row committed after a quiet spell is published at
# once; under load each pass carries what committed since the previous one started. Relaying 300
# events/s, a pass per commit took ~0.5 ms of CPU per event; passes lingering 20 ms ~0.25. Passes 50 ms
# apart against 20 ms of linger: the whole pipeline ~0.9 ms of CPU less per order at 100 orders/s
# (bench/pipeline.py), each event up to 50 ms later under load, 20 ms sooner when quiet.
PASS_SPACING_SECONDS = 0.05

# Refusals that no retry can change: the row is parked instead of retried.
_PERMANENT_KAFKA_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError)


# An outbox row's columns, in the order `outbox_values` gives them.
OUTBOX_COLUMNS: Final = "event_id, topic, key, headers, body"


def outbox_values(topic: str, event: Event) -> tuple[uuid.UUID, str, str, list[list[str]], bytes]:
    """The outbox row of `event` (OUTBOX_COLUMNS), with the current trace context (shared/tracing.py):
    the relay publishes it in the record's headers. For a store that writes the row in a statement of
    its own making (order_api's order and its event, in one round trip)."""
    headers = [[name, value] for name, value in event.header_texts()]
    headers.extend([name, value] for name, value in outgoing_event_headers(topic, str(event.id), event.subject))
    return event.id, topic, event.subject, headers, event.body()


async def enqueue(conn: Statements, topic: str, event: Event) -> None:
    """Add `event` to the outbox in the caller's transaction."""
    await conn.execute(
        f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5)", *outbox_values(topic, event)
    )


class UnsentEvents(Exception):
    """The order still has events in the outbox, older than its erasure, not yet published: erased
    now, they would never be published; left, their old payloads would outlive the receipt. Retried."""


async def erase_sent_events(conn: Statements, key: str) -> dict[str, int]:
    """Delete the published outbox rows of `key` (an order id) and its parked ones: their bodies hold
    the order's snapshots as they were. Rows per table. UnsentEvents, erasing nothing, while an unsent
    row of `key` committed before this transaction is still waiting for the relay. One statement (the
    deletes only when nothing waits), as every service's erasure takes it: three round trips had been
    a tenth of an erasure's (bench.anonymization)."""
    row = await conn.fetchrow(
        """WITH unsent AS (
               SELECT count(*) AS n FROM outbox WHERE key = $1 AND sent_at IS NULL AND created_at < now()),
           sent AS (
               DELETE FROM outbox WHERE key = $1 AND sent_at IS NOT NULL AND (SELECT n FROM unsent) = 0
               RETURNING 1),
           parked AS (
               DELETE FROM outbox_dead_letters WHERE key = $1 AND (SELECT n FROM unsent) = 0 RETURNING 1)
           SELECT (SELECT n FROM unsent) AS unsent, (SELECT count(*) FROM sent) AS sent,
                  (SELECT count(*) FROM parked) AS parked""",
        key,
    )
    assert row is not None, "one row always"
    if row["unsent"]:
        raise UnsentEvents(f"{row['unsent']} events of {key} are not published yet")
    return {"outbox": row["sent"], "outbox_dead_letters": row["parked"]}


async def export_backlog(pool: asyncpg.Pool) -> None:
    """Put the outbox's backlog on /metrics: the rows not published yet, and how long the oldest has
    waited. Every instance of a service reads the same table, so they all report the same figures."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS pending,
                  (SELECT extract(epoch FROM now() - created_at) FROM outbox
                   WHERE sent_at IS NULL ORDER BY id LIMIT 1) AS oldest_seconds"""
    )
    assert row is not None, "one row always"
    PENDING.set(row["pending"])
    OLDEST_PENDING_AGE.set(max(float(row["oldest_seconds"] or 0), 0.0))


def is_permanent(error: Exception) -> bool:
    """Whether a record that failed with `error` can never be published (anything not from Kafka is a
    record that could not even be built)."""
    return isinstance(error, _PERMANENT_KAFKA_ERRORS) or not isinstance(error, KafkaError)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        producer: EventProducer,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        lease_seconds: float = 10.0,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._producer = producer
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._channel = f"{schema}.outbox"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in flight, publish what is already committed, then return from run()."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if await self._take_lease():
                    try:
                        await self._lead()
                    finally:
                        await self._release_lease()
            except TRANSIENT_DB_ERRORS as error:
                log.warning("outbox relay lost its database connection", error=str(error))
            if not self._stopping.is_set():
                # A stand-by looks this often whether the leader's lease has run out.
                await self._sleep(min(self._poll_interval, self._lease_seconds / 3))

    # ---- leadership ----------------------------------------------------------------------------

    async def _take_lease(self) -> bool:
        """Take or renew the lease; whether this relay holds it now."""
        held = await self._pool.fetchval(
            """UPDATE outbox_leader SET holder = $1, lease_until = now() + make_interval(secs => $2)
               WHERE holder = $1 OR lease_until < now() RETURNING true""",
            self._holder,
            self._lease_seconds,
        )
        return bool(held)

    async def _release_lease(self) -> None:
        """Hand the lead over at once: a stand-by need not wait for the lease to run out."""
        with contextlib.suppress(*TRANSIENT_DB_ERRORS):
            await self._pool.execute(
                "UPDATE outbox_leader SET lease_until = '-infinity' WHERE holder = $1", self._holder
            )

    async def _keep_lease(self) -> None:
        """Renew the lease while leading; return once it is lost (taken over, or not renewable in time),
        which ends the lead."""
        renewed = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                if not await self._take_lease():
                    log.warning("outbox relay lost its lease to another instance", schema=self._schema)
                    return
                renewed = asyncio.get_running_loop().time()
            except TRANSIENT_DB_ERRORS as error:
                log.warning("outbox relay cannot renew its lease", error=str(error))
                if asyncio.get_running_loop().time() - renewed >= self._lease_seconds:
                    return

    async def _lead(self) -> None:
        log.info("outbox relay leading", schema=self._schema)
        keeping = asyncio.create_task(self._keep_lease(), name="outbox-lease")
        publishing = asyncio.create_task(self._publish_while_leading(), name="outbox-publish")
        try:
            await asyncio.wait((keeping, publishing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (keeping, publishing):
                task.cancel()
            results = await asyncio.gather(keeping, publishing, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _publish_while_leading(self) -> None:
        def wake(*_: object) -> None:
            self._wake.set()

        clock = asyncio.get_running_loop()
        async with self._pool.acquire() as conn:
            await conn.add_listener(self._channel, wake)
            # A row marked sent is only a note that it need not be sent again: a crash that loses the
            # note sends the row again, which consumers drop by event id. So the relay's commits do not
            # wait for the WAL to reach the disk (one flush less per pass); the rows themselves were
            # committed durably by the transactions that wrote them.
            await conn.execute("SET synchronous_commit = off")
            # While it relays (from a pass that found rows), writers send no NOTIFY and it passes every
            # PASS_SPACING_SECONDS. After a pass that found none it says it no longer relays, relays on
            # until every transaction older than that has ended (`horizon`: a writer that read it still
            # relaying may commit after that pass), passes once more, and then waits for a NOTIFY
            # (shared/sql/0007_outbox_quiet_while_relaying.sql).
            relaying = False
            horizon: str | None = None
            try:
                while True:
                    self._wake.clear()
                    started = clock.time()
                    try:
                        published = await self.publish_pending(conn)
                    except KafkaError as error:
                        if self._stopping.is_set():  # the rows wait for the next leader
                            return
                        log.warning("publishing failed, will retry", error=str(error))
                        await self._sleep(self._poll_interval)
                        continue
                    if self._stopping.is_set() and published < self._batch_size:
                        return
                    if published and (not relaying or horizon is not None):
                        await self._say_relaying(conn, True)
                        relaying, horizon = True, None
                    elif not published and relaying:
                        if horizon is None:
                            await self._say_relaying(conn, False)
                            # A new transaction id, drawn once that committed: higher than any writer's
                            # that read it still relaying.
                            horizon = await conn.fetchval("SELECT pg_current_xact_id()::text")
                        elif await conn.fetchval(
                            "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8", horizon
                        ):
                            relaying, horizon = False, None
                            continue  # the rows of writers that sent no NOTIFY
                    if published < self._batch_size:
                        if not relaying:
                            await self._sleep(self._poll_interval)
                        await asyncio.sleep(max(started + PASS_SPACING_SECONDS - clock.time(), 0.0))
            finally:
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    await conn.remove_listener(self._channel, wake)
                    if relaying:
                        await self._say_relaying(conn, False)
                    await conn.execute("RESET synchronous_commit")  # the pool's next user gets its session as it was

    async def _say_relaying(self, conn: Connection, relaying: bool) -> None:
        """Tell writers on the lease's row whether to NOTIFY (not while it relays)."""
        await conn.execute("UPDATE outbox_leader SET relaying = $2 WHERE holder = $1", self._holder, relaying)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    # ---- publishing ----------------------------------------------------------------------------

    async def publish_pending(self, conn: Connection) -> int:
        """Publish one batch of unsent rows in id order; mark sent those the broker acknowledged, park
        those it can never take; return how many were settled. A passing failure (Kafka away, a timeout)
        settles only the rows before it and is then raised: the next pass starts with the row that
        failed and sends every row after it again, acknowledged or not (consumers drop the copies by
        event id), so the last copy of each row on the topic comes after its predecessors' again."""
        rows = await conn.fetch(
            "SELECT id, topic, key, headers, body FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0
        outcomes = await self._send(rows)
        settled = len(rows)
        passing: Exception | None = None
        for index, outcome in enumerate(outcomes):
            if outcome is not None and not is_permanent(outcome):
                settled, passing = index, outcome
                break
        sent = [row for row, outcome in zip(rows[:settled], outcomes, strict=False) if outcome is None]
        parked = [(row, outcome) for row, outcome in zip(rows[:settled], outcomes, strict=False) if outcome is not None]
        # A crash before this commits re-sends these rows: consumers drop them by event id. Without rows
        # to park, the one UPDATE is a transaction of its own (no BEGIN and COMMIT round trips per pass).
        async with conn.transaction() if parked else contextlib.nullcontext():
            if sent:
                await conn.execute(
                    "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [row["id"] for row in sent]
                )
            for row, error in parked:
                await _park(conn, row["id"], f"{type(error).__name__}: {error}")
        for topic, count in collections.Counter(row["topic"] for row in sent).items():
            PUBLISHED.labels(topic).inc(count)
        for row, error in parked:
            PARKED.labels(row["topic"]).inc()
            log.error(
                "outbox event parked: Kafka can never take it",
                outbox_id=row["id"],
                topic=row["topic"],
                key=row["key"],
                bytes=len(row["body"]),
                error=f"{type(error).__name__}: {error}",
                table=f"{self._schema}.outbox_dead_letters",
            )
        if passing is not None:
            raise passing
        return len(sent) + len(parked)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> list[Exception | None]:
        """Each row's outcome, in order: None when acknowledged, else the error."""
        records: list[OutgoingRecord | Exception] = []
        for row in rows:
            try:
                headers = [(name, value.encode()) for name, value in row["headers"]]
                records.append(OutgoingRecord(row["topic"], row["key"].encode(), row["body"], headers))
            except (UnicodeError, ValueError, TypeError) as error:  # a row no record can be built from
                records.append(error)
        buildable = [record for record in records if isinstance(record, OutgoingRecord)]
        sent = iter(await self._producer.send_each(buildable))
        return [next(sent) if isinstance(record, OutgoingRecord) else record for record in records]


async def _park(conn: Connection, outbox_id: int, error: str) -> None:
    await conn.execute(
        """WITH parked AS (DELETE FROM outbox WHERE id = $1
                           RETURNING id, event_id, topic, key, headers, body, created_at)
           INSERT INTO outbox_dead_letters (id, event_id, topic, key, headers, body, created_at, error)
           SELECT id, event_id, topic, key, headers, body, created_at, $2 FROM parked""",
        outbox_id,
        error,
    )
