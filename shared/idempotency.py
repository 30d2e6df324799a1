"""`Idempotency-Key` on POSTs: a retried request gets the first one's answer, not a second effect.
order_api and the webhook dispatcher take it, each keeping its keys in a table of its own schema
(shared/idempotency_keys.py).

Keys belong to the API key that sent them, directly or through an access token issued for it (two
clients cannot collide; shared.auth.principal), and live in Postgres for
`idempotency_ttl_seconds` (24 h), so a retry that reaches another instance is answered the same way:
- same key, same request (method, path, query, JSON body) after it finished: the first response
  again (status, body, headers) with `Idempotent-Replayed: true`;
- same key, another request: 422 `idempotency_key_reused`;
- same key while the first is still being processed: 409 `idempotency_key_in_use` (retry shortly).
Only a successful (2xx) answer is remembered. An error changed nothing (bad input never writes), so
its key is released and the corrected request may use it again. Requests without a valid API key
pass through untouched: the route refuses them, and strangers cannot fill the table.

One gap remains by design: were an instance to die between committing a change and recording the
answer (a few milliseconds), the retry after the key's lease runs again (order_api's Digital River
`upstreamId` closes that gap for clients that need it, since it is checked in the order's own
transaction).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from fastapi import FastAPI
from pydantic import Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import ApiKeySettings, principal
from shared.fingerprints import fingerprint as digest
from shared.problems import problem_response

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
MAX_KEY_LENGTH: Final = 255

_KEY_PARAMETER: Final = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same request within the key's lifetime (24 hours "
    f"by default) gets the first answer again (marked `{REPLAYED_HEADER}: true`) instead of acting twice. "
    "Keys are per API key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
}
_REPLAYED: Final = {
    "description": "`true` when this is the remembered answer to an earlier request with the same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What an Idempotency-Key holds: the first request's fingerprint and, once it finished, its answer."""

    fingerprint: str
    status: int | None  # None while the first request is still in flight
    headers: list[tuple[str, str]]
    body: bytes


class KeyStore(Protocol):
    """Where a service keeps its keys (a use case over shared/idempotency_keys.py's rows)."""

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        """Take `key` for this request (None), or the record of the request that holds it."""

    async def keep_answer(
        self, principal: str, key: str, *, status: int, headers: Sequence[tuple[str, str]], body: bytes, path: str
    ) -> None:
        """Remember the answer of the request (to `path`) that held `key`, for its retries."""

    async def release_key(self, principal: str, key: str) -> None:
        """Let `key` go unremembered (its request failed and changed nothing): it may be used again."""


class IdempotencySettings(ApiKeySettings):
    """A keyed service whose POSTs take an Idempotency-Key."""

    # A POST's Idempotency-Key is remembered this long; the same key later is a new request.
    idempotency_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    # A request holding a key counts as in flight this long at most, so a key whose instance died
    # mid-request is usable again afterwards instead of answering 409 for a day.
    idempotency_lease_seconds: float = Field(default=60.0, gt=0)


def document(app: FastAPI, problems: Mapping[int | str, dict[str, Any]]) -> None:
    """Show the header, and what it adds, on every keyed POST of the OpenAPI document: the middleware
    is outside what FastAPI sees of the routes. `problems` documents the 409 and 422 it answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in generate()["paths"].values():
                post = operations.get("post")
                if post is not None and post.get("security"):
                    post.setdefault("parameters", []).append(_KEY_PARAMETER)
                    for status, response in post["responses"].items():
                        if status.startswith("2"):
                            response.setdefault("headers", {})[REPLAYED_HEADER] = _REPLAYED
                    for status, response in problems.items():
                        post["responses"].setdefault(str(status), response)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


class IdempotencyMiddleware:
    """Inside authentication (keys belong to a caller) and the body limit (it reads bodies); `guards`
    gives the service's key store for a request's scope."""

    def __init__(self, app: ASGIApp, settings: IdempotencySettings, guards: Callable[[Scope], KeyStore]) -> None:
        self.app = app
        self.settings = settings
        self.guards = guards

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        caller = principal(scope)
        if key is None or caller is None:
            await self.app(scope, receive, send)
            return
        if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
            response = problem_response(
                400,
                "invalid_idempotency_key",
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID.",
                errors=[{"field": HEADER, "message": "1-255 printable ASCII characters"}],
            )
            await response(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        fingerprint = request_fingerprint(scope, body)
        guards = self.guards(scope)
        record = await guards.claim_key(
            caller,
            key,
            fingerprint,
            lease_seconds=self.settings.idempotency_lease_seconds,
            ttl_seconds=self.settings.idempotency_ttl_seconds,
        )
        if record is not None:
            await _answer_from(record, fingerprint, scope, receive, send)
            return
        claim = _Claim(guards, caller, key, scope["path"])
        await self._first_time(claim, scope, _replaying(body, receive), send)

    async def _first_time(self, claim: "_Claim", scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request holding the key; remember a 2xx answer before the client sees it, so a
        retry arriving the moment the client has it replays it."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except Exception:
            await claim.release()
            raise
        if start is None:
            await claim.release()
            return
        body = b"".join(chunks)
        if 200 <= start["status"] < 300:
            await claim.keep(start, body)
        else:
            await claim.release()
        await send(start)
        await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True, slots=True)
class _Claim:
    """A key this request holds while it runs."""

    guards: KeyStore
    principal: str
    key: str
    path: str

    async def keep(self, start: Message, body: bytes) -> None:
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in start["headers"]]
        await self.guards.keep_answer(
            self.principal, self.key, status=start["status"], headers=headers, body=body, path=self.path
        )

    async def release(self) -> None:
        await self.guards.release_key(self.principal, self.key)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the connection's own messages."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def request_fingerprint(scope: Scope, body: bytes) -> str:
    """The request as the key remembers it; JSON bodies compare by content, not by their spelling."""
    try:
        content: object = json.loads(body, parse_float=Decimal) if body else None
    except ValueError:
        content = body.hex()
    return digest(
        {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(), "body": content}
    )


async def _answer_from(record: KeyRecord, fingerprint: str, scope: Scope, receive: Receive, send: Send) -> None:
    if record.fingerprint != fingerprint:
        response = problem_response(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was used for a different request; use a new key for a new request.",
            errors=[{"field": HEADER, "message": "already used for a different request"}],
        )
    elif record.status is None:
        response = problem_response(
            409,
            "idempotency_key_in_use",
            f"A request with this {HEADER} is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    else:
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in record.headers]
        headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
        await send({"type": "http.response.start", "status": record.status, "headers": headers})
        await send({"type": "http.response.body", "body": record.body})
        return
    await response(scope, receive, send)
