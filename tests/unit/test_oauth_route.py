"""`POST /oauth/access_token` (services/order_api/api/oauth.py) on the app `python -m services.order_api`
serves, without its lifespan, the use cases in memory: the token it issues for an API key opens the
routes that key may use and no others, as Elastic Path's SDK uses it; its refusals in RFC 6749 §5.2's
shape; and the limit on a client's failed requests (the rate-limit windows in memory)."""

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.order_api.__main__ import build
from services.order_api.api import http
from services.order_api.service.guards import HttpGuards
from services.order_api.settings import OrderApiSettings
from shared.services import ORDER_API
from tests.support.fake_store import FakeDatabase, anonymization_service, order_service
from tests.support.order_rules import PARTIALLY_PAID_NEW_CUSTOMER
from tests.support.order_rules import build as build_order

KEYS = '{"anon-key": ["orders:anonymize", "orders:read"], "reader-key": ["orders:read"]}'
FORM = {"content-type": "application/x-www-form-urlencoded"}
TTL = 120
FAILURES = 3


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch, database: FakeDatabase) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("ORDER_API_API_KEYS", KEYS)
    monkeypatch.delenv("ORDER_API_ACCESS_TOKEN_SECRET", raising=False)
    app, _ = build()
    order = build_order(PARTIALLY_PAID_NEW_CUSTOMER).model_copy(update={"id": 11, "status": "cancelled"})
    await database.tables.orders.insert(order, None)
    app.dependency_overrides[http.anonymization_service] = lambda: anonymization_service(database)
    app.dependency_overrides[http.order_service] = lambda: order_service(database)
    app.dependency_overrides[http.http_guards] = lambda: HttpGuards(database)
    app.dependency_overrides[http.order_settings] = lambda: OrderApiSettings(
        access_token_ttl_seconds=TTL, token_failures_per_client=FAILURES, token_failure_window_seconds=60
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as client:
        yield client


async def token_for(api: httpx.AsyncClient, key: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "storefront", "client_secret": key}
    return await api.post("/oauth/access_token", data=form)


async def test_a_key_gets_a_short_lived_bearer_token_in_the_shape_elastic_paths_sdk_reads(
    api: httpx.AsyncClient,
) -> None:
    before = int(time.time())

    answer = await token_for(api, "anon-key")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["token_type"], body["expires_in"], body["identifier"]) == ("Bearer", TTL, "client_credentials")
    assert before + TTL <= body["expires"] <= int(time.time()) + TTL
    assert body["scope"] == "orders:anonymize orders:read"
    assert "anon-key" not in body["access_token"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


async def test_the_token_opens_what_its_key_may_do_and_nothing_more(api: httpx.AsyncClient) -> None:
    anonymizer = (await token_for(api, "anon-key")).json()["access_token"]
    reader = (await token_for(api, "reader-key")).json()["access_token"]
    body = {"data": {"order_ids": ["11"]}}

    refused = await api.post("/v2/orders/anonymize", json=body, headers={"authorization": f"Bearer {reader}"})
    read = await api.get("/v2/orders/11", headers={"authorization": f"Bearer {reader}"})
    anonymized = await api.post("/v2/orders/anonymize", json=body, headers={"authorization": f"Bearer {anonymizer}"})

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (read.status_code, read.json()["data"]["anonymized"]) == (200, False)
    assert anonymized.status_code == 200, anonymized.text
    assert anonymized.json()["data"][0]["contact"] == {"email": "*", "name": "*"}


async def test_an_altered_token_is_401(api: httpx.AsyncClient) -> None:
    token = (await token_for(api, "reader-key")).json()["access_token"]
    unsigned, _, signature = token.rpartition(".")
    forged = f"{unsigned}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"

    answer = await api.get("/v2/orders/11", headers={"authorization": f"Bearer {forged}"})

    assert (answer.status_code, answer.json()["code"]) == (401, "unauthorized")


async def test_http_basic_client_authentication_works_too(api: httpx.AsyncClient) -> None:
    credentials = base64.b64encode(b"storefront:reader-key").decode()

    answer = await api.post(
        "/oauth/access_token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": f"Basic {credentials}"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "orders:read"


def _basic(pair: bytes) -> dict[str, str]:
    return {"authorization": f"Basic {base64.b64encode(pair).decode()}"}


@pytest.mark.parametrize(
    ("form", "headers", "status", "error", "hint"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "nope"},
            {},
            401,
            "invalid_client",
            "client_secret",
        ),
        ({"grant_type": "client_credentials", "client_id": "x"}, {}, 401, "invalid_client", "client_secret"),
        ({"grant_type": "client_credentials"}, _basic(b"x:nope"), 401, "invalid_client", "API key"),
        ({"grant_type": "client_credentials"}, _basic(b"no colon"), 401, "invalid_client", "base64"),
        ({"grant_type": "client_credentials", "client_secret": "reader-key"}, {}, 400, "invalid_request", "client_id"),
        ({"grant_type": "implicit", "client_id": "x"}, {}, 400, "unsupported_grant_type", "client_credentials"),
        (
            {"grant_type": "password", "client_id": "x", "client_secret": "reader-key"},
            {},
            400,
            "unsupported_grant_type",
            "client_credentials",
        ),
        ({"client_id": "x", "client_secret": "reader-key"}, {}, 400, "invalid_request", "grant_type"),
        (
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "reader-key"},
            _basic(b"x:reader-key"),
            400,
            "invalid_request",
            "one way",
        ),
    ],
)
async def test_refusals_follow_rfc_6749(
    api: httpx.AsyncClient, form: dict[str, str], headers: dict[str, str], status: int, error: str, hint: str
) -> None:
    answer = await api.post("/oauth/access_token", data=form, headers=headers)

    assert answer.status_code == status
    body: dict[str, Any] = answer.json()
    assert body["error"] == error
    assert hint in body["error_description"]
    assert answer.headers["cache-control"] == "no-store"
    assert ("www-authenticate" in answer.headers) == ("authorization" in headers and status == 401)


