"""API keys with scopes: `Authorization: Bearer <key>`, keys configured per service.

`<PREFIX>API_KEYS` is a JSON object mapping each key to its scopes, e.g.
`{"k3y": ["webhooks:admin"]}`; the scope `*` grants every scope. The local default is one key,
`dev-admin-key`, with every scope: set `<PREFIX>API_KEYS` outside local development. A missing or
unknown key answers 401 `unauthorized`, a key without the route's scope 403 `forbidden`. Keys are
compared in constant time, all of them every time, so timing tells nothing about which one is close.
"""

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problems import Problem, problem_response
from shared.settings import ServiceSettings

LOCAL_API_KEY: Final = "dev-admin-key"
ALL_SCOPES: Final = "*"


class ApiKeySettings(ServiceSettings):
    api_keys: dict[str, list[str]] = Field(default_factory=lambda: {LOCAL_API_KEY: [ALL_SCOPES]})


def scopes_of(api_keys: Mapping[str, Sequence[str]], presented: str) -> Sequence[str] | None:
    """The scopes of `presented`, or None when it is no configured key."""
    found: Sequence[str] | None = None
    for key, scopes in api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


def _unauthorized() -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Send a valid API key as `Authorization: Bearer <key>`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def has_scope(scopes: Sequence[str], scope: str) -> bool:
    return scope in scopes or ALL_SCOPES in scopes


def authorize(scopes: Sequence[str] | None, scope: str) -> Sequence[str]:
    """`scopes` (a presented key's, None when there is no valid key); the 401/403 problem unless they
    hold `scope`."""
    if scopes is None:
        raise _unauthorized()
    if not has_scope(scopes, scope):
        raise Problem(403, "forbidden", f"This API key lacks the scope {scope!r}.")
    return scopes


# Documents the scheme in OpenAPI; the key itself is checked once, by AuthenticationMiddleware.
_bearer = HTTPBearer(auto_error=False, description="An API key, as `Authorization: Bearer <key>`")
_SCOPES_STATE: Final = "api_key_scopes"


def require_scope(scope: str) -> Callable[..., Awaitable[Sequence[str]]]:
    """A route dependency: the request's key (authenticated by `AuthenticationMiddleware`) must hold
    `scope`. It gives the key's scopes, for a route that does more for a caller that may do more."""

    async def check(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Sequence[str]:
        return authorize(getattr(request.state, _SCOPES_STATE, None), scope)

    return check


# Paths every service serves to anyone: health, metrics, and the API's own documentation.
OPERATIONS_PATHS: Final = frozenset({"/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs", "/redoc"})


def bearer_token(authorization: str) -> str | None:
    """The credentials of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class AuthenticationMiddleware:
    """401 for a request without a valid API key, before anything reads its body: a stranger's
    request is not buffered, parsed or validated. Which scope a route needs is checked by the route
    (403). Paths in `OPERATIONS_PATHS`, under `/docs/`, and under any of `public_prefixes` are open."""

    def __init__(
        self, app: ASGIApp, api_keys: Mapping[str, Sequence[str]], public_prefixes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.api_keys = api_keys
        self.public_prefixes = ("/docs/", *public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path in OPERATIONS_PATHS or path.startswith(self.public_prefixes):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization", ""))
        scopes = scopes_of(self.api_keys, token) if token is not None else None
        if scopes is None:
            refusal = _unauthorized()
            response = problem_response(refusal.status, refusal.code, refusal.detail, headers=refusal.headers)
            await response(scope, receive, send)
            return
        # What the routes' scope checks read (request.state).
        scope.setdefault("state", {})[_SCOPES_STATE] = scopes
        await self.app(scope, receive, send)
