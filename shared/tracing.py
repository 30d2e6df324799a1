"""OpenTelemetry tracing: one trace from an HTTP request through the outbox, Kafka and the consumers to
a webhook delivery, carried as W3C trace context (`traceparent`, `tracestate`).

The context travels in every hop's own headers: an HTTP request's (or a new trace, started by the
request's server span), then the outbox row's (`shared/outbox.py` stores it with the event's
headers, in the caller's transaction), the Kafka record's (the relay publishes a row's headers as
they are), a consumer's span (its parent taken from the record), the outbox rows and webhook
messages written while that span is current, and a delivery's request.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then
`configure_tracing` installs the SDK with the OTLP/HTTP exporter, both reading the standard `OTEL_*`
variables (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
`OTEL_EXPORTER_OTLP_HEADERS`, ...). Off, no span is made and the SDK is not loaded, but a context
that arrives is passed on unchanged (W3C Trace Context's rule for a participant that does not trace):
a caller's `traceparent` still reaches the events and webhooks its request caused, so a traced caller
and a traced subscriber see one trace through an untraced platform. A request without one starts
nothing then.

Spans never record exception texts (they can quote personal data, which logs mask; see
`shared/log_privacy.py`): a failed span has status ERROR and `error.type`, the exception's class.
"""

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
# Set, either of these turns tracing on (the exporter reads them and the rest of OTEL_*).
ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

TraceContext = Mapping[str, str]  # `traceparent` and, when there is one, `tracestate`
NO_TRACE: TraceContext = {}

_PROPAGATOR: Final = TraceContextTextMapPropagator()
_TRACEPARENT_BYTES: Final = TRACEPARENT.encode()
_UNTRACED_PATHS: Final = ("/health/", "/metrics")  # probes and scrapes: noise, many a minute


class _Tracing:
    """The tracer spans come from; None while tracing is off."""

    tracer: trace.Tracer | None = None


_state = _Tracing()


def use(provider: "trace.TracerProvider | None") -> None:
    """Make spans with `provider`'s tracer from now on (None: tracing off, contexts passed through).
    `configure_tracing` calls it; tests give a provider with an in-memory exporter."""
    _state.tracer = provider.get_tracer("order-events") if provider is not None else None


def configure_tracing(service: str) -> "TracerProvider | None":
    """Turn tracing on when an OTLP endpoint is configured: the SDK's provider, exporting in batches
    over OTLP/HTTP, named `service` unless `OTEL_SERVICE_NAME` names it. The caller shuts it down
    (which flushes); None, and tracing stays off, without an endpoint."""
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        use(None)
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    resource = Resource.create(
        {
            SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service,
            SERVICE_INSTANCE_ID: f"{socket.gethostname()}:{os.getpid()}",
        }
    )
    # The service flushes it within its stop's grace period; an exit hook could block the exit on an
    # unreachable collector.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    return provider


def current_trace_context() -> TraceContext:
    """The current span's context as headers to store or send (NO_TRACE when there is none)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return NO_TRACE
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


# ---- HTTP server ---------------------------------------------------------------------------------


class _AsgiHeaders(Getter[Sequence[tuple[bytes, bytes]]]):
    def get(self, carrier: Sequence[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.encode()
        values = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return values or None

    def keys(self, carrier: Sequence[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_ASGI_HEADERS: Final = _AsgiHeaders()


@contextlib.contextmanager
def server_span(method: str, path: str, headers: Sequence[tuple[bytes, bytes]]) -> Iterator[trace.Span | None]:
    """The context of one HTTP request: its server span, a child of the request's `traceparent` or a
    new trace's root (off: the request's context, passed through). Yields the span, or None when none
    is made; `describe_response` names it once the route and status are known."""
    tracer = _state.tracer
    if tracer is None or path.startswith(_UNTRACED_PATHS):
        if not any(name == _TRACEPARENT_BYTES for name, _ in headers):
            yield None
            return
        with _attached(_PROPAGATOR.extract(headers, getter=_ASGI_HEADERS)):
            yield None
        return
    parent = _PROPAGATOR.extract(headers, getter=_ASGI_HEADERS)
    with _span(tracer, method, parent, trace.SpanKind.SERVER, {"http.request.method": method}) as span:
        yield span


def describe_response(span: trace.Span | None, method: str, route: str | None, status: int) -> None:
    """Name a server span by its route (`POST /orders`) and give it the response's status."""
    if span is None:
        return
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(trace.StatusCode.ERROR)
        span.set_attribute("error.type", str(status))