@pytest.mark.parametrize(
    ("content", "headers", "hint"),
    [
        (b'{"grant_type": "client_credentials"}', {"content-type": "application/json"}, "x-www-form-urlencoded"),
        (b"grant_type=client_credentials&grant_type=client_credentials", FORM, "once"),
        (b"grant_type=client_credentials&&client_id=x", FORM, "not valid"),
        (b"grant_type=%ff", FORM, "not valid"),
        (b"", FORM, "grant_type"),
    ],
)
async def test_a_body_that_is_no_single_valued_form_is_invalid_request(
    api: httpx.AsyncClient, content: bytes, headers: dict[str, str], hint: str
) -> None:
    answer = await api.post("/oauth/access_token", content=content, headers=headers)

    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
    assert hint in answer.json()["error_description"]


async def test_an_empty_parameter_counts_as_absent(api: httpx.AsyncClient) -> None:
    content = b"grant_type=client_credentials&client_id=x&client_secret=reader-key&scope="

    answer = await api.post("/oauth/access_token", content=content, headers=FORM)

    assert answer.status_code == 200, answer.text


async def test_the_endpoint_is_documented_with_its_form_and_answers(api: httpx.AsyncClient) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"]["/oauth/access_token"]["post"]

    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["grant_type"]["enum"] == ["client_credentials"]
    assert {"200", "400", "401", "429"} <= set(operation["responses"])


async def test_a_client_that_keeps_presenting_wrong_keys_is_made_to_wait_even_with_the_right_one(
    api: httpx.AsyncClient, database: FakeDatabase
) -> None:
    database.tables.http_guards.now = 15.0
    guesses = [await token_for(api, f"guess-{n}") for n in range(FAILURES)]
    assert [guess.status_code for guess in guesses] == [401] * FAILURES

    limited = await token_for(api, "reader-key")

    assert limited.status_code == 429
    assert limited.json()["error"] == "slow_down"
    assert "Retry-After" in limited.json()["error_description"]
    assert (limited.headers["retry-after"], limited.headers["cache-control"]) == ("45", "no-store")
    assert "access_token" not in limited.json()
    database.tables.http_guards.now = 60.0  # the next window
    assert (await token_for(api, "reader-key")).status_code == 200


async def test_tokens_issued_do_not_count_against_the_limit(api: httpx.AsyncClient) -> None:
    issued = [await token_for(api, "reader-key") for _ in range(FAILURES * 3)]
    failed = [await token_for(api, f"guess-{n}") for n in range(FAILURES)]

    assert [answer.status_code for answer in issued] == [200] * FAILURES * 3
    assert [answer.status_code for answer in failed] == [401] * FAILURES


async def test_malformed_requests_do_not_count_against_the_limit(api: httpx.AsyncClient) -> None:
    malformed = [await api.post("/oauth/access_token", data={"grant_type": "password"}) for _ in range(FAILURES * 3)]

    assert [answer.status_code for answer in malformed] == [400] * FAILURES * 3
    assert (await token_for(api, "reader-key")).status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDER_API_ACCESS_TOKEN_TTL_SECONDS", "0"),
        ("ORDER_API_ACCESS_TOKEN_TTL_SECONDS", "86401"),
        ("ORDER_API_TOKEN_FAILURES_PER_CLIENT", "0"),
        ("ORDER_API_TOKEN_FAILURE_WINDOW_SECONDS", "0"),
    ],
)
def test_a_token_setting_out_of_range_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("ORDER_API_").lower()):
        OrderApiSettings.load(ORDER_API)
