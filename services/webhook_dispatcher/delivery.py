"""Sending claimed messages: each endpoint's own connections, pacing and circuit breaker, the signed
POST, and the attempt recorded through the service.

Delivery is at-least-once: `webhook-id` is the event id, stable across retries, so receivers can drop
repeats. Each endpoint has an HTTP client (connection pool, http_client.py) of its own and at most
`endpoint_concurrency` requests in flight per instance, so a slow subscriber holds up only its own
messages. Endpoints with a rate limit are paced, and an endpoint whose last attempts all failed rests
(circuit breaker) instead of eating slots. A delivered attempt is recorded with the others that ended
meanwhile, in one statement (settling.py); a failed one in a transaction of its own, with its
follow-ups. Either way the send's task ends only once its attempt is recorded; the endpoint's slot is
free again as soon as the answer is in.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import Counter, Histogram

from services.webhook_dispatcher.domain import (
    Answer,
    CircuitBreaker,
    Delivery,
    TokenBucket,
    parse_retry_after,
    settle,
    signatures,
)
from services.webhook_dispatcher.http_client import Response
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.settling import DeliveredAttempts
from shared.fields import is_header_value, make_storable
from shared.logging import CORRELATION_HEADER, get_logger, usable_correlation_id
from shared.tracing import client_span, current_trace_context, describe_answer

log = get_logger(__name__)

DELIVERIES = Counter("webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("webhook_attempt_duration_seconds", "Webhook request latency")

EXCERPT_BYTES = 1024


class HttpClient(Protocol):
    """An endpoint's connections: http_client.ConnectionPool, or a stand-in in unit tests."""

    is_closed: bool

    async def post(self, url: str, headers: Mapping[str, str], body: bytes, excerpt_bytes: int) -> Response: ...

    async def aclose(self) -> None: ...


@dataclass
class EndpointState:
    """What this instance knows of one endpoint: its connections, requests in flight, pacing, recent
    failures. Each endpoint has an HTTP client (connection pool) of its own, so a slow endpoint's
    connections are never the ones another endpoint waits for."""

    client: HttpClient
    breaker: CircuitBreaker
    slots: asyncio.Semaphore  # `endpoint_concurrency` requests at once; more messages wait their turn
    in_flight: int = 0  # messages in hand: being sent, or waiting for a slot
    bucket: TokenBucket | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)  # when its last request ended

    async def pace(self, rate_limit: int | None) -> None:
        """Wait for the rate limit's next token (none without a limit)."""
        if rate_limit is None:
            self.bucket = None
            return
        async with self.lock:
            now = time.monotonic()
            if self.bucket is None or self.bucket.rate != rate_limit:
                self.bucket = TokenBucket(rate_limit, now)
            wait = self.bucket.wait_for_token(now)
        if wait > 0:
            await asyncio.sleep(wait)


class Endpoints:
    """This instance's state of each endpoint it sends to: made on first use, freed when idle."""

    def __init__(self, settings: DispatcherSettings, new_client: Callable[[], HttpClient]) -> None:
        self._settings = settings
        self._new_client = new_client
        self._states: dict[uuid.UUID, EndpointState] = {}

    def __contains__(self, endpoint_id: uuid.UUID) -> bool:
        return endpoint_id in self._states

    def __iter__(self) -> Iterator[uuid.UUID]:
        return iter(self._states)

    def state(self, endpoint_id: uuid.UUID) -> EndpointState:
        state = self._states.get(endpoint_id)
        if state is None:
            state = EndpointState(
                self._new_client(),
                CircuitBreaker(self._settings.breaker_failures, self._settings.breaker_cooldown_seconds),
                asyncio.Semaphore(self._settings.endpoint_concurrency),
            )
            self._states[endpoint_id] = state
        return state

    def in_flight(self, now: float) -> dict[uuid.UUID, int]:
        """Requests in flight per endpoint, for a claim to take only as many more as an endpoint's own
        connection pool takes at once; a resting endpoint counts as full, so it gets none."""
        cap = self._settings.endpoint_concurrency
        return {
            endpoint_id: cap if state.breaker.is_open(now) else state.in_flight
            for endpoint_id, state in self._states.items()
            if state.in_flight or state.breaker.is_open(now)
        }

    def room(self, endpoint_id: uuid.UUID, now: float, queued: int) -> int:
        """How many more messages the endpoint takes now: its requests at once and `queued` more
        waiting for a slot, less those in hand; none while its breaker rests it."""
        state = self._states.get(endpoint_id)
        if state is None:
            return self._settings.endpoint_concurrency + queued
        if state.breaker.is_open(now):
            return 0
        return self._settings.endpoint_concurrency + queued - state.in_flight

    async def evict_idle(self, now: float) -> None:
        """Free the state and connections of endpoints idle for `endpoint_idle_seconds`: among them
        every deleted one. Those with a request in flight or a resting breaker keep theirs."""
        idle = [
            endpoint_id
            for endpoint_id, state in self._states.items()
            if not state.in_flight
            and not state.breaker.is_open(now)
            and now - state.last_used >= self._settings.endpoint_idle_seconds
        ]
        clients = [self._states.pop(endpoint_id).client for endpoint_id in idle]
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)

    async def close(self) -> None:
        await asyncio.gather(*(state.client.aclose() for state in self._states.values()))


