"""How a delivery attempt's answer settles the message (services/webhook_dispatcher/sender.py).

Everything runs in memory: the HTTP client uses httpx.MockTransport and the pool is a stub whose
connection is never touched, because store.record_attempt / disable_endpoint are replaced.
"""

import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, cast

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.webhook_dispatcher import sender as sender_module
from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import Delivery, generate_secret, parse_retry_after, settle
from services.webhook_dispatcher.sender import Sender
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.events import Event
from shared.webhook_events import WebhookEndpointDisabledData, WebhookMessageExhaustedData

HOUR = timedelta(hours=1)


def _sender(schedule: list[float] | None = None, client: httpx.AsyncClient | None = None) -> Sender:
    settings = DispatcherSettings(retry_schedule_seconds=schedule or [1, 2])
    # deliver gets stubs for the pool and the client
    pool = cast("asyncpg.Pool[asyncpg.Record]", _StubPool())
    return Sender(pool, settings, lambda: client or cast(httpx.AsyncClient, None))


# ---- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", timedelta(seconds=120)), ("0", timedelta(0)), (" 7 ", timedelta(seconds=7)), ("86400", timedelta(days=1))],
)
def test_retry_after_in_seconds(value: str, expected: timedelta) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_a_future_http_date() -> None:
    value = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)

    delay = parse_retry_after(value)

    assert delay is not None
    assert timedelta(seconds=115) <= delay <= timedelta(seconds=120)


def test_retry_after_as_a_past_http_date_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "2 minutes", "Wed, 99 Foo 2015"])
def test_retry_after_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("value", ["99999999999999999999", "100000000000000", "\u00b2"])
def test_absurd_retry_after_does_not_raise_and_is_clamped(value: str) -> None:
    outcome, delay = settle(1, 503, parse_retry_after(value), [1, 2])

    assert outcome == "pending"
    assert delay is not None
    assert delay <= HOUR


# ---- settle ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert settle(1, status, None, [1, 2]) == ("delivered", None)


def test_2xx_on_the_last_allowed_attempt_is_delivered() -> None:
    assert settle(3, 200, None, [1, 2]) == ("delivered", None)


def test_410_fails_at_once() -> None:
    assert settle(1, 410, None, [1, 2]) == ("failed", None)
    assert settle(1, 410, timedelta(seconds=30), [1, 2]) == ("failed", None)


@pytest.mark.parametrize(("attempt", "scheduled"), [(1, 1.0), (2, 2.0)])
@pytest.mark.parametrize("status", [500, 502, 404, 400, 301, None])
def test_other_answers_are_retried_per_schedule(attempt: int, scheduled: float, status: int | None) -> None:
    outcome, delay = settle(attempt, status, None, [1, 2])

    assert outcome == "pending"
    assert delay is not None
    assert scheduled * 0.9 <= delay.total_seconds() <= scheduled * 1.1


@pytest.mark.parametrize("status", [500, 429, 503, None])
def test_exhausted_schedule_fails(status: int | None) -> None:
    assert settle(3, status, timedelta(seconds=10), [1, 2]) == ("failed", None)


def test_default_schedule_allows_eight_attempts() -> None:
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000]

    assert [settle(n, 500, None, schedule)[0] for n in range(1, 9)] == ["pending"] * 7 + ["failed"]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (timedelta(seconds=120), timedelta(seconds=120)),
        (timedelta(0), timedelta(seconds=1)),
        (timedelta(milliseconds=200), timedelta(seconds=1)),
        (timedelta(days=7), HOUR),
        (timedelta(hours=1), HOUR),
    ],
)
def test_retry_after_is_honoured_within_bounds(status: int, retry_after: timedelta, expected: timedelta) -> None:
    assert settle(1, status, retry_after, [1, 2]) == ("pending", expected)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_without_retry_after_follows_schedule(status: int) -> None:
    outcome, delay = settle(2, status, None, [10, 20])

    assert outcome == "pending"
    assert delay is not None
    assert 18 <= delay.total_seconds() <= 22


@pytest.mark.parametrize("status", [500, 502])
def test_retry_after_is_ignored_for_other_errors(status: int) -> None:
    outcome, delay = settle(1, status, timedelta(minutes=30), [10, 20])

    assert outcome == "pending"
    assert delay is not None
    assert 9 <= delay.total_seconds() <= 11


