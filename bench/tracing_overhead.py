"""What tracing costs on each hop's hot path (shared/tracing.py), in microseconds of CPU per call: off
with no trace context, off passing a caller's context through, and on (the SDK with a batch processor
whose exporter drops the spans, so no network is measured). No stack needed.

    .venv/bin/python -m bench.tracing_overhead [--calls 20000]
"""

import argparse
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from shared import tracing

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
EVENT_HEADERS = [("ce_specversion", b"1.0"), ("ce_id", b"6f1c2a54"), ("ce_type", b"order.created")]


class _Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _hops(traceparent: str | None) -> dict[str, Callable[[], object]]:
    asgi = [(b"content-type", b"application/json")]
    kafka = list(EVENT_HEADERS)
    if traceparent is not None:
        asgi.append((b"traceparent", traceparent.encode()))
        kafka.append(("traceparent", traceparent.encode()))

    def request_and_event() -> object:
        with tracing.server_span("POST", "/orders", asgi) as span:
            headers = tracing.outgoing_event_headers("orders.events", "6f1c2a54", "7")
            tracing.describe_response(span, "POST", "/orders", 201)
        return headers

    def consumed_record() -> object:
        with tracing.consumer_span("orders.events", 3, 42, b"7", kafka):
            return tracing.current_trace_context()

    def delivery() -> object:
        with tracing.client_span(traceparent, None, "POST", "https://hooks.example/x", 0):
            headers = tracing.current_trace_context()
            tracing.describe_answer(204, None)
        return headers

    return {"request + its event": request_and_event, "consumed record": consumed_record, "delivery": delivery}


def _microseconds(call: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    calls = parser.parse_args().calls
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Dropped(), max_queue_size=calls * 2))
    rows = []
    for label, tracer_provider, traceparent in (
        ("off, no context", None, None),
        ("off, passed through", None, TRACEPARENT),
        ("on, new trace", provider, None),
        ("on, continued", provider, TRACEPARENT),
    ):
        tracing.use(tracer_provider)
        rows.append((label, {hop: _microseconds(call, calls) for hop, call in _hops(traceparent).items()}))
    tracing.use(None)
    provider.shutdown()
    hops = list(rows[0][1])
    print(f"{'µs of CPU per call':<22}" + "".join(f"{hop:>22}" for hop in hops))
    for label, figures in rows:
        print(f"{label:<22}" + "".join(f"{figures[hop]:>22.1f}" for hop in hops))


if __name__ == "__main__":
    main()
