"""The HTTP contract every order route keeps: bounded bodies (413), JSON in (415) and out (406).

Each refusal is a problem document naming the header or body to fix, and comes before any work.
"""

from typing import Final

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem, problem_response

# What the routes answer; errors come as application/problem+json whatever Accept says.
_JSON: Final = "application/json"


class BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit. An HTTPException, so FastAPI's body reading
    lets it through to the app's problem handler instead of calling it a malformed body."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes.")


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length announces it, else as soon as a
    streamed (chunked) body passes the limit, so an oversized body is never held in memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised outside the routes' exception handling (a middleware reading the body first).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(self.max_bytes)
        response = problem_response(413, "payload_too_large", error.detail)
        await response(scope, receive, send)


async def negotiate(request: Request) -> None:
    """A router dependency: 406 unless the client accepts JSON, 415 for a body that is not JSON."""
    accept = request.headers.get("accept")
    if accept and _quality(accept, _JSON) <= 0:
        raise Problem(
            406,
            "not_acceptable",
            "This API answers application/json (errors: application/problem+json); allow it in Accept.",
            errors=[{"field": "Accept", "message": f"{accept[:100]!r} excludes JSON"}],
        )
    if await request.body() and not _is_json(request.headers.get("content-type", "")):
        raise Problem(
            415,
            "unsupported_media_type",
            "Send the request body as JSON, with Content-Type: application/json.",
            errors=[{"field": "Content-Type", "message": "must be application/json"}],
        )


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _quality(accept: str, media_type: str) -> float:
    """The q an Accept header gives `media_type`: that of its most specific matching range, 0 if none."""
    kind = media_type.split("/", 1)[0]
    best_specificity, best_quality = -1, 0.0
    for item in accept.split(","):
        media_range, *parameters = (part.strip().lower() for part in item.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range, -1)
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, _q(parameters)
    return best_quality


def _q(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
