"""A stand-in for the dispatcher's HTTP client (services/webhook_dispatcher/http_client.py) in unit
tests: each POST goes to a handler in the style of httpx.MockTransport, which may answer or raise.
The URL is read as the real client reads it, so one it cannot send to fails the same way."""

from collections.abc import Callable, Mapping

import httpx

from services.webhook_dispatcher.http_client import Response, target

Handler = Callable[[httpx.Request], httpx.Response]


class MockHttp:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.is_closed = False

    async def post(self, url: str, headers: Mapping[str, str], body: bytes, excerpt_bytes: int) -> Response:
        target(url)
        response = self._handler(httpx.Request("POST", url, headers=dict(headers), content=body))
        excerpt = (await response.aread())[:excerpt_bytes]
        return Response(
            response.status_code, {name.lower(): value for name, value in response.headers.items()}, excerpt
        )

    async def aclose(self) -> None:
        self.is_closed = True

    async def __aenter__(self) -> "MockHttp":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
