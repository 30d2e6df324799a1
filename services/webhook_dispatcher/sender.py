"""Delivery: claim due messages, POST them signed, settle each by the answer.

Any number of senders (tasks or processes) share the backlog through `claim_due`'s SKIP LOCKED.
Delivery is at-least-once: `webhook-id` is the event id, stable across retries, so receivers can
drop repeats.
"""

import asyncio
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime

import asyncpg
import httpx
from prometheus_client import Counter, Histogram

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import next_delay, sign
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.logging import CORRELATION_HEADER, get_logger

log = get_logger(__name__)

DELIVERIES = Counter("webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("webhook_attempt_duration_seconds", "Webhook request latency")

_EXCERPT_BYTES = 1024
# A subscriber's Retry-After is honoured within these bounds, so neither a zero nor a week stalls us.
_RETRY_AFTER_MIN = timedelta(seconds=1)
_RETRY_AFTER_MAX = timedelta(hours=1)


class Sender:
    def __init__(self, pool: asyncpg.Pool, settings: DispatcherSettings, client: httpx.AsyncClient) -> None:
        self._pool = pool
        self._settings = settings
        self._client = client
        self._slots = asyncio.Semaphore(settings.sender_concurrency)
        # A claimed message is re-claimable once its request can no longer be running.
        self._lease = timedelta(seconds=settings.total_timeout_seconds + 30)

    async def run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    claimed = await store.claim_due(conn, self._settings.sender_batch_size, self._lease)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("cannot claim webhook messages", error=str(error))
                claimed = []
            if not claimed:
                await asyncio.sleep(self._settings.sender_poll_interval_seconds)
                continue
            await asyncio.gather(*(self._deliver_in_slot(delivery) for delivery in claimed))

    async def _deliver_in_slot(self, delivery: store.Delivery) -> None:
        async with self._slots:
            await self.deliver(delivery)

    async def deliver(self, delivery: store.Delivery) -> None:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": str(delivery.event_id),
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(delivery.secret, str(delivery.event_id), timestamp, delivery.payload),
            "webhook-event-type": delivery.event_type,
        }
        if delivery.correlation_id:
            headers[CORRELATION_HEADER] = delivery.correlation_id
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        excerpt: str | None = None
        retry_after: timedelta | None = None
        try:
            async with asyncio.timeout(self._settings.total_timeout_seconds):
                response = await self._client.post(delivery.url, content=delivery.payload, headers=headers)
            status = response.status_code
            excerpt = response.content[:_EXCERPT_BYTES].decode("utf-8", "replace")
            retry_after = _retry_after(response.headers.get("retry-after"))
        except TimeoutError:
            error = f"no response within {self._settings.total_timeout_seconds} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        LATENCY.observe(elapsed)
        outcome, retry_in = self._settle(delivery.attempt, status, retry_after)
        DELIVERIES.labels(outcome if status is None or outcome != "pending" else "retry").inc()
        async with self._pool.acquire() as conn, conn.transaction():
            await store.record_attempt(
                conn,
                delivery,
                response_status=status,
                latency_ms=round(elapsed * 1000),
                error=error,
                response_excerpt=excerpt,
                outcome=outcome,
                retry_in=retry_in,
            )
            if status == 410:
                await store.disable_endpoint(conn, delivery.endpoint_id)
        log.info(
            "webhook attempt",
            event_id=str(delivery.event_id),
            endpoint_id=str(delivery.endpoint_id),
            attempt=delivery.attempt,
            response_status=status,
            error=error,
            outcome=outcome,
        )

    def _settle(self, attempt: int, status: int | None, retry_after: timedelta | None) -> tuple[str, timedelta | None]:
        """(message status, wait before the next try) for an attempt's answer."""
        if status is not None and 200 <= status < 300:
            return "delivered", None
        if status == 410:  # the subscriber says the endpoint is gone for good
            return "failed", None
        delay = next_delay(attempt, self._settings.retry_schedule_seconds)
        if delay is None:
            return "failed", None
        if status in (429, 503) and retry_after is not None:
            delay = min(max(retry_after, _RETRY_AFTER_MIN), _RETRY_AFTER_MAX)
        return "pending", delay


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        try:
            return timedelta(seconds=int(text))
        except OverflowError:  # more seconds than a timedelta holds: the longest wait we honour
            return _RETRY_AFTER_MAX
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - when.now(when.tzinfo), timedelta(0))
