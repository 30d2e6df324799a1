"""The dispatcher's endpoint operations against real Postgres, on a scratch schema with its migrations:
the statistics read from the message and attempt rows (a window's counts, the last success and failure,
the metrics' tally of new attempts on /metrics), and the admin API's Idempotency-Keys' expiry."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.webhook_dispatcher import store
from services.webhook_dispatcher.request_keys import RequestKeys
from services.webhook_dispatcher.stats import EndpointStats
from services.webhook_dispatcher.stats_metrics import export_endpoint_stats
from shared.services import WEBHOOK_DISPATCHER
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def _endpoint(conn: asyncpg.pool.PoolConnectionProxy) -> uuid.UUID:
    row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
    endpoint_id: uuid.UUID = row["id"]
    return endpoint_id


async def _message(
    conn: asyncpg.pool.PoolConnectionProxy,
    endpoint_id: uuid.UUID,
    status: str,
    answers: list[int | None],
    *,
    age: timedelta = timedelta(minutes=5),
) -> int:
    """A message created `age` ago, settled as `status` after one attempt per answer (a minute apart,
    the last one a minute ago)."""
    event = order_event(abs(hash(uuid.uuid4())) % 10**12, 1)
    await store.insert_messages(conn, [endpoint_id], event, b"{}")
    message_id: int = await conn.fetchval(
        """UPDATE messages SET status = $3, attempts = $4, created_at = now() - $5::interval,
                  delivered_at = CASE WHEN $3 = 'delivered' THEN now() - interval '1 minute' END
           WHERE endpoint_id = $1 AND event_id = $2 RETURNING id""",
        endpoint_id,
        event.id,
        status,
        len(answers),
        age,
    )
    for index, answer in enumerate(answers):
        await conn.execute(
            """INSERT INTO attempts (message_id, attempted_at, response_status, latency_ms, error)
               VALUES ($1, now() - make_interval(mins => $2), $3, 5, $4)""",
            message_id,
            len(answers) - index,
            answer,
            None if answer else "connection refused",
        )
    return message_id


async def test_the_statistics_count_a_windows_messages_and_name_its_last_success_and_failure(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        endpoint, other = await _endpoint(conn), await _endpoint(conn)
        await _message(conn, endpoint, "delivered", [200])
        await _message(conn, endpoint, "delivered", [503, 204])  # delivered after a failure
        await _message(conn, endpoint, "failed", [500, None])  # spent: no answer the last time
        await _message(conn, endpoint, "pending", [])
        await _message(conn, endpoint, "delivered", [200], age=timedelta(days=2))  # before the default window
        await _message(conn, other, "failed", [404])

    stats = await EndpointStats(pool).of(endpoint, None, None)

    assert (stats["delivered"], stats["failed"], stats["pending"]) == (2, 1, 1)
    assert stats["last_success_status"] in (200, 204)
    assert stats["last_success_at"] < datetime.now(UTC)
    # The last failed attempt is the spent message's last, without an answer.
    assert (stats["last_failure_status"], stats["last_failure_error"]) == (None, "connection refused")
    assert stats["until"] - stats["since"] == timedelta(days=1)
    whole = await EndpointStats(pool).of(endpoint, datetime.now(UTC) - timedelta(days=3), None)
    assert whole["delivered"] == 3


def sample(name: str, endpoint: uuid.UUID, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"endpoint": str(endpoint), **labels})


async def test_the_metrics_count_each_settled_attempt_once_per_endpoint_until_it_is_deleted(
    pool: asyncpg.Pool,
) -> None:
    stats = EndpointStats(pool)
    async with pool.acquire() as conn:
        endpoint = await _endpoint(conn)
        await _message(conn, endpoint, "delivered", [200])  # before the tally starts: not counted
    await export_endpoint_stats(stats)
    assert sample("webhook_endpoint_attempts_total", endpoint, outcome="succeeded") is None

    async with pool.acquire() as conn:
        await _message(conn, endpoint, "delivered", [500, 204])
        await _message(conn, endpoint, "failed", [502])
        recent = await _message(conn, endpoint, "delivered", [200])
        # Written just now: a transaction that took a lower number may still be open, so it waits.
        await conn.execute("UPDATE attempts SET attempted_at = now() WHERE message_id = $1", recent)
    await export_endpoint_stats(stats)

    assert sample("webhook_endpoint_attempts_total", endpoint, outcome="succeeded") == 1
    assert sample("webhook_endpoint_attempts_total", endpoint, outcome="failed") == 2
    assert sample("webhook_endpoint_last_failure_status", endpoint) == 502
    last_success = sample("webhook_endpoint_last_success_timestamp_seconds", endpoint)
    assert last_success is not None
    assert last_success < datetime.now(UTC).timestamp()

    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempts SET attempted_at = attempted_at - interval '1 minute' WHERE message_id = $1", recent
        )
    await export_endpoint_stats(stats)
    await export_endpoint_stats(stats)  # nothing new: nothing counted twice
    assert sample("webhook_endpoint_attempts_total", endpoint, outcome="succeeded") == 2

    async with pool.acquire() as conn:
        await store.delete_endpoint(conn, endpoint)
    await export_endpoint_stats(stats)
    assert sample("webhook_endpoint_attempts_total", endpoint, outcome="succeeded") is None
    assert sample("webhook_endpoint_last_failure_status", endpoint) is None


async def test_expired_idempotency_keys_are_purged_and_live_ones_kept(pool: asyncpg.Pool) -> None:
    keys = RequestKeys(pool)
    assert await keys.claim_key("p", "expired", "f1", lease_seconds=60, ttl_seconds=60) is None
    assert await keys.claim_key("p", "live", "f2", lease_seconds=60, ttl_seconds=60) is None
    await keys.keep_answer("p", "live", status=201, headers=[("location", "/webhooks/x")], body=b"{}", path="/webhooks")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'expired'")

    await keys.purge(batch_rows=1)

    async with pool.acquire() as conn:
        left = await conn.fetch("SELECT key, status FROM idempotency_keys")
    assert [(row["key"], row["status"]) for row in left] == [("live", 201)]
    replayed = await keys.claim_key("p", "live", "f2", lease_seconds=60, ttl_seconds=60)
    assert replayed is not None
    assert (replayed.status, replayed.headers) == (201, [("location", "/webhooks/x")])
