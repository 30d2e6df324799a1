"""The HTTP guards through their use cases (services/order_api/service/guards.py) on the store in memory:
rate limits, and the Idempotency-Key middleware's whole exchange (replay, reuse, in flight, release).
No I/O."""

import json
import time
from collections.abc import Awaitable, Callable

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from services.order_api.api.idempotency import IdempotencyMiddleware
from services.order_api.service.errors import RateLimited
from services.order_api.service.guards import HttpGuards
from services.order_api.settings import OrderApiSettings
from shared.auth import AuthenticationMiddleware, KeyRing
from tests.support.asgi import Exchange, http_scope
from tests.support.fake_store import FakeDatabase

SETTINGS = OrderApiSettings(api_keys={"good-key": ["orders:write"]}, idempotency_ttl_seconds=3600)
LIMITS = [("ip:1", 2), ("number:1001", 3)]


@pytest.fixture
def guards(database: FakeDatabase) -> HttpGuards:
    return HttpGuards(database)


# ---- rate limits ------------------------------------------------------------------------------------


async def test_requests_beyond_a_limit_wait_until_the_window_ends(database: FakeDatabase, guards: HttpGuards) -> None:
    database.tables.http_guards.now = 15.0
    await guards.limit_rate(LIMITS, 60)
    await guards.limit_rate(LIMITS, 60)

    with pytest.raises(RateLimited) as limited:
        await guards.limit_rate(LIMITS, 60)

    assert limited.value.retry_after == 45
    database.tables.http_guards.now = 60.0  # the next window
    await guards.limit_rate(LIMITS, 60)


async def test_the_wait_is_at_least_a_second(database: FakeDatabase, guards: HttpGuards) -> None:
    database.tables.http_guards.now = 59.9
    for _ in range(2):
        await guards.limit_rate(LIMITS, 60)

    with pytest.raises(RateLimited) as limited:
        await guards.limit_rate(LIMITS, 60)

    assert limited.value.retry_after == 1


async def test_a_limit_on_failures_refuses_once_that_many_failed_and_checking_counts_nothing(
    database: FakeDatabase, guards: HttpGuards
) -> None:
    database.tables.http_guards.now = 15.0
    for _ in range(5):
        await guards.check_rate(LIMITS, 60)  # attempts that did not fail: never counted
    await guards.count(["ip:1"], 60)
    await guards.check_rate(LIMITS, 60)
    await guards.count(["ip:1"], 60)  # the second failure: ip:1 allows 2

    with pytest.raises(RateLimited) as limited:
        await guards.check_rate(LIMITS, 60)

    assert limited.value.retry_after == 45
    database.tables.http_guards.now = 60.0  # the next window
    await guards.check_rate(LIMITS, 60)


async def test_purge_drops_the_expired_keys_only(database: FakeDatabase, guards: HttpGuards) -> None:
    await guards.claim_key("p", "old", "f", lease_seconds=60, ttl_seconds=10)
    await guards.claim_key("p", "new", "f", lease_seconds=60, ttl_seconds=1000)
    await guards.limit_rate([("ip:1", 10)], 60)
    database.tables.http_guards.now = 100.0

    await guards.purge(batch_rows=100)

    assert list(database.tables.http_guards.keys) == [("p", "new")]


# ---- Idempotency-Key ------------------------------------------------------------------------------


class CountingApp:
    """Answers each request with the status it is set to and how many requests it has run; runs
    `while_running` (once) before it answers the first."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.runs = 0
        self.while_running: Callable[[], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.runs += 1
        await receive()
        if self.while_running is not None:
            during, self.while_running = self.while_running, None
            await during()
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"x-run", b"%d" % self.runs)]})
        await send({"type": "http.response.body", "body": json.dumps({"run": self.runs}).encode()})


KEYS = KeyRing.of(SETTINGS)


async def post(middleware: ASGIApp, body: bytes, key: str = "k-1", credentials: str = "good-key") -> Exchange:
    exchange = Exchange([body])
    headers = {"authorization": f"Bearer {credentials}", "idempotency-key": key}
    await exchange.run(middleware, http_scope(headers=headers))
    return exchange


def middleware_on(app: CountingApp, guards: HttpGuards) -> ASGIApp:
    """The middleware inside authentication, as the service composes them: keys belong to a caller."""
    return AuthenticationMiddleware(IdempotencyMiddleware(app, SETTINGS, guards=lambda _: guards), KEYS)


async def test_a_retry_gets_the_first_answer_again_without_running_twice(guards: HttpGuards) -> None:
    app = CountingApp()
    middleware = middleware_on(app, guards)

    first = await post(middleware, b'{"a": 1}')
    again = await post(middleware, b'{ "a":1 }')

    assert app.runs == 1
    assert (first.status, again.status) == (201, 201)
    assert again.sent[1]["body"] == first.sent[1]["body"] == b'{"run": 1}'
    assert (b"idempotent-replayed", b"true") in again.sent[0]["headers"]
    assert (b"x-run", b"1") in again.sent[0]["headers"]


async def test_a_retry_with_an_access_token_for_the_same_key_gets_the_first_answer(guards: HttpGuards) -> None:
    app = CountingApp()
    middleware = middleware_on(app, guards)
    caller = KEYS.key("good-key")
    assert caller is not None
    token = KEYS.issue(caller, 60, time.time()).token

    first = await post(middleware, b'{"a": 1}')
    again = await post(middleware, b'{"a": 1}', credentials=token)

    assert app.runs == 1
    assert (b"idempotent-replayed", b"true") in again.sent[0]["headers"]
    assert again.sent[1]["body"] == first.sent[1]["body"]


async def test_a_key_reused_for_another_request_is_refused(guards: HttpGuards) -> None:
    middleware = middleware_on(CountingApp(), guards)
    await post(middleware, b'{"a": 1}')

    reused = await post(middleware, b'{"a": 2}')

    assert (reused.status, reused.problem["code"]) == (422, "idempotency_key_reused")


async def test_a_retry_while_the_first_request_runs_is_409(guards: HttpGuards) -> None:
    app = CountingApp()
    middleware = middleware_on(app, guards)
    retries: list[Exchange] = []

    async def retry() -> None:
        retries.append(await post(middleware, b'{"a": 1}'))

    app.while_running = retry
    first = await post(middleware, b'{"a": 1}')

    assert (first.status, app.runs) == (201, 1)
    assert (retries[0].status, retries[0].problem["code"]) == (409, "idempotency_key_in_use")


async def test_a_failed_request_releases_its_key_for_the_corrected_one(guards: HttpGuards) -> None:
    app = CountingApp(status=422)
    middleware = middleware_on(app, guards)
    await post(middleware, b'{"a": "bad"}')

    app.status = 201
    corrected = await post(middleware, b'{"a": 1}')

    assert (corrected.status, app.runs) == (201, 2)
