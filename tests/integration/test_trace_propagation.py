"""One trace from an HTTP request to its webhook, in one process on the real Postgres and Kafka, with
tracing on into the SDK's in-memory exporter: the request's server span (the real request middleware)
writes an event to the outbox, the real relay publishes it, the idempotent consumer processes the
record with the dispatcher's fan-out (which also writes a follow-up event, as a consumer that
publishes does), and a courier delivers the message to a loopback receiver. And a batch's records, each
in the trace it came with."""

from ipaddress import ip_network

import asyncpg
import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan

from services.webhook_dispatcher import store
from services.webhook_dispatcher.delivery import Courier
from services.webhook_dispatcher.domain import generate_secret
from services.webhook_dispatcher.http_client import ConnectionPool
from services.webhook_dispatcher.safe_http import Destinations
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared import outbox
from shared.consumer import IdempotentConsumer
from shared.db import Connection
from shared.events import Envelope, decode_forwardable
from shared.kafka import EventProducer, OutgoingRecord
from shared.outbox import OutboxRelay
from shared.request_context import RequestContextMiddleware
from shared.services import WEBHOOK_DISPATCHER
from tests.support.kafka import read_records
from tests.support.receiver import WebhookReceiver
from tests.support.scratch import scratch_schema
from tests.support.tracing import recorded_spans, span_named, trace_id_of
from tests.support.webhooks import order_event

ENDPOINT = {"description": "", "event_types": [], "ordered": False, "headers": {}, "rate_limit": None}


def _order_app(pool: asyncpg.Pool, topic: str) -> FastAPI:
    """A create route as order_api's: the change's event goes to the outbox in the request's transaction."""
    app = FastAPI()

    @app.post("/orders", status_code=201)
    async def create() -> dict[str, str]:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, topic, order_event(7, 1))
        return {"id": "7"}

    app.add_middleware(RequestContextMiddleware)
    return app


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_create_and_its_webhook_are_one_trace(
    stack: tuple[str, str], scratch_topic: str, producer: EventProducer
) -> None:
    settings = DispatcherSettings()
    destinations = Destinations([ip_network("127.0.0.0/8")], require_https=False)
    with WebhookReceiver() as receiver, recorded_spans() as spans:
        async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as pool:
            service = WebhookService(pool, settings, destinations=destinations)
            async with pool.acquire() as conn:
                await store.insert_endpoint(conn, {**ENDPOINT, "url": receiver.url}, generate_secret())

            transport = httpx.ASGITransport(_order_app(pool, scratch_topic))
            async with httpx.AsyncClient(transport=transport, base_url="http://order-api") as client:
                assert (await client.post("/orders")).status_code == 201

            async with pool.acquire() as conn:
                relay = OutboxRelay(pool, await conn.fetchval("SELECT current_schema()"), producer)
                assert await relay.publish_pending(conn) == 1
            [record] = await read_records(stack[1], scratch_topic, lambda _: True, expect=1)

            async def fan_out_and_publish(conn: Connection, event: Envelope) -> None:
                await service.fan_out(conn, event)
                await outbox.enqueue(conn, scratch_topic, order_event(7, 2, "order.updated"))

            await IdempotentConsumer(pool, producer, "tests").process(record, fan_out_and_publish, decode_forwardable)
            [delivery] = await service.claim_due(10, {})
            courier = Courier(service, settings, lambda: ConnectionPool(destinations, connect_timeout=5.0, max_idle=1))
            await courier.deliver(delivery)
            await courier.endpoints.close()
            follow_up = await pool.fetchval("SELECT headers FROM outbox WHERE sent_at IS NULL")

    server = span_named(spans, "POST /orders")
    creates = sorted(
        (span for span in spans.get_finished_spans() if span.name == f"create {scratch_topic}"),
        key=lambda span: span.start_time or 0,
    )
    process = span_named(spans, f"process {scratch_topic}")
    request = span_named(spans, "POST")
    assert {span.context.trace_id for span in spans.get_finished_spans()} == {server.context.trace_id}
    assert server.parent is None  # the request came without traceparent: its server span began the trace
    assert [_parent_id(span) for span in creates] == [server.context.span_id, process.context.span_id]
    assert _parent_id(process) == creates[0].context.span_id
    assert _parent_id(request) == process.context.span_id

    trace_id = format(server.context.trace_id, "032x")
    [received] = receiver.received()
    assert trace_id_of(received.headers["traceparent"]) == trace_id
    assert received.headers["traceparent"].split("-")[2] == format(request.context.span_id, "016x")
    # The event the consumer wrote carries its create span's context, child of the consumer's span.
    traceparent = dict(follow_up)["traceparent"]
    assert trace_id_of(traceparent) == trace_id
    assert traceparent.split("-")[2] == format(creates[1].context.span_id, "016x")


async def test_each_record_of_a_batch_is_processed_in_its_own_trace(
    stack: tuple[str, str], scratch_topic: str, producer: EventProducer, scratch_pool: asyncpg.Pool
) -> None:
    callers = {
        7: "00-11111111111111111111111111111111-1111111111111111-01",
        8: "00-22222222222222222222222222222222-2222222222222222-01",
    }
    events = {order_id: order_event(order_id, 1) for order_id in callers}
    await producer.send_all(
        [
            OutgoingRecord(
                scratch_topic, event.key, event.body(), [*event.headers(), ("traceparent", callers[order_id].encode())]
            )
            for order_id, event in events.items()
        ]
    )
    records = await read_records(stack[1], scratch_topic, lambda _: True, expect=2)

    async def publish_on(conn: Connection, event: Envelope) -> None:
        await outbox.enqueue(conn, scratch_topic, order_event(int(event.subject), 2, "order.updated"))

    with recorded_spans() as spans:
        await IdempotentConsumer(scratch_pool, producer, "tests").process_batch(records, publish_on, decode_forwardable)
    rows = await scratch_pool.fetch("SELECT key, headers FROM outbox")

    processes = [span for span in spans.get_finished_spans() if span.name == f"process {scratch_topic}"]
    # One consumer span per record, each the child of the span its record's traceparent names.
    parents = {format(span.context.trace_id, "032x"): span.parent for span in processes}
    assert {trace_id: format(parent.span_id, "016x") for trace_id, parent in parents.items() if parent} == {
        trace_id_of(traceparent): traceparent.split("-")[2] for traceparent in callers.values()
    }
    assert len(processes) == 2
    assert {row["key"]: trace_id_of(dict(row["headers"])["traceparent"]) for row in rows} == {
        str(order_id): trace_id_of(traceparent) for order_id, traceparent in callers.items()
    }
