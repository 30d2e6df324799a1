"""Bounded request bodies on every service: 413 past the size limit, 408 when a body stops arriving.

The body is checked while it streams in, before any route or middleware has buffered it, so neither a
large body nor a slow one can hold memory or a connection for long.
"""

import asyncio

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import problem_response


class BodyRefused(HTTPException):
    """Raised while a body streams in. An HTTPException, so FastAPI's body reading lets it through to
    the app's problem handler instead of calling it a malformed body."""

    code = "bad_request"


class BodyTooLarge(BodyRefused):
    code = "payload_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes.")


class BodyTooSlow(BodyRefused):
    code = "request_timeout"

    def __init__(self, seconds: float) -> None:
        # The rest of the body will not arrive: the connection cannot carry another request.
        super().__init__(408, f"The request body did not arrive within {seconds:g} s.", {"Connection": "close"})


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length announces it, else as soon as a
    streamed (chunked) body passes the limit, so an oversized body is never held in memory; 408 when
    the whole body has not arrived `timeout_seconds` after the first read of it."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(BodyTooLarge(self.max_bytes), scope, receive, send)
            return
        received = 0
        deadline: float | None = None
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, deadline, complete
            if complete:  # after the body, receive() only waits for the client to go away
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline if deadline is not None else loop.time() + self.timeout_seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout_seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyRefused as refusal:
            # Raised outside the routes' exception handling (a middleware reading the body first).
            if started:
                raise
            await _refuse(refusal, scope, receive, send)


async def _refuse(refusal: BodyRefused, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(refusal.status_code, refusal.code, refusal.detail, headers=refusal.headers)
    await response(scope, receive, send)
