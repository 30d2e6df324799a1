"""The limit per API key (shared/key_rate_limit.py) on two order_api instances: they share one budget per
key (counted in Postgres), a key over it gets 429 `rate_limited` with Retry-After and the IETF RateLimit
headers from either instance, and another key, unlimited, is served meanwhile."""

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from shared.auth import ALL_SCOPES, LOCAL_API_KEY
from shared.services import ORDER_API
from tests.e2e.conftest import FAST_SETTINGS, LOG_DIR
from tests.support.processes import ServiceProcess, all_running

LIMIT = 4
WINDOW_SECONDS = 24 * 3600  # one window for the whole test
LIST_PATH = "/orders?limit=1"  # Digital River's list: a keyed read answering RFC 9457 problems


@pytest.fixture
def limited_key() -> str:
    return f"limited-{uuid.uuid4()}"  # a fresh key, so no earlier run has spent its budget


@pytest.fixture
def two_instances(stack: tuple[str, str], limited_key: str) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    settings = {
        **FAST_SETTINGS,
        "ORDER_API_API_KEYS": json.dumps({LOCAL_API_KEY: [ALL_SCOPES], limited_key: ["orders:read"]}),
        "ORDER_API_API_KEY_RATE_LIMITS": json.dumps({limited_key: LIMIT}),
        "ORDER_API_API_KEY_RATE_WINDOW_SECONDS": str(WINDOW_SECONDS),
    }
    with all_running([ServiceProcess(ORDER_API, stack, LOG_DIR, settings) for _ in range(2)]) as instances:
        yield instances[0], instances[1]


def _remaining(response: httpx.Response) -> int:
    found = re.fullmatch(r'"api-key";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert found is not None, response.headers["ratelimit"]
    assert 0 < int(found.group(2)) <= WINDOW_SECONDS
    return int(found.group(1))


async def test_two_instances_share_a_keys_budget_and_refuse_it_past_the_limit_only(
    two_instances: tuple[ServiceProcess, ServiceProcess], limited_key: str
) -> None:
    first, second = (instance.url for instance in two_instances)
    limited = {"authorization": f"Bearer {limited_key}"}
    async with httpx.AsyncClient(timeout=20.0) as http:
        remaining = []
        for turn in range(LIMIT):  # alternately on each instance: one budget
            answer = await http.get((first, second)[turn % 2] + LIST_PATH, headers=limited)
            assert answer.status_code == 200, answer.text
            assert answer.headers["ratelimit-policy"] == f'"api-key";q={LIMIT};w={WINDOW_SECONDS}'
            remaining.append(_remaining(answer))
        assert remaining == [3, 2, 1, 0]

        for url in (first, second):
            refused = await http.get(url + LIST_PATH, headers=limited)
            assert (refused.status_code, refused.headers["content-type"]) == (429, "application/problem+json")
            assert refused.json()["code"] == "rate_limited"
            assert _remaining(refused) == 0
            assert 0 < int(refused.headers["retry-after"]) <= WINDOW_SECONDS

        # Another key is not held back by this one's budget, nor limited at all; open paths are not counted.
        other = await http.get(first + LIST_PATH, headers={"authorization": f"Bearer {LOCAL_API_KEY}"})
        assert other.status_code == 200, other.text
        assert "ratelimit" not in other.headers
        assert (await http.get(second + "/health/live")).status_code == 200
