"""`POST /oauth/access_token`: OAuth 2.0's client credentials grant (RFC 6749 §4.4), with which Elastic
Path's clients (its JavaScript SDK among them) trade their credentials for a bearer token first.

The client authenticates with an API key: `client_secret` is the key; `client_id` is whatever name the
client goes by (keys have no ids: it is logged, not checked, and must only be present). They come
form-encoded in the body, as the SDK sends them, or as HTTP Basic (§2.3.1), not both. The token stands
for the key, with its scopes, for `ORDER_API_ACCESS_TOKEN_TTL_SECONDS`; a requested `scope` is ignored
(§3.3 allows it) and the answer's `scope` says what was granted. The answer has §5.1's fields and
Elastic Path's own (`expires`, epoch seconds, which its SDK reads to know when to ask again, and
`identifier`); it is never cached.

Errors are §5.2's `{"error", "error_description"}`, what OAuth clients read, not problem documents:
`invalid_request` 400 (a body not form-encoded, a parameter missing or repeated, two ways of client
authentication at once), `unsupported_grant_type` 400 (any grant but client credentials), and
`invalid_client` 401 (no client authentication, or no such key).

Guessing keys is slowed down: a client address (as for the guest lookup: X-Forwarded-For from the
proxies in `FORWARDED_ALLOW_IPS`) with `ORDER_API_TOKEN_FAILURES_PER_CLIENT` `invalid_client` refusals
in the current `ORDER_API_TOKEN_FAILURE_WINDOW_SECONDS` window gets 429 with `Retry-After` for every
request until the window ends, before anything it sent is checked. Its error is `slow_down`: §5.2 has no
code for this; `slow_down` is the registered OAuth error (RFC 8628 §3.5) that means "too fast, wait".
Only failures count: a check before the credentials counts nothing, a refusal counts. Requests in
flight at once may all be checked before any failure counts, so a burst may overshoot the limit by as
many requests as it runs in parallel (each a guess); the next request is refused all the same.
"""

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.order_api.api.http import Guards, OrderSettings, client_address
from services.order_api.service.errors import RateLimited
from shared.auth import Caller, KeyRing
from shared.logging import get_logger
from shared.runtime import get_keys

GRANT_PATH: Final = "/oauth/access_token"
GRANT_TYPE: Final = "client_credentials"
BEARER: Final = "Bearer"
_FORM: Final = "application/x-www-form-urlencoded"
# RFC 6749 §5.1: answers holding tokens or credentials are not to be cached.
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_FIELDS: Final = 20

log = get_logger(__name__)
router = APIRouter(tags=["OAuth"])

OAuthErrorCode = Literal["invalid_request", "invalid_client", "unsupported_grant_type", "slow_down"]
_STATUSES: Final[dict[OAuthErrorCode, int]] = {"invalid_client": 401, "slow_down": 429}


class AccessTokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    expires: int
    identifier: Literal["client_credentials"]
    scope: str


class OAuthError(BaseModel):
    error: OAuthErrorCode
    error_description: str


