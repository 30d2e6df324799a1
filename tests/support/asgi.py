"""Driving ASGI apps and middleware in memory: a request's scope, a client that sends its body in chunks
and records the answer, and an app that reads the whole body."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

App = Callable[[Scope, Receive, Send], Awaitable[None]]


def http_scope(method: str = "POST", headers: dict[str, str] | None = None, path: str = "/com/orders.json") -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in (headers or {}).items()],
    }


class Exchange:
    """Drives an ASGI app with a body in chunks; records how much of it was read and what was sent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.read < len(self.chunks):
            self.read += 1
            return {
                "type": "http.request",
                "body": self.chunks[self.read - 1],
                "more_body": self.read < len(self.chunks),
            }
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    async def run(self, app: App, scope: Scope) -> None:
        await app(scope, self.receive, self.send)

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status

    @property
    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(b"".join(message.get("body", b"") for message in self.sent[1:]))
        return body


async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers 200 with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})
