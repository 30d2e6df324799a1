"""A dialect's error shape for every problem document answered under its path prefix.

The platform's edge (the API-key check, scopes, the body limit, malformed JSON, the database's absence)
and the routes' own refusals answer RFC 9457 problem documents with a field list. A dialect whose
clients read another shape installs `DialectErrors` with its prefix and its `reshape` function: each
`application/problem+json` answer under the prefix is parsed, reshaped and sent on; every other answer
(a dialect's own JSON errors included) passes untouched. It sits outside every other middleware, so the
edge's answers are reshaped too.
"""

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import PROBLEM_JSON

Reshape = Callable[[dict[str, Any]], dict[str, Any]]


class DialectErrors:
    """ASGI middleware: problem documents answered under `prefix` are rewritten by `reshape`."""

    def __init__(self, app: ASGIApp, prefix: str, reshape: Reshape) -> None:
        self.app = app
        self.prefix = prefix
        self.reshape = reshape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reshaping(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and _is_problem(message):
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self._reshaped(b"".join(chunks))
            headers = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, reshaping)

    def _reshaped(self, body: bytes) -> bytes:
        try:
            problem = json.loads(body)
        except ValueError:
            return body
        if not isinstance(problem, dict):
            return body
        return json.dumps(self.reshape(problem), ensure_ascii=False, separators=(",", ":")).encode()


def _is_problem(start: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip() == PROBLEM_JSON.encode()
        for name, value in start["headers"]
    )