# ---- Kafka ---------------------------------------------------------------------------------------

KafkaHeaders = Sequence[tuple[str, bytes]]


class _KafkaHeaders(Getter[KafkaHeaders]):
    def get(self, carrier: KafkaHeaders, key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier if name == key and value is not None]
        return values or None

    def keys(self, carrier: KafkaHeaders) -> list[str]:
        return [name for name, _ in carrier]


_KAFKA_HEADERS: Final = _KafkaHeaders()


def outgoing_event_headers(topic: str, event_id: str, key: str) -> list[tuple[str, str]]:
    """The trace headers an event written now carries: those of its `create` span (a child of the
    current span) when tracing, else the current context's, passed on; none outside any trace."""
    tracer = _state.tracer
    if tracer is None:
        return list(current_trace_context().items())
    with tracer.start_as_current_span(
        f"create {topic}",
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "create",
            "messaging.operation.name": "create",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "messaging.kafka.message.key": key,
        },
    ):
        return list(current_trace_context().items())


@contextlib.contextmanager
def consumer_span(topic: str, partition: int, offset: int, key: bytes | None, headers: KafkaHeaders) -> Iterator[None]:
    """The context a record is processed in: a `process <topic>` span whose parent is the record's
    `traceparent` (off: that context, passed through to what the handler writes)."""
    tracer = _state.tracer
    if tracer is None:
        if not any(name == TRACEPARENT for name, _ in headers):
            yield
            return
        with _attached(_PROPAGATOR.extract(headers, getter=_KAFKA_HEADERS)):
            yield
        return
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode("utf-8", "replace")
    event_id = _KAFKA_HEADERS.get(headers, "ce_id")
    if event_id:
        attributes["messaging.message.id"] = event_id[0]
    with _span(
        tracer,
        f"process {topic}",
        _PROPAGATOR.extract(headers, getter=_KAFKA_HEADERS),
        trace.SpanKind.CONSUMER,
        attributes,
    ):
        yield


# ---- webhook deliveries --------------------------------------------------------------------------


@contextlib.contextmanager
def client_span(traceparent: str | None, tracestate: str | None, method: str, url: str, resends: int) -> Iterator[None]:
    """The context of one outgoing request for work that stored its trace context: a client span,
    that context's child (off: the stored context, passed through). Inside, `current_trace_context()`
    gives the request's trace headers."""
    tracer = _state.tracer
    if tracer is None and not traceparent:
        yield
        return
    stored = {name: value for name, value in ((TRACEPARENT, traceparent), (TRACESTATE, tracestate)) if value}
    parent = _PROPAGATOR.extract(stored) if stored else otel_context.Context()
    if tracer is None:
        with _attached(parent):
            yield
        return
    attributes: dict[str, str | int] = {"http.request.method": method}
    with contextlib.suppress(httpx.InvalidURL):  # the request's own failure says what is wrong
        target = httpx.URL(url)
        attributes["server.address"] = target.host
        attributes["server.port"] = target.port or (443 if target.scheme == "https" else 80)
    if resends:
        attributes["http.request.resend_count"] = resends
    with _span(tracer, method, parent, trace.SpanKind.CLIENT, attributes):
        yield


def describe_answer(status: int | None, error: str | None) -> None:
    """Give the current client span its response's status, or its failure."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if status is None or status >= 400:
        span.set_status(trace.StatusCode.ERROR)
        span.set_attribute("error.type", str(status) if status is not None else (error or "error").split(":")[0])


# ---- plumbing ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _attached(context: otel_context.Context) -> Iterator[None]:
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def _span(
    tracer: trace.Tracer,
    name: str,
    parent: otel_context.Context,
    kind: trace.SpanKind,
    attributes: Mapping[str, str | int],
) -> Iterator[trace.Span]:
    """A span around the block; an exception marks it failed by its class alone (never its text)."""
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except Exception as error:
            span.set_status(trace.StatusCode.ERROR)
            span.set_attribute("error.type", type(error).__qualname__)
            raise
