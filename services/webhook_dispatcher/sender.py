"""Delivery: claim due messages, POST them signed, settle each by the answer.

Any number of senders (tasks or processes) share the backlog through `claim_due`'s SKIP LOCKED.
Delivery is at-least-once: `webhook-id` is the event id, stable across retries, so receivers can
drop repeats. The claim loop never waits for a send: each claimed message is sent by a task of its
own, at most `endpoint_concurrency` at once per endpoint, so a slow subscriber holds up only its
own messages. Endpoints with a rate limit are paced, and an endpoint whose last attempts all failed
rests (circuit breaker) instead of eating slots.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import httpx
from prometheus_client import Counter, Histogram

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import (
    Answer,
    CircuitBreaker,
    Delivery,
    TokenBucket,
    parse_retry_after,
    settle,
    signatures,
)
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.db import Connection
from shared.events import Event
from shared.fields import is_header_value, make_storable
from shared.logging import CORRELATION_HEADER, get_logger, usable_correlation_id
from shared.outbox import enqueue
from shared.services import WEBHOOK_DISPATCHER
from shared.topics import WEBHOOKS_EVENTS
from shared.webhook_events import WebhookEndpointDisabledData, WebhookMessageExhaustedData

log = get_logger(__name__)

DELIVERIES = Counter("webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("webhook_attempt_duration_seconds", "Webhook request latency")

_EXCERPT_BYTES = 1024
_COALESCE_SECONDS = 0.002
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass
class _EndpointState:
    """What this instance knows of one endpoint: its connections, requests in flight, pacing, recent
    failures. Each endpoint has an HTTP client (connection pool) of its own, so a slow endpoint's
    connections are never the ones another endpoint waits for."""

    client: httpx.AsyncClient
    breaker: CircuitBreaker
    in_flight: int = 0
    bucket: TokenBucket | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)  # when its last request ended


class Sender:
    def __init__(
        self, pool: asyncpg.Pool, settings: DispatcherSettings, new_client: Callable[[], httpx.AsyncClient]
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._new_client = new_client
        # A claimed message is re-claimable once its request can no longer be running.
        self._lease = timedelta(seconds=settings.total_timeout_seconds + settings.lease_margin_seconds)
        self._endpoints: dict[uuid.UUID, _EndpointState] = {}
        self._swept_at = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="webhook-notifications")
        try:
            while True:
                self._wake.clear()
                now = time.monotonic()
                if now - self._swept_at >= self._settings.endpoint_idle_seconds / 2:
                    self._swept_at = now
                    await self._evict_idle(now)
                room = min(self._settings.sender_concurrency - len(self._tasks), self._settings.sender_batch_size)
                claimed = await self._claim(room) if room > 0 else []
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver_tracked(delivery))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if len(claimed) < room or room <= 0:
                    # Woken by a new message (NOTIFY), a finished send, or the poll interval; then a
                    # moment more, so a burst of wake-ups makes one claim instead of one each.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._settings.sender_poll_interval_seconds)
                    await asyncio.sleep(_COALESCE_SECONDS)
        finally:
            listener.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)
            await asyncio.gather(*(state.client.aclose() for state in self._endpoints.values()))

    async def _claim(self, limit: int) -> list[Delivery]:
        now, cap = time.monotonic(), self._settings.endpoint_concurrency
        # Only as many as an endpoint's own connection pool takes at once; none while it rests.
        in_flight = {
            endpoint_id: cap if state.breaker.is_open(now) else state.in_flight
            for endpoint_id, state in self._endpoints.items()
            if state.in_flight or state.breaker.is_open(now)
        }
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await store.claim_due(conn, limit, self._lease, in_flight=in_flight, per_endpoint=cap)
        except _DB_ERRORS as error:
            log.warning("cannot claim webhook messages", error=str(error))
            return []

    async def _listen(self) -> None:
        """Wake the claim loop on every NOTIFY of a new message; reconnect when the connection drops."""
        while True:
            try:
                await self._listen_once()
            except _DB_ERRORS as error:
                log.warning("webhook notifications interrupted", error=str(error))
            await asyncio.sleep(1.0)

    async def _listen_once(self) -> None:
        def wake(*_: object) -> None:
            self._wake.set()

        lost = asyncio.Event()
        async with self._pool.acquire() as conn:
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener(store.MESSAGES_CHANNEL, wake)
            try:
                await lost.wait()
            finally:
                with contextlib.suppress(*_DB_ERRORS):
                    await conn.remove_listener(store.MESSAGES_CHANNEL, wake)

    async def _evict_idle(self, now: float) -> None:
        """Free the state and connections of endpoints idle for `endpoint_idle_seconds`: among them
        every deleted one. Those with a request in flight or a resting breaker keep theirs."""
        idle = [
            endpoint_id
            for endpoint_id, state in self._endpoints.items()
            if not state.in_flight
            and not state.breaker.is_open(now)
            and now - state.last_used >= self._settings.endpoint_idle_seconds
        ]
        clients = [self._endpoints.pop(endpoint_id).client for endpoint_id in idle]
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)

    def _state(self, endpoint_id: uuid.UUID) -> _EndpointState:
        state = self._endpoints.get(endpoint_id)
        if state is None:
            state = _EndpointState(
                self._new_client(),
                CircuitBreaker(self._settings.breaker_failures, self._settings.breaker_cooldown_seconds),
            )
            self._endpoints[endpoint_id] = state
        return state

    async def _deliver_tracked(self, delivery: Delivery) -> None:
        state = self._state(delivery.endpoint_id)
        state.in_flight += 1
        try:
            await self._pace(state, delivery.rate_limit)
            await self.deliver(delivery)
        except _DB_ERRORS as error:
            # The message keeps its lease and is claimed again when it runs out.
            log.warning("cannot record a webhook attempt", message_id=delivery.message_id, error=str(error))
        except Exception:  # a bug must not kill the sender; the lease brings the message back
            log.exception("webhook delivery crashed", message_id=delivery.message_id)
        finally:
            state.in_flight -= 1
            state.last_used = time.monotonic()
            self._wake.set()

    async def _pace(self, state: _EndpointState, rate_limit: int | None) -> None:
        if rate_limit is None:
            state.bucket = None
            return
        async with state.lock:
            now = time.monotonic()
            if state.bucket is None or state.bucket.rate != rate_limit:
                state.bucket = TokenBucket(rate_limit, now)
            wait = state.bucket.wait_for_token(now)
        if wait > 0:
            await asyncio.sleep(wait)

    async def deliver(self, delivery: Delivery) -> None:
        """Send one claimed message and settle it by the answer."""
        started = time.perf_counter()
        answer = await self._post(delivery)
        elapsed = time.perf_counter() - started
        LATENCY.observe(elapsed)
        outcome, retry_in = settle(
            delivery.attempt, answer.status, answer.retry_after, self._settings.retry_schedule_seconds
        )
        DELIVERIES.labels(outcome if answer.status is None or outcome != "pending" else "retry").inc()
        self._state(delivery.endpoint_id).breaker.record(outcome == "delivered", time.monotonic())
        async with self._pool.acquire() as conn, contextlib.AsyncExitStack() as scope:
            if outcome != "delivered":  # a delivery is one statement; a failure has follow-ups
                await scope.enter_async_context(conn.transaction())
            await store.record_attempt(
                conn,
                delivery,
                response_status=answer.status,
                latency_ms=round(elapsed * 1000),
                error=answer.error,
                response_excerpt=answer.excerpt,
                outcome=outcome,
                retry_in=retry_in,
            )
            if outcome != "delivered":
                await self._after_failure(conn, delivery, outcome, answer)
        # Every attempt is in the delivery log (attempts table); the process log keeps the failures.
        (log.debug if outcome == "delivered" else log.info)(
            "webhook attempt",
            event_id=str(delivery.event_id),
            endpoint_id=str(delivery.endpoint_id),
            attempt=delivery.attempt,
            response_status=answer.status,
            error=answer.error,
            outcome=outcome,
        )

    async def _post(self, delivery: Delivery) -> Answer:
        try:
            async with asyncio.timeout(self._settings.total_timeout_seconds):
                client = self._state(delivery.endpoint_id).client
                headers = _request_headers(delivery, int(time.time()))
                request = client.build_request("POST", delivery.url, content=delivery.payload, headers=headers)
                # Streamed, and read only as far as the excerpt: an answer of any size costs 1 KB.
                response = await client.send(request, stream=True)
                try:
                    excerpt = b""
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= _EXCERPT_BYTES:
                            break
                finally:
                    await response.aclose()
        except TimeoutError:
            return Answer(error=f"no response within {self._settings.total_timeout_seconds} s")
        except Exception as exc:  # whatever kept the request from being made, this attempt failed
            return Answer(error=make_storable(f"{type(exc).__name__}: {exc}"))
        return Answer(
            response.status_code,
            None,
            make_storable(excerpt[:_EXCERPT_BYTES].decode("utf-8", "replace")),
            parse_retry_after(response.headers.get("retry-after")),
        )

    async def _after_failure(self, conn: Connection, delivery: Delivery, outcome: str, answer: Answer) -> None:
        """Endpoint health and the operational events, in the attempt's transaction."""
        if answer.status == 410:  # the subscriber says the endpoint is gone for good
            disabled = await store.disable_endpoint(conn, delivery.endpoint_id, "gone")
        else:
            disabled = await store.endpoint_failed(
                conn, delivery.endpoint_id, timedelta(seconds=self._settings.disable_after_failing_seconds)
            )
        if disabled is not None:
            await publish_disabled(conn, disabled)
        if outcome == "failed" and answer.status != 410:
            data = WebhookMessageExhaustedData(
                message_id=delivery.message_id,
                endpoint_id=delivery.endpoint_id,
                url=delivery.url,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                order_id=delivery.order_id,
                attempts=delivery.attempt,
                last_response_status=answer.status,
                last_error=answer.error,
            )
            event = Event.new("webhook.message.exhausted", WEBHOOK_DISPATCHER.name, str(delivery.endpoint_id), data)
            await enqueue(conn, WEBHOOKS_EVENTS, event)


