"""Sending a claimed message and settling it by the answer (services/webhook_dispatcher/delivery.py),
and the per-endpoint state a sender keeps.

Everything runs in memory: the HTTP client is a stand-in answering through a handler in the style of
httpx.MockTransport (tests/support/fake_http.py), and the use cases run on the in-memory store and
outbox (tests/support/webhook_fakes.py). What the real client reads of an answer, over real sockets,
is tests/integration/test_webhook_http_client.py's.
"""

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.webhook_dispatcher.delivery import Courier, Endpoints
from services.webhook_dispatcher.domain import DeliveredAttempt, Delivery, generate_secret
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.db import Connection
from shared.webhook_events import WebhookEndpointDisabledData, WebhookMessageExhaustedData
from tests.support.fake_http import MockHttp
from tests.support.webhook_fakes import FakeStore, in_memory_service

HOUR = timedelta(hours=1)
ENDPOINT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def recorder() -> FakeStore:
    """The dispatcher's tables and outbox in memory, holding the endpoint the deliveries go to."""
    store = FakeStore()
    store.add_endpoint(ENDPOINT_ID, url="https://subscriber.example/hooks")
    return store


def _sender(recorder: FakeStore, schedule: list[float] | None = None, client: MockHttp | None = None) -> Courier:
    settings = DispatcherSettings(retry_schedule_seconds=schedule or [1, 2])
    return Courier(in_memory_service(recorder, settings), settings, lambda: client or _client(_unreachable))


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no client was given", request=request)


