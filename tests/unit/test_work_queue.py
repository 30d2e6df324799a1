"""The shared work queue's loop (shared/work_queue.py) in memory: whatever a claim, an item or the
LISTEN connection raises is logged and waited out, never the end of the queue."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import cast

import asyncpg
import pytest
from structlog.testing import capture_logs

from shared.work_queue import WorkQueue
from tests.support.polling import eventually
from tests.support.tasks import running


class _UnreachablePool:
    """A pool whose database is away: the queue's LISTEN connection never opens."""

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        raise OSError("connection refused")
        yield


class _Backlog:
    """Items to claim, with the failures to play first."""

    def __init__(self, items: Sequence[str], claim_failures: Sequence[Exception] = ()) -> None:
        self.items = list(items)
        self.claim_failures = list(claim_failures)
        self.processed: list[str] = []

    async def claim(self, limit: int) -> list[str]:
        if self.claim_failures:
            raise self.claim_failures.pop(0)
        claimed, self.items = self.items[:limit], self.items[limit:]
        return claimed

    async def process(self, item: str) -> None:
        if item.startswith("raise:"):
            raise {"raise:outage": ConnectionResetError("gone"), "raise:bug": KeyError("oops")}[item]
        self.processed.append(item)


def _queue(backlog: _Backlog, *, concurrency: int = 10, batch_size: int = 10) -> WorkQueue[str]:
    return WorkQueue(
        cast(asyncpg.Pool, _UnreachablePool()),
        name="tests",
        channel="tests.items",
        claim=backlog.claim,
        process=backlog.process,
        concurrency=concurrency,
        batch_size=batch_size,
        poll_interval=0.01,
        describe=lambda item: {"item": item},
    )


async def _processed(backlog: _Backlog) -> list[str]:
    return backlog.processed


async def test_claims_during_an_outage_are_logged_and_retried_and_a_bug_does_not_stop_the_queue() -> None:
    backlog = _Backlog(["a", "b"], claim_failures=[OSError("connection refused"), ValueError("a bug")])

    with capture_logs() as logs:
        async with running(_queue(backlog).run()):
            await eventually(
                lambda: _processed(backlog), lambda done: sorted(done) == ["a", "b"], timeout=5, interval=0.01
            )

    events = [(entry["event"], entry["log_level"]) for entry in logs]
    assert ("work queue cannot claim: the database is unreachable", "warning") in events
    assert ("work queue claim failed", "error") in events
    assert ("work queue notifications interrupted", "warning") in events  # polling carried on meanwhile


async def test_an_item_that_cannot_be_settled_or_crashes_is_logged_and_the_others_go_on() -> None:
    backlog = _Backlog(["raise:outage", "raise:bug", "a", "b"])

    with capture_logs() as logs:
        async with running(_queue(backlog, batch_size=1).run()):
            await eventually(
                lambda: _processed(backlog), lambda done: sorted(done) == ["a", "b"], timeout=5, interval=0.01
            )

    failures = {entry["item"]: (entry["event"], entry["log_level"]) for entry in logs if "item" in entry}
    assert failures == {
        "raise:outage": ("work item not settled: the database is unreachable; its lease brings it back", "warning"),
        "raise:bug": ("work item crashed; its lease brings it back", "error"),
    }


class _HeldBacklog(_Backlog):
    """Items that stay in hand until released; notes how many each claim asked for."""

    def __init__(self, items: Sequence[str]) -> None:
        super().__init__(items)
        self.asked: list[int] = []
        self.release = asyncio.Event()

    async def claim(self, limit: int) -> list[str]:
        self.asked.append(limit)
        return await super().claim(limit)

    async def process(self, item: str) -> None:
        await self.release.wait()
        self.processed.append(item)


@pytest.mark.parametrize(("concurrency", "batch_size"), [(3, 10), (10, 2)])
async def test_a_claim_asks_for_no_more_than_the_room_left(concurrency: int, batch_size: int) -> None:
    backlog = _HeldBacklog([f"item-{n}" for n in range(20)])
    queue = _queue(backlog, concurrency=concurrency, batch_size=batch_size)

    async with running(queue.run()):
        await eventually(
            lambda: asyncio.sleep(0, queue.in_flight), lambda n: n == concurrency, timeout=5, interval=0.01
        )
        await asyncio.sleep(0.05)
        in_hand = queue.in_flight
        backlog.release.set()
        await eventually(lambda: _processed(backlog), lambda done: len(done) == 20, timeout=5, interval=0.01)

    assert in_hand == concurrency
    assert max(backlog.asked) == min(concurrency, batch_size)