async def publish_disabled(conn: Connection, endpoint: asyncpg.Record) -> None:
    """`webhook.endpoint.disabled` for an endpoint `store.disable_endpoint`/`endpoint_failed` just disabled."""
    data = WebhookEndpointDisabledData(
        endpoint_id=endpoint["id"],
        url=endpoint["url"],
        reason=endpoint["disabled_reason"],
        failing_since=endpoint["failing_since"],
    )
    event = Event.new("webhook.endpoint.disabled", WEBHOOK_DISPATCHER.name, str(endpoint["id"]), data)
    await enqueue(conn, WEBHOOKS_EVENTS, event)


async def purge_history(pool: asyncpg.Pool, settings: DispatcherSettings) -> None:
    """Retention: delete settled messages and attempts older than `retention_days`."""
    async with pool.acquire() as conn:
        messages, attempts = await store.purge(conn, timedelta(days=settings.retention_days))
    if messages or attempts:
        log.info("webhook history purged", messages=messages, attempts=attempts)


def _request_headers(delivery: Delivery, timestamp: int) -> dict[str, str]:
    for name, value in delivery.headers.items():
        if not is_header_value(value):  # stored before registration checked values
            # Named, never quoted: custom header values are often the subscriber's credentials.
            raise ValueError(f"the endpoint's header {name!r} has a value HTTP cannot carry; replace it")
    secrets = [delivery.secret] + ([delivery.previous_secret] if delivery.previous_secret else [])
    headers = {
        **delivery.headers,
        "content-type": "application/json",
        "webhook-id": str(delivery.event_id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures(secrets, str(delivery.event_id), timestamp, delivery.payload),
        "webhook-event-type": delivery.event_type,
    }
    # One that cannot travel (stored before consumers checked it) is left out, not the delivery.
    correlation_id = usable_correlation_id(delivery.correlation_id)
    if correlation_id is not None:
        headers[CORRELATION_HEADER] = correlation_id
    return headers
