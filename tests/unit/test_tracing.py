"""Trace context through every hop (shared/tracing.py): passed through unchanged while tracing is off,
continued by a span of each hop while it is on (the SDK's in-memory exporter keeps the spans)."""

import dataclasses
import uuid

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from services.webhook_dispatcher.delivery import post
from services.webhook_dispatcher.domain import Delivery, generate_secret
from shared.tracing import (
    NO_TRACE,
    client_span,
    consumer_span,
    current_trace_context,
    describe_answer,
    describe_response,
    outgoing_event_headers,
    server_span,
)
from tests.support.fake_http import MockHttp
from tests.support.tracing import recorded_spans, span_named, trace_id_of

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def _hex(span_id: int) -> str:
    return format(span_id, "016x")


# ---- off: passed through ---------------------------------------------------------------------------


def test_off_a_requests_traceparent_reaches_its_events_unchanged() -> None:
    headers = [(b"traceparent", TRACEPARENT.encode()), (b"tracestate", b"vendor=abc")]
    with server_span("POST", "/orders", headers) as span:
        assert span is None
        assert dict(outgoing_event_headers("orders.events", "e-1", "7")) == {
            "traceparent": TRACEPARENT,
            "tracestate": "vendor=abc",
        }
    assert current_trace_context() == NO_TRACE  # the request's context ends with it


def test_off_a_request_without_traceparent_or_with_a_malformed_one_starts_no_trace() -> None:
    with server_span("POST", "/orders", []):
        assert outgoing_event_headers("orders.events", "e-1", "7") == []
    with server_span("POST", "/orders", [(b"traceparent", b"00-not-a-trace-01")]):
        assert outgoing_event_headers("orders.events", "e-1", "7") == []


def test_off_a_records_context_reaches_what_its_handler_writes_and_a_delivery_sends_it_on() -> None:
    with consumer_span("orders.events", 3, 42, b"7", [("ce_id", b"e-1"), ("traceparent", TRACEPARENT.encode())]):
        assert current_trace_context() == {"traceparent": TRACEPARENT}
    with client_span(TRACEPARENT, None, "POST", "https://hooks.example/x", 0):
        assert current_trace_context() == {"traceparent": TRACEPARENT}
    with client_span(None, None, "POST", "https://hooks.example/x", 0):
        assert current_trace_context() == NO_TRACE


# ---- on: a span per hop ----------------------------------------------------------------------------


def test_on_a_request_without_traceparent_starts_a_trace_that_its_events_carry() -> None:
    with recorded_spans() as spans, server_span("POST", "/orders", []) as span:
        headers = dict(outgoing_event_headers("orders.events", "e-1", "7"))
        describe_response(span, "POST", "/orders", 201)

    server = span_named(spans, "POST /orders")
    create = span_named(spans, "create orders.events")
    assert server.kind == SpanKind.SERVER
    assert server.parent is None
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/orders"
    assert server.attributes["http.response.status_code"] == 201
    assert create.kind == SpanKind.PRODUCER
    assert create.parent is not None
    assert create.parent.span_id == server.context.span_id
    assert create.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "create",
        "messaging.operation.name": "create",
        "messaging.destination.name": "orders.events",
        "messaging.message.id": "e-1",
        "messaging.kafka.message.key": "7",
    }
    # The event carries its create span's context: the consumer's span will be that span's child.
    assert headers.keys() == {"traceparent"}
    assert trace_id_of(headers["traceparent"]) == format(server.context.trace_id, "032x")
    assert headers["traceparent"].split("-")[2] == _hex(create.context.span_id)


def test_on_a_request_with_traceparent_continues_its_trace_and_probes_are_not_traced() -> None:
    with recorded_spans() as spans:
        with server_span("GET", "/orders/7", [(b"traceparent", TRACEPARENT.encode())]) as span:
            describe_response(span, "GET", "/orders/{order_id}", 503)
        with server_span("GET", "/health/ready", [(b"traceparent", TRACEPARENT.encode())]) as probe:
            assert probe is None
            assert current_trace_context() == {"traceparent": TRACEPARENT}

    [server] = spans.get_finished_spans()
    assert server.name == "GET /orders/{order_id}"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert server.parent.is_remote
    assert _hex(server.parent.span_id) == PARENT_ID
    assert server.status.status_code == StatusCode.ERROR


def test_on_a_consumer_span_continues_the_records_trace_and_keeps_no_exception_text() -> None:
    headers = [("ce_id", b"e-1"), ("traceparent", TRACEPARENT.encode())]
    with (
        recorded_spans() as spans,
        pytest.raises(ValueError, match="jane"),
        consumer_span("orders.events", 3, 42, b"7", headers),
    ):
        raise ValueError("jane@example.com has no order")

    process = span_named(spans, "process orders.events")
    assert process.kind == SpanKind.CONSUMER
    assert format(process.context.trace_id, "032x") == TRACE_ID
    assert process.parent is not None
    assert _hex(process.parent.span_id) == PARENT_ID
    assert process.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "orders.events",
        "messaging.destination.partition.id": "3",
        "messaging.kafka.offset": 42,
        "messaging.kafka.message.key": "7",
        "messaging.message.id": "e-1",
        "error.type": "ValueError",
    }
    assert process.status.status_code == StatusCode.ERROR
    assert "jane" not in (process.status.description or "")
    assert process.events == ()  # no exception event, whose message would quote the email


def test_on_a_delivery_is_a_client_span_under_the_stored_context_and_sends_its_own() -> None:
    with (
        recorded_spans() as spans,
        client_span(TRACEPARENT, "vendor=abc", "POST", "https://hooks.example:8443/x?token=s", 2),
    ):
        sent = current_trace_context()
        describe_answer(503, None)

    request = span_named(spans, "POST")
    assert request.kind == SpanKind.CLIENT
    assert request.parent is not None
    assert _hex(request.parent.span_id) == PARENT_ID
    assert sent == {"traceparent": f"00-{TRACE_ID}-{_hex(request.context.span_id)}-01", "tracestate": "vendor=abc"}
    assert request.attributes == {
        "http.request.method": "POST",
        "server.address": "hooks.example",
        "server.port": 8443,
        "http.request.resend_count": 2,
        "http.response.status_code": 503,
        "error.type": "503",
    }
    assert request.status.status_code == StatusCode.ERROR


# ---- the webhook request ---------------------------------------------------------------------------

DELIVERY = Delivery(
    message_id=11,
    event_id=uuid.UUID("6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11"),
    event_type="order.created",
    correlation_id=None,
    payload=b"{}",
    attempt=1,
    endpoint_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
    url="https://subscriber.example/hooks",
    secret=generate_secret(),
    traceparent=TRACEPARENT,
)


async def _sent_headers(delivery: Delivery) -> httpx.Headers:
    requests: list[httpx.Request] = []

    def subscriber(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    async with MockHttp(subscriber) as client:
        answer = await post(client, delivery, 5.0)
    assert answer.status == 204
    [request] = requests
    return request.headers


async def test_a_webhook_request_carries_the_messages_trace_context() -> None:
    assert (await _sent_headers(DELIVERY))["traceparent"] == TRACEPARENT
    assert "traceparent" not in await _sent_headers(dataclasses.replace(DELIVERY, traceparent=None))
    with recorded_spans() as spans:
        sent = (await _sent_headers(DELIVERY))["traceparent"]
    request = span_named(spans, "POST")
    assert trace_id_of(sent) == TRACE_ID
    assert sent.split("-")[2] == _hex(request.context.span_id)