class Courier:
    """Sends claimed messages, each through its endpoint's state, and records every attempt."""

    def __init__(
        self, service: WebhookService, settings: DispatcherSettings, new_client: Callable[[], HttpClient]
    ) -> None:
        self._service = service
        self._settings = settings
        self.endpoints = Endpoints(settings, new_client)
        self._delivered = DeliveredAttempts(service)

    async def send(self, delivery: Delivery) -> None:
        """Deliver a claimed message as one of its endpoint's requests in flight (waiting for a slot
        when they are all taken), paced. The slot is the request's: it is free for the endpoint's next
        message once the answer is in, while this attempt is recorded (a batch statement may take a
        while under load; the endpoint's requests need not wait for it)."""
        state = self.endpoints.state(delivery.endpoint_id)
        state.in_flight += 1
        try:
            async with state.slots:
                await state.pace(delivery.rate_limit)
                answer, elapsed = await self._request(state, delivery)
        finally:
            state.in_flight -= 1
            state.last_used = time.monotonic()
        await self._settle(state, delivery, answer, elapsed)

    async def deliver(self, delivery: Delivery) -> None:
        """Send one claimed message and settle it by the answer."""
        state = self.endpoints.state(delivery.endpoint_id)
        answer, elapsed = await self._request(state, delivery)
        await self._settle(state, delivery, answer, elapsed)

    async def _request(self, state: EndpointState, delivery: Delivery) -> tuple[Answer, float]:
        """The answer to the message's POST, and how long it took (seconds)."""
        started = time.perf_counter()
        answer = await post(state.client, delivery, self._settings.total_timeout_seconds)
        return answer, time.perf_counter() - started

    async def _settle(self, state: EndpointState, delivery: Delivery, answer: Answer, elapsed: float) -> None:
        """Settle the message by the answer, returning once the attempt is recorded."""
        LATENCY.observe(elapsed)
        settlement = settle(delivery.attempt, answer.status, answer.retry_after, self._settings.retry_schedule_seconds)
        outcome = settlement.status
        DELIVERIES.labels(outcome if answer.status is None or outcome != "pending" else "retry").inc()
        state.breaker.record(outcome == "delivered", time.monotonic())
        if outcome == "delivered":
            await self._delivered.record(delivery, answer, latency_ms=round(elapsed * 1000))
        else:
            await self._service.record_attempt(delivery, answer, settlement, latency_ms=round(elapsed * 1000))
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


async def post(client: HttpClient, delivery: Delivery, timeout_seconds: float) -> Answer:
    """POST the message signed, with the trace context it was fanned out in (its child span's, when
    tracing); whatever keeps the request from being made is the answer's error."""
    with client_span(delivery.traceparent, delivery.tracestate, "POST", delivery.url, delivery.attempt - 1):
        answer = await _post(client, delivery, timeout_seconds)
        describe_answer(answer.status, answer.error)
    return answer


async def _post(client: HttpClient, delivery: Delivery, timeout_seconds: float) -> Answer:
    try:
        async with asyncio.timeout(timeout_seconds):
            headers = {**request_headers(delivery, int(time.time())), **current_trace_context()}
            response = await client.post(delivery.url, headers, delivery.payload, EXCERPT_BYTES)
    except TimeoutError:
        return Answer(error=f"no response within {timeout_seconds} s")
    except Exception as exc:  # whatever kept the request from being made, this attempt failed
        return Answer(error=make_storable(f"{type(exc).__name__}: {exc}"))
    return Answer(
        response.status,
        None,
        make_storable(response.excerpt.decode("utf-8", "replace")),
        parse_retry_after(response.headers.get("retry-after")),
    )


def request_headers(delivery: Delivery, timestamp: int) -> dict[str, str]:
    """The delivery's headers: the endpoint's own, then the signed Standard Webhooks ones."""
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
