"""Tracing on in a real service process: the webhook dispatcher, started with an OTLP endpoint, exports
its spans to a collector (a loopback receiver), and a create sent with a `traceparent` through
order_api (tracing off: it passes the context on) is one trace from the caller to the webhook."""

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx

from tests.support.otlp import ExportedSpan, exported_spans
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.storefront import CREATE_PATH, order_body

TRACE_ID = "5c2e9b2f0c1a4d3e8f7a6b5c4d3e2f1a"
CALLER_SPAN_ID = "1a2b3c4d5e6f7a8b"


async def test_a_traced_dispatcher_exports_the_spans_of_the_webhook_it_sends(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    receiver: WebhookReceiver,
    register_endpoint: Callable[[str, list[str]], Awaitable[str]],
) -> None:
    with WebhookReceiver() as collector:  # answers 204 to every export, which keeps the bodies
        traced = {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "dispatcher-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: export soon after the spans end
        }
        with system["webhook_dispatcher"].restarted(traced):
            await register_endpoint(receiver.url, ["order.created"])
            created = await http.post(
                system["order_api"].url + CREATE_PATH,
                json=order_body(),
                headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"},
            )
            assert created.status_code == 201, created.text
            order_id = created.json()["order"]["id"]

            def for_the_order() -> list[Received]:
                return [r for r in receiver.received() if json.loads(r.body)["data"]["order_id"] == order_id]

            [request] = await eventually(lambda: asyncio.sleep(0, for_the_order()), lambda found: len(found) == 1)

            def of_the_trace() -> dict[str, ExportedSpan]:
                spans = exported_spans(collector.received())
                return {span.name: span for span in spans if span.trace_id == TRACE_ID}

            spans = await eventually(lambda: asyncio.sleep(0, of_the_trace()), lambda found: "POST" in found)

    process, post = spans["process orders.events"], spans["POST"]
    assert {process.service, post.service} == {"dispatcher-under-test"}
    # order_api passed the caller's context on untraced: the dispatcher's consumer span is its child,
    # the delivery's span the consumer span's, and the webhook request carries the delivery span.
    assert process.parent_span_id == CALLER_SPAN_ID
    assert post.parent_span_id == process.span_id
    assert request.headers["traceparent"].split("-")[1:3] == [TRACE_ID, post.span_id]
