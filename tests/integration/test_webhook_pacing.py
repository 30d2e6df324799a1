"""A sender's per-endpoint pacing with real Postgres and real loopback HTTP: the rate limit and the
circuit breaker (one sender in-process on a scratch schema, so nothing else shares its endpoints)."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from ipaddress import ip_network

import asyncpg
import pytest

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import generate_secret
from services.webhook_dispatcher.http_client import ConnectionPool
from services.webhook_dispatcher.safe_http import Destinations
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.workers import Sender
from shared.services import WEBHOOK_DISPATCHER
from tests.support.polling import eventually
from tests.support.receiver import WebhookReceiver
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

OPTIONS: dict[str, object] = {"description": "", "event_types": [], "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    """The dispatcher's tables in a scratch schema of their own."""
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def _running_sender(pool: asyncpg.Pool, settings: DispatcherSettings) -> asyncio.Task[None]:
    destinations = Destinations([ip_network("127.0.0.0/8")], require_https=False)

    def new_client() -> ConnectionPool:
        return ConnectionPool(destinations, connect_timeout=5.0, max_idle=settings.endpoint_concurrency)

    return asyncio.create_task(Sender(pool, settings, new_client).run())


async def _messages(pool: asyncpg.Pool, url: str, count: int, rate_limit: int | None = None) -> None:
    async with pool.acquire() as conn:
        endpoint = await store.insert_endpoint(
            conn, {**OPTIONS, "url": url, "rate_limit": rate_limit}, generate_secret()
        )
        for order_id in range(count):
            await store.insert_messages(conn, [endpoint["id"]], order_event(order_id, 1), b"{}")


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_rate_limited_endpoint_gets_at_most_its_rate(pool: asyncpg.Pool) -> None:
    settings = DispatcherSettings(sender_poll_interval_seconds=0.05)
    with WebhookReceiver() as limited, WebhookReceiver() as free:
        await _messages(pool, limited.url, 12, rate_limit=4)
        await _messages(pool, free.url, 12)
        sender = await _running_sender(pool, settings)
        try:
            await eventually(lambda: asyncio.sleep(0, len(limited.received())), lambda n: n == 12, timeout=30)
        finally:
            await _stop(sender)

    times = sorted(request.at for request in limited.received())
    # A burst of 4, then 4 per second: the 12th request leaves 2 s after the first (which arrives a
    # little late, as it opens the connection).
    assert times[-1] - times[0] >= 1.5
    assert all(times[n + 4] - times[n] >= 0.9 for n in range(4, 8))
    free_times = sorted(request.at for request in free.received())
    assert len(free_times) == 12
    assert free_times[-1] - free_times[0] < times[-1] - times[0]  # the limit is the endpoint's own


async def test_the_circuit_breaker_rests_an_endpoint_that_keeps_failing(pool: asyncpg.Pool) -> None:
    settings = DispatcherSettings(
        sender_poll_interval_seconds=0.05,
        retry_schedule_seconds=[0.05] * 20,
        breaker_failures=3,
        breaker_cooldown_seconds=1.5,
        endpoint_concurrency=1,
    )
    with WebhookReceiver() as failing:
        failing.respond = lambda _: 500
        await _messages(pool, failing.url, 1)
        sender = await _running_sender(pool, settings)
        try:
            await eventually(lambda: asyncio.sleep(0, len(failing.received())), lambda n: n >= 5, timeout=30)
        finally:
            await _stop(sender)

    times = [request.at for request in failing.received()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps[:2]) < 1.0  # retries per the (short) schedule
    assert gaps[2] >= 1.4  # then, after 3 failures in a row, the endpoint rests for the cool-down
