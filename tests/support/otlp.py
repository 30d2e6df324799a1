"""Reading what an OTLP/HTTP exporter sent: a loopback receiver (tests/support/receiver.py) stands in for
the tracing backend, and its requests' bodies are decoded as the backend would."""

from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.receiver import Received


@dataclass(frozen=True)
class ExportedSpan:
    service: str  # the resource's service.name
    name: str
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_span_id: str  # "" for a root


def exported_spans(requests: Iterable[Received]) -> list[ExportedSpan]:
    """Every span in the export requests, in the order they were sent."""
    found: list[ExportedSpan] = []
    for request in requests:
        exported = ExportTraceServiceRequest()
        exported.ParseFromString(request.body)
        for resource_spans in exported.resource_spans:
            resource = {item.key: item.value.string_value for item in resource_spans.resource.attributes}
            found.extend(
                ExportedSpan(
                    resource.get("service.name", ""),
                    span.name,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                )
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            )
    return found
