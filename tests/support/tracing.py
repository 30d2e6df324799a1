"""Tracing on, into the SDK's in-memory exporter, for a test: every span ended meanwhile is kept."""

import contextlib
from collections.abc import Iterator

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing


@contextlib.contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on while the block runs (off again afterwards), each span exported as it ends."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


def span_named(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    """The one finished span called `name`."""
    found = [span for span in spans.get_finished_spans() if span.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r} among {[s.name for s in spans.get_finished_spans()]}"
    return found[0]


def trace_id_of(traceparent: str) -> str:
    """The trace id (32 hex digits) of a W3C `traceparent` header."""
    return traceparent.split("-")[1]