class OAuthRefusal(Exception):
    def __init__(
        self, error: OAuthErrorCode, description: str, *, basic: bool = False, retry_after: int | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.basic = basic  # the client authenticated with HTTP Basic, which a 401 then challenges
        self.retry_after = retry_after  # seconds, for slow_down

    def response(self) -> JSONResponse:
        status = _STATUSES.get(self.error, 400)
        headers = dict(_NO_STORE)
        if status == 401 and self.basic:
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'  # §5.2: the scheme the client used
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        body = OAuthError(error=self.error, error_description=self.description)
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def form_parameters(content_type: str, body: bytes) -> dict[str, str]:
    """The request's parameters: a form-encoded body, each parameter at most once; an empty value counts
    as absent (§3.1)."""
    if content_type.split(";", 1)[0].strip().lower() != _FORM:
        raise OAuthRefusal("invalid_request", f"Send the parameters as {_FORM}, with that Content-Type.")
    try:
        pairs = parse_qsl(
            body.decode(), keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthRefusal(
            "invalid_request", f"The body is not valid {_FORM} (UTF-8, name=value pairs joined by &)."
        ) from None
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if not value:
            continue
        if name in parameters:
            raise OAuthRefusal("invalid_request", f"Send the parameter {name!r} once.")
        parameters[name] = value
    return parameters


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    secret: str
    basic: bool  # sent as HTTP Basic


def client_credentials(parameters: dict[str, str], authorization: str) -> Client:
    """The client's id and secret, from HTTP Basic or the body."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        if "client_id" in parameters or "client_secret" in parameters:
            raise OAuthRefusal(
                "invalid_request", "Authenticate the client one way: HTTP Basic or client_id/client_secret, not both."
            )
        return _basic(encoded.strip())
    client_id, secret = parameters.get("client_id"), parameters.get("client_secret")
    if secret is None:
        raise OAuthRefusal(
            "invalid_client", "Authenticate the client: client_secret (an API key) and client_id (your name)."
        )
    if client_id is None:
        raise OAuthRefusal("invalid_request", "Send client_id (any name for your client) with client_secret.")
    return Client(client_id, secret, basic=False)


def _basic(encoded: str) -> Client:
    """HTTP Basic's client_id:client_secret, each form-encoded first (§2.3.1)."""
    try:
        client_id, colon, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        colon = ""
    if not colon:
        raise OAuthRefusal("invalid_client", "Basic credentials are base64 of client_id:client_secret.", basic=True)
    return Client(unquote(client_id), unquote(secret), basic=True)


_FORM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
        "client_id": {"type": "string", "description": "Any name for your client (required with client_secret)"},
        "client_secret": {"type": "string", "description": "An API key (or send both as HTTP Basic)"},
        "scope": {"type": "string", "description": "Ignored: the token has the key's scopes"},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": OAuthError}


async def _authenticate(request: Request, keys: KeyRing) -> tuple[Client, Caller]:
    """The client and the key it presented; OAuthRefusal for a bad request or no such key."""
    parameters = form_parameters(request.headers.get("content-type", ""), await request.body())
    grant_type = parameters.get("grant_type")
    if grant_type is None:
        raise OAuthRefusal("invalid_request", f"Send grant_type={GRANT_TYPE}.")
    if grant_type != GRANT_TYPE:
        raise OAuthRefusal("unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is supported.")
    client = client_credentials(parameters, request.headers.get("authorization", ""))
    caller = keys.key(client.secret)
    if caller is None:
        raise OAuthRefusal("invalid_client", "client_secret is no API key of this service.", basic=client.basic)
    return client, caller


@router.post(
    GRANT_PATH,
    operation_id="issueAccessToken",
    response_model=AccessTokenAnswer,
    responses={
        400: _error("`invalid_request` or `unsupported_grant_type` (RFC 6749 §5.2)"),
        401: _error("`invalid_client`: no client authentication, or no such API key"),
        429: _error("`slow_down`: too many `invalid_client` refusals from this client; wait `Retry-After` seconds"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {_FORM: {"schema": _FORM_SCHEMA}}}},
)
async def issue_access_token(
    request: Request, settings: OrderSettings, guards: Guards, keys: Annotated[KeyRing, Depends(get_keys)]
) -> Response:
    """A bearer token for an API key's scopes, short-lived (OAuth 2.0 client credentials grant)."""
    failures = settings.rate_limit_buckets().of_token_failures(client_address(request))
    window = settings.token_failure_window_seconds
    try:
        await guards.check_rate([(failures, settings.token_failures_per_client)], window)
        client, caller = await _authenticate(request, keys)
    except RateLimited as limited:
        log.info("access token refused", error="slow_down")
        wait = "Too many failed attempts from this client; wait as long as Retry-After says before trying again."
        return OAuthRefusal("slow_down", wait, retry_after=limited.retry_after).response()
    except OAuthRefusal as refusal:
        log.info("access token refused", error=refusal.error)
        if refusal.error == "invalid_client":
            await guards.count([failures], window)
        return refusal.response()
    ttl = settings.access_token_ttl_seconds
    issued = keys.issue(caller, ttl, time.time())
    log.info("access token issued", client_id=client.id[:100], scopes=list(caller.scopes), expires=issued.expires_at)
    answer = AccessTokenAnswer(
        access_token=issued.token,
        token_type=BEARER,
        expires_in=ttl,
        expires=issued.expires_at,
        identifier=GRANT_TYPE,
        scope=" ".join(caller.scopes),
    )
    return JSONResponse(answer.model_dump(), headers=_NO_STORE)