class _Subscriber:
    """An endpoint answering `status` to every request, which it keeps."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)


def _delivery(secret: str, *, attempt: int = 1, correlation_id: str | None = "req-1") -> Delivery:
    return Delivery(
        message_id=11,
        event_id=uuid.UUID("6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11"),
        event_type="order.created",
        correlation_id=correlation_id,
        payload=b'{"type":"order.created","timestamp":"2024-05-17T09:30:00+00:00","data":{"order_id":42}}',
        attempt=attempt,
        endpoint_id=ENDPOINT_ID,
        url="https://subscriber.example/hooks",
        secret=secret,
    )


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> MockHttp:
    return MockHttp(handler)


async def test_deliver_posts_a_verifiable_signed_request(recorder: FakeStore) -> None:
    secret = generate_secret()
    subscriber = _Subscriber()
    async with _client(subscriber) as client:
        await _sender(recorder, client=client).deliver(_delivery(secret))

    [request] = subscriber.requests
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


async def test_deliver_without_correlation_id_sends_no_correlation_header(recorder: FakeStore) -> None:
    subscriber = _Subscriber(200)
    async with _client(subscriber) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret(), correlation_id=None))

    assert "x-correlation-id" not in subscriber.requests[0].headers
    assert recorder.attempts[0]["outcome"] == "delivered"


async def test_deliver_410_fails_and_disables_the_endpoint(recorder: FakeStore) -> None:
    async with _client(lambda _: httpx.Response(410, text="gone")) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["response_status"], attempt["response_excerpt"]) == ("failed", 410, "gone")
    endpoint_id = ENDPOINT_ID
    assert recorder.disabled == [(endpoint_id, "gone")]
    [(topic, event)] = recorder.events  # disabled, not exhausted: the schedule was not spent
    assert (topic, event.type, event.subject) == ("webhooks.events", "webhook.endpoint.disabled", str(endpoint_id))
    assert isinstance(event.data, WebhookEndpointDisabledData)
    assert (event.data.endpoint_id, event.data.reason) == (endpoint_id, "gone")


async def test_deliver_503_with_retry_after_is_rescheduled(recorder: FakeStore) -> None:
    response = httpx.Response(503, headers={"retry-after": "90"})
    async with _client(lambda _: response) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["retry_in"]) == ("pending", timedelta(seconds=90))


async def test_deliver_connection_error_is_retried(recorder: FakeStore) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with _client(handler) as client:
        await _sender(recorder, [1, 2], client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert attempt["outcome"] == "pending"
    assert attempt["response_status"] is None
    assert attempt["error"] == "ConnectError: connection refused"
    assert 0.9 <= attempt["retry_in"].total_seconds() <= 1.1


async def test_deliver_long_response_is_cut_to_an_excerpt(recorder: FakeStore) -> None:
    async with _client(lambda _: httpx.Response(500, content=b"x" * 5000)) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))

    assert recorder.attempts[0]["response_excerpt"] == "x" * 1024


async def test_deliver_survives_an_absurdparse_retry_after(recorder: FakeStore) -> None:
    response = httpx.Response(503, headers={"retry-after": "99999999999999999999"})
    async with _client(lambda _: response) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))

    [attempt] = recorder.attempts
    assert attempt["outcome"] == "pending"
    assert attempt["retry_in"] <= HOUR


async def test_deliver_exhausting_the_schedule_publishes_webhook_message_exhausted(recorder: FakeStore) -> None:
    async with _client(lambda _: httpx.Response(500, text="boom")) as client:
        await _sender(recorder, [1, 2], client=client).deliver(_delivery(generate_secret(), attempt=3))

    [attempt] = recorder.attempts
    assert (attempt["outcome"], attempt["retry_in"]) == ("failed", None)
    [(topic, event)] = recorder.events
    assert (topic, event.type) == ("webhooks.events", "webhook.message.exhausted")
    assert isinstance(event.data, WebhookMessageExhaustedData)
    assert event.data.event_id == _delivery("whsec_x").event_id
    assert (event.data.attempts, event.data.last_response_status) == (3, 500)


async def test_deliver_retryable_failure_publishes_nothing(recorder: FakeStore) -> None:
    async with _client(lambda _: httpx.Response(500)) as client:
        await _sender(recorder, [1, 2], client=client).deliver(_delivery(generate_secret(), attempt=1))

    assert recorder.attempts[0]["outcome"] == "pending"
    assert recorder.failures == [_delivery("whsec_x").endpoint_id]
    assert recorder.events == []


async def test_deliver_failing_too_long_disables_the_endpoint_and_says_so(recorder: FakeStore) -> None:
    recorder.endpoints[ENDPOINT_ID]["failing_since"] = datetime.now(UTC) - timedelta(days=6)  # the limit is 5
    async with _client(lambda _: httpx.Response(502)) as client:
        await _sender(recorder, [1, 2], client=client).deliver(_delivery(generate_secret(), attempt=1))

    assert [event.type for _, event in recorder.events] == ["webhook.endpoint.disabled"]
    data = recorder.events[0][1].data
    assert isinstance(data, WebhookEndpointDisabledData)
    assert data.reason == "failing"


async def test_deliver_during_a_rotation_is_verifiable_with_either_secret(recorder: FakeStore) -> None:
    old, new = generate_secret(), generate_secret()
    subscriber = _Subscriber()
    delivery = dataclasses.replace(_delivery(new), previous_secret=old)
    async with _client(subscriber) as client:
        await _sender(recorder, client=client).deliver(delivery)

    [request] = subscriber.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.content, dict(request.headers))


async def test_deliver_sends_the_endpoints_custom_headers(recorder: FakeStore) -> None:
    subscriber = _Subscriber(200)
    delivery = dataclasses.replace(_delivery(generate_secret()), headers={"X-Tenant": "acme"})
    async with _client(subscriber) as client:
        await _sender(recorder, client=client).deliver(delivery)

    assert subscriber.requests[0].headers["x-tenant"] == "acme"


@pytest.mark.parametrize("correlation_id", ["café-1", "a\x00b", "x" * 129, " padded", "two\nlines"])
async def test_deliver_leaves_out_a_correlation_id_http_cannot_carry(recorder: FakeStore, correlation_id: str) -> None:
    subscriber = _Subscriber()
    async with _client(subscriber) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret(), correlation_id=correlation_id))

    [request] = subscriber.requests
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
    recorder: FakeStore,
    stored: dict[str, Any],
    handler: Callable[[httpx.Request], httpx.Response] | None,
    says: str,
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async with _client(handler or record) as client:
        sender = _sender(recorder, [1, 2], client=client)
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
    recorder: FakeStore,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused by \x00 and \ud800", request=request)

    async with _client(lambda _: httpx.Response(500, content=b"bad\x00body\xff")) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))
    async with _client(refuse) as client:
        await _sender(recorder, client=client).deliver(_delivery(generate_secret()))

    answered, refused = recorder.attempts
    assert answered["response_excerpt"] == "bad\ufffdbody\ufffd"
    assert refused["error"] == "ConnectError: refused by \ufffd and ?"


# ---- an endpoint's slots ------------------------------------------------------------------------


class _SlowRecords(FakeStore):
    """A store whose delivered attempts are recorded only once `written` is set: a batch statement
    that takes a while."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    async def record_deliveries(self, conn: Connection, delivered: Sequence[DeliveredAttempt]) -> None:
        await self.written.wait()
        await super().record_deliveries(conn, delivered)


