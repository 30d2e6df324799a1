"""`POST /oauth/access_token` against the running service: a client that keeps presenting wrong API keys
is made to wait (429 `slow_down`, `Retry-After`), even with the right key, while another client still
gets its token; the limit's windows hold no client address."""

import random
from typing import Final

import asyncpg
import httpx
import pytest

from services.order_api.domain.http_guards import RateLimitBuckets
from shared.auth import LOCAL_API_KEY
from tests.e2e.conftest import RATE_LIMIT_HASH_KEY
from tests.support.processes import ServiceProcess

TOKEN_PATH: Final = "/oauth/access_token"
FAILURES: Final = 10  # ORDER_API_TOKEN_FAILURES_PER_CLIENT's default


@pytest.fixture
def api(system: dict[str, ServiceProcess]) -> str:
    return system["order_api"].url


def client_ip() -> str:
    """A client address of its own (the service trusts X-Forwarded-For from loopback, as from a proxy)."""
    return f"203.0.{random.randrange(114)}.{random.randrange(1, 255)}"


async def token_for(api: str, key: str, ip: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "storefront", "client_secret": key}
    async with httpx.AsyncClient(timeout=20.0) as client:
        return await client.post(api + TOKEN_PATH, data=form, headers={"x-forwarded-for": ip})


async def test_a_client_guessing_keys_is_made_to_wait_and_nobody_else(api: str, admin_db: asyncpg.Connection) -> None:
    guesser, other = client_ip(), client_ip()
    assert (await token_for(api, LOCAL_API_KEY, guesser)).status_code == 200  # a token issued: not counted

    guesses = [await token_for(api, f"guess-{n}", guesser) for n in range(FAILURES)]
    assert [guess.status_code for guess in guesses] == [401] * FAILURES
    # The next is refused unchecked, the right key included; should the minute have turned meanwhile,
    # within 10 more guesses.
    for n in range(FAILURES + 1):
        limited = await token_for(api, LOCAL_API_KEY if n == 0 else f"more-{n}", guesser)
        if limited.status_code == 429:
            break
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"] == "slow_down"
    assert "access_token" not in limited.json()
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["cache-control"] == "no-store"
    assert (await token_for(api, LOCAL_API_KEY, guesser)).status_code == 429

    issued = await token_for(api, LOCAL_API_KEY, other)
    assert issued.status_code == 200, issued.text
    assert issued.json()["access_token"]

    buckets = [row["bucket"] for row in await admin_db.fetch("SELECT bucket FROM order_api.rate_windows")]
    assert not [bucket for bucket in buckets if guesser in bucket]
    assert RateLimitBuckets(RATE_LIMIT_HASH_KEY.encode()).of_token_failures(guesser) in buckets
    assert RateLimitBuckets(RATE_LIMIT_HASH_KEY.encode()).of_token_failures(other) not in buckets