# ---- deliver, end to end in memory -------------------------------------------------------------


class _StubConn:
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


class _StubPool:
    def __init__(self) -> None:
        self.conn = _StubConn()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_StubConn]:
        yield self.conn


class _Recorder:
    """Stands in for the store and the outbox: what the sender wrote, and endpoint rows to return."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.disabled: list[tuple[uuid.UUID, str]] = []
        self.failures: list[uuid.UUID] = []
        self.events: list[tuple[str, Event]] = []
        self.failing_too_long = False

    async def record_attempt(self, conn: object, delivery: Delivery, **fields: Any) -> None:
        self.attempts.append({"delivery": delivery, **fields})

    def _endpoint_row(self, endpoint_id: uuid.UUID, reason: str) -> dict[str, Any]:
        return {"id": endpoint_id, "url": "https://subscriber.example/hooks", "disabled_reason": reason,
                "failing_since": datetime(2024, 5, 1, tzinfo=UTC)}  # fmt: skip

    async def disable_endpoint(self, conn: object, endpoint_id: uuid.UUID, reason: str) -> dict[str, Any]:
        self.disabled.append((endpoint_id, reason))
        return self._endpoint_row(endpoint_id, reason)

    async def endpoint_failed(self, conn: object, endpoint_id: uuid.UUID, after: timedelta) -> dict[str, Any] | None:
        self.failures.append(endpoint_id)
        if not self.failing_too_long:
            return None
        self.disabled.append((endpoint_id, "failing"))
        return self._endpoint_row(endpoint_id, "failing")

    async def enqueue(self, conn: object, topic: str, event: Event) -> None:
        self.events.append((topic, event))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    recorded = _Recorder()
    for name in ("record_attempt", "disable_endpoint", "endpoint_failed"):
        monkeypatch.setattr(store, name, getattr(recorded, name))
    monkeypatch.setattr(sender_module, "enqueue", recorded.enqueue)
    return recorded


def _delivery(secret: str, *, attempt: int = 1, correlation_id: str | None = "req-1") -> Delivery:
    return Delivery(
        message_id=11,
        event_id=uuid.UUID("6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11"),
        event_type="order.created",
        correlation_id=correlation_id,
        payload=b'{"type":"order.created","timestamp":"2024-05-17T09:30:00+00:00","data":{"order_id":42}}',
        attempt=attempt,
        endpoint_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        url="https://subscriber.example/hooks",
        secret=secret,
    )


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_deliver_posts_a_verifiable_signed_request(recorder: _Recorder) -> None:
    secret = generate_secret()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with _client(handler) as client:
        await _sender(client=client).deliver(_delivery(secret))

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://subscriber.example/hooks"
    assert request.headers["webhook-id"] == "6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11"
    assert request.headers["webhook-event-type"] == "order.created"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-correlation-id"] == "req-1"
    payload = Webhook(secret).verify(request.content, dict(request.headers))
    assert payload == json.loads(_delivery(secret).payload)
    [attempt] = recorder.attempts
    assert attempt["outcome"] == "delivered"
    assert attempt["response_status"] == 204
    assert attempt["retry_in"] is None
    assert attempt["error"] is None
    assert recorder.disabled == []
    assert recorder.failures == []
    assert recorder.events == []


async def test_deliver_without_correlation_id_sends_no_correlation_header(recorder: _Recorder) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with _client(handler) as client:
        await _sender(client=client).deliver(_delivery(generate_secret(), correlation_id=None))

    assert "x-correlation-id" not in seen[0].headers
    assert recorder.attempts[0]["outcome"] == "delivered"


async def test_deliver_410_fails_and_disables_the_endpoint(recorder: _Recorder) -> None:
    async with _client(lambda _: httpx.Response(410, text="gone")) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["response_status"], attempt["response_excerpt"]) == ("failed", 410, "gone")
    endpoint_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
    assert recorder.disabled == [(endpoint_id, "gone")]
    [(topic, event)] = recorder.events  # disabled, not exhausted: the schedule was not spent
    assert (topic, event.type, event.subject) == ("webhooks.events", "webhook.endpoint.disabled", str(endpoint_id))
    assert isinstance(event.data, WebhookEndpointDisabledData)
    assert (event.data.endpoint_id, event.data.reason) == (endpoint_id, "gone")


async def test_deliver_503_with_retry_after_is_rescheduled(recorder: _Recorder) -> None:
    response = httpx.Response(503, headers={"retry-after": "90"})
    async with _client(lambda _: response) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["retry_in"]) == ("pending", timedelta(seconds=90))


async def test_deliver_connection_error_is_retried(recorder: _Recorder) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with _client(handler) as client:
        await _sender([1, 2], client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert attempt["outcome"] == "pending"
    assert attempt["response_status"] is None
    assert attempt["error"] == "ConnectError: connection refused"
    assert 0.9 <= attempt["retry_in"].total_seconds() <= 1.1


async def test_deliver_long_response_is_cut_to_an_excerpt(recorder: _Recorder) -> None:
    async with _client(lambda _: httpx.Response(500, content=b"x" * 5000)) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    assert recorder.attempts[0]["response_excerpt"] == "x" * 1024


async def test_deliver_reads_a_huge_answer_only_as_far_as_the_excerpt(recorder: _Recorder) -> None:
    chunks_read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(100_000):  # 100 MB, if it were all read
            chunks_read += 1
            yield b"x" * 1000

    async with _client(lambda _: httpx.Response(500, content=endless())) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    assert recorder.attempts[0]["response_excerpt"] == "x" * 1024
    assert chunks_read == 2


async def test_deliver_survives_an_absurdparse_retry_after(recorder: _Recorder) -> None:
    response = httpx.Response(503, headers={"retry-after": "99999999999999999999"})
    async with _client(lambda _: response) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert attempt["outcome"] == "pending"
    assert attempt["retry_in"] <= HOUR


async def test_deliver_exhausting_the_schedule_publishes_webhook_message_exhausted(recorder: _Recorder) -> None:
    async with _client(lambda _: httpx.Response(500, text="boom")) as client:
        await _sender([1, 2], client=client).deliver(_delivery(generate_secret(), attempt=3))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["retry_in"]) == ("failed", None)
    [(topic, event)] = recorder.events
    assert (topic, event.type) == ("webhooks.events", "webhook.message.exhausted")
    assert isinstance(event.data, WebhookMessageExhaustedData)
    assert event.data.event_id == _delivery("whsec_x").event_id
    assert (event.data.attempts, event.data.last_response_status) == (3, 500)


async def test_deliver_retryable_failure_publishes_nothing(recorder: _Recorder) -> None:
    async with _client(lambda _: httpx.Response(500)) as client:
        await _sender([1, 2], client=client).deliver(_delivery(generate_secret(), attempt=1))

    assert recorder.attempts[0]["outcome"] == "pending"
    assert recorder.failures == [_delivery("whsec_x").endpoint_id]
    assert recorder.events == []


async def test_deliver_failing_too_long_disables_the_endpoint_and_says_so(recorder: _Recorder) -> None:
    recorder.failing_too_long = True
    async with _client(lambda _: httpx.Response(502)) as client:
        await _sender([1, 2], client=client).deliver(_delivery(generate_secret(), attempt=1))

    assert [event.type for _, event in recorder.events] == ["webhook.endpoint.disabled"]
    data = recorder.events[0][1].data
    assert isinstance(data, WebhookEndpointDisabledData)
    assert data.reason == "failing"


async def test_deliver_during_a_rotation_is_verifiable_with_either_secret(recorder: _Recorder) -> None:
    old, new = generate_secret(), generate_secret()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    delivery = dataclasses.replace(_delivery(new), previous_secret=old)
    async with _client(handler) as client:
        await _sender(client=client).deliver(delivery)

    [request] = seen
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.content, dict(request.headers))


async def test_deliver_sends_the_endpoints_custom_headers(recorder: _Recorder) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    delivery = dataclasses.replace(_delivery(generate_secret()), headers={"X-Tenant": "acme"})
    async with _client(handler) as client:
        await _sender(client=client).deliver(delivery)

    assert seen[0].headers["x-tenant"] == "acme"


@pytest.mark.parametrize("correlation_id", ["café-1", "a\x00b", "x" * 129, " padded", "two\nlines"])
async def test_deliver_leaves_out_a_correlation_id_http_cannot_carry(recorder: _Recorder, correlation_id: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with _client(handler) as client:
        await _sender(client=client).deliver(_delivery(generate_secret(), correlation_id=correlation_id))

    [request] = seen
    assert "x-correlation-id" not in request.headers
    assert recorder.attempts[0]["outcome"] == "delivered"


def _raise_overflow(request: httpx.Request) -> httpx.Response:
    raise OverflowError("getsockaddrarg: port must be 0-65535.")


@pytest.mark.parametrize(
    ("stored", "handler", "says"),
    [
        # Stored before registration checked them (or written around the API).
        (
            {"headers": {"X-Token": "s3cret-café"}},
            None,
            "the endpoint's header 'X-Token' has a value HTTP cannot carry",
        ),
        ({"url": "http://\uff11\uff12\uff17.0.0.1:9555/x"}, None, "InvalidURL: Invalid IDNA hostname"),
        ({"secret": "whsec_not base64!"}, None, "Error: "),
        # An exception that is no httpx.HTTPError, from deep in the transport.
        ({}, _raise_overflow, "OverflowError: getsockaddrarg"),
    ],
)
async def test_a_request_that_cannot_be_built_or_sent_is_a_failed_attempt_retried_then_exhausted(
    recorder: _Recorder,
    stored: dict[str, Any],
    handler: Callable[[httpx.Request], httpx.Response] | None,
    says: str,
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async with _client(handler or record) as client:
        sender = _sender([1, 2], client=client)
        for number in (1, 2, 3):
            await sender.deliver(dataclasses.replace(_delivery(generate_secret(), attempt=number), **stored))

    assert sent == []
    assert [attempt["outcome"] for attempt in recorder.attempts] == ["pending", "pending", "failed"]
    for attempt in recorder.attempts:
        assert attempt["response_status"] is None
        assert says in attempt["error"]
        assert "s3cret" not in attempt["error"]  # a custom header's value is never written to the log
    [(_, event)] = recorder.events
    assert event.type == "webhook.message.exhausted"


async def test_an_answer_or_error_postgres_text_cannot_hold_is_recorded_with_a_replacement_character(
    recorder: _Recorder,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused by \x00 and \ud800", request=request)

    async with _client(lambda _: httpx.Response(500, content=b"bad\x00body\xff")) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))
    async with _client(refuse) as client:
        await _sender(client=client).deliver(_delivery(generate_secret()))

    answered, refused = recorder.attempts
    assert answered["response_excerpt"] == "bad\ufffdbody\ufffd"
    assert refused["error"] == "ConnectError: refused by \ufffd and ?"


# ---- endpoint state: freed when idle -----------------------------------------------------------


class _FakeClient:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_idle_endpoints_are_forgotten_with_their_connections_but_not_busy_or_resting_ones() -> None:
    settings = DispatcherSettings(endpoint_idle_seconds=300, breaker_failures=1, breaker_cooldown_seconds=30)
    sender = Sender(cast("asyncpg.Pool[asyncpg.Record]", _StubPool()), settings, _FakeClient)  # type: ignore[arg-type]
    idle, deleted, busy, resting, recent = (uuid.uuid4() for _ in range(5))
    now = 10_000.0
    states = {endpoint_id: sender._state(endpoint_id) for endpoint_id in (idle, deleted, busy, resting, recent)}
    for endpoint_id in (idle, deleted, busy, resting):
        states[endpoint_id].last_used = now - 301
    states[recent].last_used = now - 10
    states[busy].in_flight = 1
    states[resting].breaker.record(False, now - 5)  # open for 30 s

    await sender._evict_idle(now)

    assert set(sender._endpoints) == {busy, resting, recent}
    closed = {endpoint_id for endpoint_id, state in states.items() if cast(_FakeClient, state.client).closed}
    assert closed == {idle, deleted}
    assert sender._state(idle) is not states[idle]  # a later message gets a fresh client


async def test_an_endpoints_last_request_ending_counts_as_use(recorder: _Recorder) -> None:
    async with _client(lambda _: httpx.Response(204)) as client:
        sender = _sender(client=client)
        delivery = _delivery(generate_secret())
        sender._state(delivery.endpoint_id).last_used = 0.0

        await sender._deliver_tracked(delivery)
        await sender._evict_idle(time.monotonic())

    assert delivery.endpoint_id in sender._endpoints
