"""The shared work queue (shared/work_queue.py) against real Postgres, on a table of its conventional
shape in a scratch schema: NOTIFY wakes it, outcomes are settled, instances share the backlog without
overlap, a lease that ran out is taken over, and a dropped LISTEN connection is opened again."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest

from shared.db import Connection
from shared.work_queue import Outcome, QueueTable, table_queue
from tests.support.polling import eventually
from tests.support.tasks import running

JOBS = QueueTable("jobs", "scratch.jobs")
LEASE = timedelta(seconds=30)
# Far longer than any test waits: whatever is processed promptly was woken by a NOTIFY.
NO_POLLING = 60.0


@pytest.fixture
async def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    async with scratch_pool.acquire() as conn:
        await conn.execute(
            """CREATE TABLE jobs (
                   id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                   status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
                   attempts         integer NOT NULL DEFAULT 0,
                   next_attempt_at  timestamptz NOT NULL DEFAULT now(),
                   name             text NOT NULL);
               CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE status = 'pending';
               CREATE TABLE job_log (name text NOT NULL, outcome text NOT NULL)"""
        )
    return scratch_pool


async def _add(pool: asyncpg.Pool, *names: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany("INSERT INTO jobs (name) VALUES ($1)", [(name,) for name in names])
        await JOBS.notify(conn)


async def _jobs(pool: asyncpg.Pool) -> dict[str, tuple[str, int]]:
    rows = await pool.fetch("SELECT name, status, attempts FROM jobs")
    return {row["name"]: (row["status"], row["attempts"]) for row in rows}


def _all_done(jobs: dict[str, tuple[str, int]]) -> bool:
    return all(status == "done" for status, _ in jobs.values())


def _handler(outcomes: Callable[[asyncpg.Record], Outcome]) -> Callable[[asyncpg.Record], Awaitable[Outcome]]:
    async def handle(row: asyncpg.Record) -> Outcome:
        return outcomes(row)

    return handle


async def test_a_notified_item_is_processed_at_once_and_settled(pool: asyncpg.Pool) -> None:
    queue = table_queue(pool, JOBS, _handler(lambda _: Outcome.done()), lease=LEASE, poll_interval=NO_POLLING)

    async with running(queue.run()):
        await asyncio.sleep(0.2)  # the queue is listening, idle
        await _add(pool, "a", "b")
        jobs = await eventually(lambda: _jobs(pool), lambda found: len(found) == 2 and _all_done(found), timeout=5)

    assert jobs == {"a": ("done", 1), "b": ("done", 1)}


async def test_retries_wait_their_delay_and_a_failure_is_final(pool: asyncpg.Pool) -> None:
    tries: Counter[str] = Counter()

    def outcome(row: asyncpg.Record) -> Outcome:
        tries[row["name"]] += 1
        if row["name"] == "flaky":
            return Outcome.retry(timedelta(milliseconds=200)) if row["attempts"] < 3 else Outcome.done()
        return Outcome.failed()

    queue = table_queue(pool, JOBS, _handler(outcome), lease=LEASE, poll_interval=0.05)
    await _add(pool, "flaky", "broken")
    async with running(queue.run()):
        await eventually(lambda: _jobs(pool), lambda found: found["flaky"] == ("done", 3), timeout=10)
        await asyncio.sleep(0.3)  # a failed item is never claimed again

    assert await _jobs(pool) == {"flaky": ("done", 3), "broken": ("failed", 1)}
    assert tries == {"flaky": 3, "broken": 1}


async def test_a_retry_on_a_spent_schedule_fails(pool: asyncpg.Pool) -> None:
    on_schedule = _handler(lambda row: Outcome.retry_on_schedule(row["attempts"], [0.05, 0.05]))
    queue = table_queue(pool, JOBS, on_schedule, lease=LEASE, poll_interval=0.05)
    await _add(pool, "doomed")
    async with running(queue.run()):
        jobs = await eventually(lambda: _jobs(pool), lambda found: found["doomed"][0] == "failed", timeout=10)

    assert jobs == {"doomed": ("failed", 3)}


async def test_instances_share_the_backlog_and_never_process_an_item_twice(pool: asyncpg.Pool) -> None:
    handled: Counter[str] = Counter()

    async def handle(row: asyncpg.Record) -> Outcome:
        handled[row["name"]] += 1
        await asyncio.sleep(0.01)
        return Outcome.done()

    names = [f"job-{n}" for n in range(200)]
    await _add(pool, *names)
    queues = [table_queue(pool, JOBS, handle, lease=LEASE, batch_size=7, concurrency=5) for _ in range(3)]
    async with running(queues[0].run()), running(queues[1].run()), running(queues[2].run()):
        await eventually(lambda: _jobs(pool), _all_done)

    assert handled == dict.fromkeys(names, 1)


async def test_at_most_concurrency_items_are_in_hand_at_once(pool: asyncpg.Pool) -> None:
    in_hand, most = 0, 0

    async def handle(_: asyncpg.Record) -> Outcome:
        nonlocal in_hand, most
        in_hand += 1
        most = max(most, in_hand)
        await asyncio.sleep(0.05)
        in_hand -= 1
        return Outcome.done()

    await _add(pool, *(f"job-{n}" for n in range(20)))
    queue = table_queue(pool, JOBS, handle, lease=LEASE, concurrency=3, poll_interval=0.05)
    async with running(queue.run()):
        await eventually(lambda: _jobs(pool), _all_done)

    assert most == 3


async def test_an_item_whose_lease_ran_out_is_taken_over_and_the_late_settlement_ignored(pool: asyncpg.Pool) -> None:
    await _add(pool, "orphan")
    async with pool.acquire() as conn, conn.transaction():  # an instance claims it, then dies
        [abandoned] = await JOBS.claim(conn, 10, timedelta(milliseconds=300))
    queue = table_queue(pool, JOBS, _handler(lambda _: Outcome.done()), lease=LEASE, poll_interval=0.05)

    async with running(queue.run()):
        jobs = await eventually(lambda: _jobs(pool), lambda found: found["orphan"][0] == "done", timeout=5)
    async with pool.acquire() as conn:
        late = await JOBS.settle(conn, abandoned, Outcome.failed())

    assert jobs == {"orphan": ("done", 2)}
    assert late is False
    assert await _jobs(pool) == {"orphan": ("done", 2)}


async def test_a_follow_up_runs_in_the_settlements_transaction(pool: asyncpg.Pool) -> None:
    async def log_failures(conn: Connection, row: asyncpg.Record, outcome: Outcome) -> None:
        await conn.execute("INSERT INTO job_log (name, outcome) VALUES ($1, $2)", row["name"], outcome.status)

    outcomes = {"good": Outcome.done(), "bad": Outcome.failed()}
    queue = table_queue(pool, JOBS, _handler(lambda row: outcomes[row["name"]]), lease=LEASE, follow_up=log_failures)
    await _add(pool, "good", "bad")
    async with running(queue.run()):
        await eventually(lambda: _jobs(pool), lambda found: found == {"good": ("done", 1), "bad": ("failed", 1)})

    assert sorted(tuple(row) for row in await pool.fetch("SELECT name, outcome FROM job_log")) == [
        ("bad", "failed"),
        ("good", "done"),
    ]


async def test_notifications_resume_after_the_listening_connection_is_dropped(pool: asyncpg.Pool) -> None:
    queue = table_queue(pool, JOBS, _handler(lambda _: Outcome.done()), lease=LEASE, poll_interval=NO_POLLING)
    schema = await pool.fetchval("SELECT current_schema()")

    async def listener_dropped() -> int:
        return len(
            await pool.fetch(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE application_name = $1 AND query LIKE 'LISTEN%'""",
                schema,
            )
        )

    async with running(queue.run()):
        await eventually(listener_dropped, lambda dropped: dropped == 1, timeout=5, interval=0.05)
        await asyncio.sleep(1.5)  # the queue opens another LISTEN connection after a second
        await _add(pool, "after")
        jobs = await eventually(lambda: _jobs(pool), lambda found: found == {"after": ("done", 1)}, timeout=5)

    assert jobs == {"after": ("done", 1)}
