"""The limit per API key on keyed routes: at most the key's `rate_limit` requests (ApiKeySettings) in each
fixed window, counted in the service's `rate_windows` (shared/rate_limits.py), so every instance
shares the key's one budget. A request over it answers 429 `rate_limited` with `Retry-After`; every answer
to a limited key says where it stands in the IETF headers (draft-ietf-httpapi-ratelimit-headers):
`RateLimit-Policy: "api-key";q=<limit>;w=<window seconds>` and `RateLimit: "api-key";r=<left>;t=<seconds
until the window ends>`. An access token counts against the key it stands for.
"""

import math
from dataclasses import dataclass
from typing import Final

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import ApiKeySettings, caller_of
from shared.logging import get_logger
from shared.problems import problem_response
from shared.rate_limits import RateLimitWindows

log = get_logger(__name__)

POLICY: Final = "api-key"


@dataclass(frozen=True, slots=True)
class Quota:
    """Where a key stands in its current window."""

    limit: int
    window_seconds: int
    hits: int
    reset_seconds: int  # until the window ends, at least 1

    @property
    def exceeded(self) -> bool:
        return self.hits > self.limit

    def headers(self) -> dict[str, str]:
        remaining = max(0, self.limit - self.hits)
        return {
            "RateLimit-Policy": f'"{POLICY}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{POLICY}";r={remaining};t={self.reset_seconds}',
        }


def bucket_of(principal: str) -> str:
    """The bucket of a key's requests; the principal is a digest of the key, never the key."""
    return f"{POLICY}:{principal}"


def limits_keys(settings: ApiKeySettings) -> bool:
    """Whether any of the service's keys is limited."""
    return any(settings.rate_limit_of(key) is not None for key in settings.api_keys)


class KeyRateLimitMiddleware:
    """Counts each request of a limited key (after AuthenticationMiddleware found it) and refuses the ones
    over its limit before the route runs. The service's pool is its runtime's (`app.state.runtime`)."""

    def __init__(self, app: ASGIApp, window_seconds: int) -> None:
        self.app = app
        self.window_seconds = window_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = caller_of(scope) if scope["type"] == "http" else None
        if caller is None or caller.rate_limit is None:
            await self.app(scope, receive, send)
            return
        pool: asyncpg.Pool = scope["app"].state.runtime.pool
        async with pool.acquire() as conn:
            (counted,) = await RateLimitWindows(conn).count_hits([bucket_of(caller.principal)], self.window_seconds)
        quota = Quota(
            caller.rate_limit, self.window_seconds, counted.hits, max(1, math.ceil(counted.remaining_seconds))
        )
        headers = quota.headers()
        if quota.exceeded:
            refusal = problem_response(
                429,
                "rate_limited",
                f"This API key may make {quota.limit} requests every {quota.window_seconds} s; "
                "wait as long as Retry-After says before trying again.",
                headers={**headers, "Retry-After": str(quota.reset_seconds)},
            )
            await refusal(scope, receive, send)
            return
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *encoded]
            await send(message)

        await self.app(scope, receive, send_with_quota)