async def test_an_endpoints_next_request_goes_while_the_last_attempt_is_being_recorded() -> None:
    store = _SlowRecords()
    store.add_endpoint(ENDPOINT_ID, url="https://subscriber.example/hooks")
    subscriber, both_sent = _Subscriber(), asyncio.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        response = subscriber(request)
        if len(subscriber.requests) == 2:
            both_sent.set()
        return response

    settings = DispatcherSettings(endpoint_concurrency=1)
    async with _client(answer) as client:
        sender = Courier(in_memory_service(store, settings), settings, lambda: client)
        first, second = (
            dataclasses.replace(_delivery(generate_secret()), message_id=number, event_id=uuid.uuid4())
            for number in (1, 2)
        )
        sends = [asyncio.create_task(sender.send(delivery)) for delivery in (first, second)]
        async with asyncio.timeout(5):
            await both_sent.wait()

        # One request at a time, yet the second went before the first attempt was in the store.
        assert [request.headers["webhook-id"] for request in subscriber.requests] == [
            str(first.event_id),
            str(second.event_id),
        ]
        assert store.attempts == []
        assert not any(send.done() for send in sends)

        store.written.set()
        await asyncio.gather(*sends)
    # Each send ended only once its attempt was recorded.
    assert [attempt["delivery"].message_id for attempt in store.attempts] == [1, 2]


# ---- endpoint state: freed when idle -----------------------------------------------------------


async def test_idle_endpoints_are_forgotten_with_their_connections_but_not_busy_or_resting_ones() -> None:
    settings = DispatcherSettings(endpoint_idle_seconds=300, breaker_failures=1, breaker_cooldown_seconds=30)
    endpoints = Endpoints(settings, lambda: _client(_unreachable))
    idle, deleted, busy, resting, recent = (uuid.uuid4() for _ in range(5))
    now = 10_000.0
    states = {endpoint_id: endpoints.state(endpoint_id) for endpoint_id in (idle, deleted, busy, resting, recent)}
    for endpoint_id in (idle, deleted, busy, resting):
        states[endpoint_id].last_used = now - 301
    states[recent].last_used = now - 10
    states[busy].in_flight = 1
    states[resting].breaker.record(False, now - 5)  # open for 30 s

    await endpoints.evict_idle(now)

    assert set(endpoints) == {busy, resting, recent}
    closed = {endpoint_id for endpoint_id, state in states.items() if state.client.is_closed}
    assert closed == {idle, deleted}
    assert endpoints.state(idle) is not states[idle]  # a later message gets a fresh client


async def test_an_endpoints_last_request_ending_counts_as_use(recorder: FakeStore) -> None:
    async with _client(lambda _: httpx.Response(204)) as client:
        sender = _sender(recorder, client=client)
        delivery = _delivery(generate_secret())
        sender.endpoints.state(delivery.endpoint_id).last_used = 0.0

        await sender.send(delivery)
        await sender.endpoints.evict_idle(time.monotonic())

    assert delivery.endpoint_id in sender.endpoints
