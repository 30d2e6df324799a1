"""Every request's context: its correlation id (bound to logs and events, echoed back), its trace
context and server span (shared/tracing.py), its metrics, and the 503 a middleware's database outage
gets. Plain ASGI: it sits on every request's hot path."""

import time
from functools import cache

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import TRANSIENT_DB_ERRORS
from shared.logging import CORRELATION_HEADER, new_correlation_id, usable_correlation_id
from shared.problems import unavailable_response
from shared.tracing import describe_response, server_span

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

_CORRELATION_HEADER = CORRELATION_HEADER.encode()


@cache
def _counted(method: str, route: str, status: str) -> Counter:
    """The request counter of these labels (prometheus_client's `labels` checks and locks on every call)."""
    return HTTP_REQUESTS.labels(method, route, status)


@cache
def _timed(method: str, route: str) -> Histogram:
    return HTTP_LATENCY.labels(method, route)


_NOT_STARTED = 0  # the status recorded while no response has started


class RequestContextMiddleware:
    """Binds the correlation id (taken from `X-Correlation-ID` when usable, else made) to logs and
    events, echoes it back, and records request metrics. Plain ASGI: it sits on every request's hot
    path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = next((value for name, value in scope["headers"] if name == _CORRELATION_HEADER), b"")
        correlation_id = usable_correlation_id(presented.decode("latin-1")) or new_correlation_id()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        status = _NOT_STARTED
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (_CORRELATION_HEADER, correlation_id.encode()),
                ]
            await send(message)

        with server_span(scope["method"], scope["path"], scope["headers"]) as span:
            try:
                await self.app(scope, receive, send_with_id)
            except TRANSIENT_DB_ERRORS as error:  # raised by a middleware, outside the routes' handlers
                if status != _NOT_STARTED:
                    raise
                await unavailable_response(error)(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                # As documented: `{order_id}`, not `{order_id:id}`.
                route_path = getattr(route, "path_format", "unmatched")
                _counted(scope["method"], route_path, str(status or 500)).inc()
                _timed(scope["method"], route_path).observe(time.perf_counter() - started)
                describe_response(span, scope["method"], getattr(route, "path_format", None), status or 500)
                structlog.contextvars.unbind_contextvars("correlation_id")
