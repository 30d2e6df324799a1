"""API keys with scopes: `Authorization: Bearer <key>`, keys configured per service; or, in the key's
stead, an access token issued for it (shared/access_tokens.py), with the key's scopes.

`<PREFIX>API_KEYS` is a JSON object mapping each key to its scopes, e.g.
`{"k3y": ["webhooks:admin"]}`; the scope `*` grants every scope. The local default is one key,
`dev-admin-key`, with every scope: set `<PREFIX>API_KEYS` outside local development. A missing or
unknown key, or a forged or expired token, answers 401 `unauthorized`, a key without the route's scope
403 `forbidden`. Keys are compared in constant time, all of them every time, so timing tells nothing
about which one is close.
"""

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.access_tokens import TokenSigner
from shared.problems import Problem, problem_response
from shared.settings import SET_WHEN_DEPLOYED, HmacKey, ServiceSettings

LOCAL_API_KEY: Final = "dev-admin-key"
ALL_SCOPES: Final = "*"


class ApiKeySettings(ServiceSettings):
    api_keys: Annotated[dict[str, list[str]], SET_WHEN_DEPLOYED] = Field(
        default_factory=lambda: {LOCAL_API_KEY: [ALL_SCOPES]}
    )
    # Signs access tokens. Unset, it is derived from `api_keys`, so instances with the same keys accept
    # each other's tokens and a change of keys voids them all. A service accepts another's tokens when
    # both have the token's key and the same secret.
    access_token_secret: HmacKey | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request's credentials (an API key, or a token issued for one) stand for."""

    # A digest of the API key (never the key): what the key's requests are remembered under.
    principal: str
    scopes: Sequence[str]
    # How access tokens name the key.
    key_id: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: int  # epoch seconds


class KeyRing:
    """A service's API keys, and the access tokens standing for them."""

    def __init__(self, api_keys: Mapping[str, Sequence[str]], token_secret: bytes | None = None) -> None:
        self._signer = TokenSigner(token_secret if token_secret is not None else _derived_secret(api_keys))
        self._keys = [
            (key, Caller(hashlib.sha256(key.encode()).hexdigest(), scopes, self._signer.key_id(key)))
            for key, scopes in api_keys.items()
        ]
        self._by_key_id = {caller.key_id: caller for _, caller in self._keys}

    @classmethod
    def of(cls, settings: ApiKeySettings) -> "KeyRing":
        secret = settings.access_token_secret
        return cls(settings.api_keys, secret.get_secret_value().encode() if secret is not None else None)

    def key(self, presented: str) -> Caller | None:
        """Who `presented` is, if it is a configured API key (access tokens are not keys)."""
        found: Caller | None = None
        for key, caller in self._keys:
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = caller
        return found

    def caller(self, presented: str, now: float) -> Caller | None:
        """Who `presented` is: a configured API key, or an unexpired token issued for one still configured."""
        found = self.key(presented)
        if found is not None:
            return found
        token = self._signer.read(presented)
        if token is None or token.expired(now):
            return None
        return self._by_key_id.get(token.key_id)

    def issue(self, caller: Caller, ttl_seconds: int, now: float) -> IssuedToken:
        """A token standing for `caller`'s key for `ttl_seconds` from `now`."""
        expires_at = int(now) + ttl_seconds
        return IssuedToken(self._signer.issue(caller.key_id, expires_at), expires_at)


def _derived_secret(api_keys: Mapping[str, Sequence[str]]) -> bytes:
    return hashlib.sha256(b"access token secret\x00" + json.dumps(sorted(api_keys)).encode()).digest()


def _unauthorized() -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Send a valid API key, or an unexpired access token issued for one, as `Authorization: Bearer <key>`.",
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
_bearer = HTTPBearer(
    auto_error=False, description="An API key, or an access token issued for one, as `Authorization: Bearer <key>`"
)
_SCOPES_STATE: Final = "api_key_scopes"
_PRINCIPAL_STATE: Final = "api_key_principal"


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


def principal(scope: Scope) -> str | None:
    """Whose request this is (`Caller.principal`), as AuthenticationMiddleware found; None on open paths."""
    found: str | None = scope.get("state", {}).get(_PRINCIPAL_STATE)
    return found


class AuthenticationMiddleware:
    """401 for a request without a valid API key or access token, before anything reads its body: a
    stranger's request is not buffered, parsed or validated. Which scope a route needs is checked by the
    route (403). Paths in `OPERATIONS_PATHS`, under `/docs/`, and under any of `public_prefixes` are open."""

    def __init__(self, app: ASGIApp, keys: KeyRing, public_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.keys = keys
        self.public_prefixes = ("/docs/", *public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path in OPERATIONS_PATHS or path.startswith(self.public_prefixes):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization", ""))
        caller = self.keys.caller(token, time.time()) if token is not None else None
        if caller is None:
            refusal = _unauthorized()
            response = problem_response(refusal.status, refusal.code, refusal.detail, headers=refusal.headers)
            await response(scope, receive, send)
            return
        # What the routes' scope checks read (request.state), and whose request it is.
        state = scope.setdefault("state", {})
        state[_SCOPES_STATE] = caller.scopes
        state[_PRINCIPAL_STATE] = caller.principal
        await self.app(scope, receive, send)
