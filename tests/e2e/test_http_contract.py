"""The order API's cross-cutting HTTP behaviour, against the running service: API keys and scopes,
Idempotency-Key, content negotiation, body limits, methods, validation and preconditions."""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.orders import CustomerFact
from tests.e2e.catalog import apply_facts, fact
from tests.e2e.conftest import READ_ONLY_KEY, WRITE_ONLY_KEY
from tests.e2e.orders import CREATE_PATH, order_body
from tests.support.processes import ServiceProcess

PROBLEM_JSON: Final = "application/problem+json"
LIST_PATH: Final = "/com/orders.json"


@pytest.fixture
def api(system: dict[str, ServiceProcess]) -> str:
    return system["order_api"].url


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def assert_problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    return problem


async def orders_with_email(admin_db: asyncpg.Connection, email: str) -> int:
    count: int = await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE email = $1", email)
    return count


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


# ---- correlation ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("presented", [b"caf\xe9-1", b"two words", b"x" * 129])
async def test_a_correlation_id_that_cannot_travel_on_is_replaced_before_it_reaches_any_event(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, presented: bytes
) -> None:
    # Copied into Kafka headers and every subscriber's webhook headers, a non-ASCII id crashed the
    # dispatcher's HTTP client; it is replaced at the edge.
    response = await http.post(api + CREATE_PATH, json=order_body(), headers=[(b"x-correlation-id", presented)])
    assert response.status_code == 201, response.text
    replaced = response.headers["x-correlation-id"]
    assert re.fullmatch("[0-9a-f]{32}", replaced), "a new id, as one is made for a request without any"
    headers = await admin_db.fetchval(
        "SELECT headers FROM order_api.outbox WHERE key = $1", str(response.json()["order"]["id"])
    )
    assert ["ce_correlationid", replaced] in json.loads(headers)


async def test_a_usable_correlation_id_is_kept_and_travels_with_the_event(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    presented = f"checkout-{uuid.uuid4()}"
    response = await http.post(api + CREATE_PATH, json=order_body(), headers={"x-correlation-id": presented})
    assert response.headers["x-correlation-id"] == presented
    headers = await admin_db.fetchval(
        "SELECT headers FROM order_api.outbox WHERE key = $1", str(response.json()["order"]["id"])
    )
    assert ["ce_correlationid", presented] in json.loads(headers)


# ---- API keys and scopes --------------------------------------------------------------------------


async def test_a_missing_or_unknown_api_key_is_401_with_a_bearer_challenge(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        for headers in ({}, bearer("not-a-key"), {"authorization": "Basic dXNlcjpwYXNz"}):
            for response in (
                await anonymous.get(api + LIST_PATH, headers=headers),
                await anonymous.post(api + CREATE_PATH, json=order_body(), headers=headers),
                await anonymous.get(api + "/orders", headers=headers),
            ):
                assert_problem(response, 401, "unauthorized")
                assert response.headers["www-authenticate"] == "Bearer"


async def test_each_scope_allows_its_methods_and_is_403_for_the_others(api: str, admin_db: asyncpg.Connection) -> None:
    email = unique_email("scopes")
    async with httpx.AsyncClient(timeout=20.0) as client:
        assert (await client.get(api + LIST_PATH, headers=bearer(READ_ONLY_KEY))).status_code == 200
        assert (await client.get(api + "/orders", headers=bearer(READ_ONLY_KEY))).status_code == 200
        refused = await client.post(api + CREATE_PATH, json=order_body(email=email), headers=bearer(READ_ONLY_KEY))
        assert "orders:write" in assert_problem(refused, 403, "forbidden")["detail"]
        assert await orders_with_email(admin_db, email) == 0

        created = await client.post(api + CREATE_PATH, json=order_body(email=email), headers=bearer(WRITE_ONLY_KEY))
        assert created.status_code == 201, created.text
        order_id = created.json()["order"]["id"]
        for path in (f"/com/orders/{order_id}.json", LIST_PATH, f"/orders/{order_id}"):
            read = await client.get(api + path, headers=bearer(WRITE_ONLY_KEY))
            assert "orders:read" in assert_problem(read, 403, "forbidden")["detail"]
        closed = await client.post(api + f"/com/orders/{order_id}/close.json", headers=bearer(WRITE_ONLY_KEY))
        assert closed.status_code == 200, closed.text


async def test_refresh_reads_an_order_so_it_needs_the_read_scope_though_it_is_a_post(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as client:
        created = await client.post(api + CREATE_PATH, json=order_body(email=unique_email("refresh")),
                                    headers=bearer(WRITE_ONLY_KEY))  # fmt: skip
        refresh = f"{api}/orders/{created.json()['order']['id']}/refresh"

        refused = await client.post(refresh, headers=bearer(WRITE_ONLY_KEY))
        allowed = await client.post(refresh, headers=bearer(READ_ONLY_KEY))

    assert "orders:read" in assert_problem(refused, 403, "forbidden")["detail"]
    assert allowed.status_code == 200, allowed.text


@pytest.fixture
async def account(stack: tuple[str, str], admin_db: asyncpg.Connection) -> CustomerFact:
    """A registered customer account, as the customer service publishes it."""
    run = uuid.uuid4().hex[:12]
    customer = CustomerFact(
        id=8 * 10**17 + uuid.uuid4().int % 10**15,
        email=f"Account-{run}@Example.com",
        first_name="Regina",
        last_name="Registered",
        phone="+1 555 0100",
        note="VIP since 2019",
    )
    await apply_facts(stack[1], admin_db, [fact("customer.upserted", customer, customer.id)])
    return customer


async def customer_of(admin_db: asyncpg.Connection, order_id: int) -> int | None:
    customer_id: int | None = await admin_db.fetchval(
        "SELECT customer_id FROM order_api.orders WHERE id = $1", order_id
    )
    return customer_id


async def test_naming_a_customer_by_id_needs_the_read_scope_too(
    api: str, admin_db: asyncpg.Connection, account: CustomerFact
) -> None:
    email = unique_email("by-id")

    def haravan(customer_id: int) -> dict[str, Any]:
        return {"order": {**order_body(email=email)["order"], "customer": {"id": customer_id}}}

    digital_river = {"email": email, "customerId": account.id, "items": [{"name": "C", "price": "5.00", "quantity": 1}]}
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        refused = [
            (await write_only.post(api + CREATE_PATH, json=haravan(account.id)), "order.customer.id"),
            # An unknown id is refused alike: such a caller learns nothing about which customers there are.
            (await write_only.post(api + CREATE_PATH, json=haravan(1)), "order.customer.id"),
            (await write_only.post(api + "/orders", json=digital_river), "customerId"),
        ]

    for response, field in refused:
        assert "orders:read" in assert_problem(response, 403, "forbidden", field=field)["detail"]
    assert await orders_with_email(admin_db, email) == 0


async def test_an_email_never_attaches_an_order_to_a_registered_account(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, account: CustomerFact
) -> None:
    email = account.email or ""
    new_customer = {"email": email.upper(), "first_name": "Paul"}
    haravan = await http.post(
        api + CREATE_PATH, json={"order": {**order_body()["order"], "email": None, "customer": new_customer}}
    )
    digital_river = await http.post(
        api + "/orders", json={"email": email.lower(), "items": [{"name": "Cable", "price": "5.00", "quantity": 1}]}
    )
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        unread = await write_only.post(api + CREATE_PATH, json=order_body(email=email))

    assert haravan.status_code == digital_river.status_code == unread.status_code == 201
    shown = haravan.json()["order"]
    assert (shown["guest"], shown["email"], shown["customer"]["first_name"]) == (True, email.upper(), "Paul")
    assert (shown["customer"]["note"], shown["customer"]["orders_count"]) == (None, 1)
    assert digital_river.json()["customerId"] != account.id
    for order_id in (shown["id"], digital_river.json()["id"], unread.json()["order"]["id"]):
        assert await customer_of(admin_db, order_id) != account.id


async def test_a_caller_without_the_read_scope_is_never_shown_a_customer_record(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    # An earlier buyer's order made the checkout record for this email, with their name and phone.
    email = unique_email("checkout")
    buyer = {"email": email, "first_name": "Earl", "last_name": "Ier", "phone": "+1 555 0199"}
    earlier = await http.post(
        api + CREATE_PATH, json={"order": {**order_body(email=email)["order"], "customer": buyer}}
    )
    assert earlier.status_code == 201, earlier.text
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        created = await write_only.post(api + CREATE_PATH, json=order_body(email=email))
        digital_river = await write_only.post(
            api + "/orders", json={"email": email, "items": [{"name": "Cable", "price": "5.00", "quantity": 1}]}
        )
        order_id = created.json()["order"]["id"]
        noted = await write_only.put(f"{api}/com/orders/{order_id}.json", json={"order": {"note": "ring twice"}})
        closed = await write_only.post(f"{api}/com/orders/{earlier.json()['order']['id']}/close.json")

    for response in (created, noted, closed):
        assert response.status_code in (200, 201), response.text
        assert response.json()["order"]["customer"] is None
        assert "Earl" not in response.text
        assert "0199" not in response.text
    assert (digital_river.status_code, digital_river.json()["customerId"]) == (201, None)
    assert created.json()["order"]["email"] == email
    # The order did join the email's checkout record; a caller that may read sees it.
    record = await customer_of(admin_db, earlier.json()["order"]["id"])
    assert await customer_of(admin_db, order_id) == record
    read = (await http.get(f"{api}/com/orders/{order_id}.json")).json()["order"]["customer"]
    assert (read["id"], read["first_name"], read["orders_count"]) == (
        record,
        "Earl",
        2,
    )


async def test_guest_lookup_health_metrics_and_docs_need_no_key(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        for path in ("/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json"):
            assert (await anonymous.get(api + path)).status_code == 200, path
        lookup = await anonymous.post(
            api + "/users/orders/anonymous/",
            json={"number": "1", "email": "nobody@example.com"},
            headers={"x-forwarded-for": "198.51.100.1"},
        )
        assert_problem(lookup, 404, "order_not_found")


async def test_openapi_declares_the_bearer_scheme_and_idempotency_keys_on_keyed_routes_and_a_tag_per_dialect(
    api: str, http: httpx.AsyncClient
) -> None:
    document = (await http.get(api + "/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]
    tags: set[str] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            tags.update(operation.get("tags", []))
            keyed = path.startswith(("/com/", "/orders"))
            assert bool(operation.get("security")) == keyed, (method, path)
            if keyed:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if keyed and method == "post":
                assert "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]], path
    assert {"Haravan orders", "Digital River orders", "Akinon guest orders"} <= tags


# ---- Idempotency-Key ------------------------------------------------------------------------------


async def test_a_repeated_idempotency_key_replays_the_first_answer_and_creates_one_order(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email = unique_email("replay")
    key = {"idempotency-key": str(uuid.uuid4())}
    first = await http.post(api + CREATE_PATH, json=order_body(email=email), headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The same request again, its JSON spelled differently: the same answer, marked as a replay.
    again = await http.post(
        api + CREATE_PATH,
        content=first.request.content.decode().replace(",", ", "),
        headers={**key, "content-type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert await orders_with_email(admin_db, email) == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email, other_email = unique_email("reused"), unique_email("reused-other")
    key = {"idempotency-key": str(uuid.uuid4())}
    assert (await http.post(api + CREATE_PATH, json=order_body(email=email), headers=key)).status_code == 201
    refused = await http.post(api + CREATE_PATH, json=order_body(email=other_email), headers=key)
    assert_problem(refused, 422, "idempotency_key_reused", field="Idempotency-Key")
    # Keys belong to the API key that sent them: another client may use the same key freely.
    other_client = await http.post(
        api + CREATE_PATH, json=order_body(email=other_email), headers={**key, **bearer(WRITE_ONLY_KEY)}
    )
    assert other_client.status_code == 201, other_client.text
    assert "idempotent-replayed" not in other_client.headers
    assert await orders_with_email(admin_db, other_email) == 1


@pytest.fixture
async def held_customer(
    api: str, http: httpx.AsyncClient, stack: tuple[str, str]
) -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A customer whose row a transaction holds locked until the event is set, so that an order
    for it stays in flight (its create waits to count the order on the customer)."""
    created = await http.post(api + CREATE_PATH, json=order_body(email=unique_email("held")))
    customer_id: int = created.json()["order"]["customer"]["id"]
    release = asyncio.Event()
    locked = asyncio.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(stack[0])
        try:
            async with conn.transaction():
                await conn.execute("SELECT 1 FROM order_api.customers WHERE id = $1 FOR UPDATE", customer_id)
                locked.set()
                await release.wait()
        finally:
            await conn.close()

    holder = asyncio.create_task(hold())
    await locked.wait()
    try:
        yield customer_id, release
    finally:
        release.set()
        await holder


async def test_an_idempotency_key_still_in_flight_is_409_then_replays(
    api: str, http: httpx.AsyncClient, held_customer: tuple[int, asyncio.Event]
) -> None:
    customer_id, release = held_customer
    body = {
        "order": {"customer": {"id": customer_id}, "line_items": [{"title": "Cable", "price": "5.00", "quantity": 1}]}
    }
    key = {"idempotency-key": str(uuid.uuid4())}
    # Two at once: whichever claims the key first waits on the held customer; the other finds it in flight.
    requests = [asyncio.create_task(http.post(api + CREATE_PATH, json=body, headers=key)) for _ in range(2)]
    done, waiting = await asyncio.wait(requests, return_when=asyncio.FIRST_COMPLETED)
    in_flight = done.pop().result()
    assert_problem(in_flight, 409, "idempotency_key_in_use")
    assert in_flight.headers["retry-after"] == "1"
    release.set()
    finished = await waiting.pop()
    assert finished.status_code == 201, finished.text
    replayed = await http.post(api + CREATE_PATH, json=body, headers=key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["order"]["id"] == finished.json()["order"]["id"]


async def test_a_failed_request_releases_its_idempotency_key(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email = unique_email("released")
    key = {"idempotency-key": str(uuid.uuid4())}
    invalid = await http.post(api + CREATE_PATH, json=order_body(email=email, quantity=-1), headers=key)
    assert_problem(invalid, 422, "validation_error", field="order.line_items[0].quantity")
    corrected = await http.post(api + CREATE_PATH, json=order_body(email=email), headers=key)
    assert corrected.status_code == 201, corrected.text
    assert await orders_with_email(admin_db, email) == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
async def test_a_malformed_idempotency_key_is_400_naming_the_header(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, key: str
) -> None:
    email = unique_email("badkey")
    response = await http.post(api + CREATE_PATH, json=order_body(email=email), headers={"idempotency-key": key})
    assert_problem(response, 400, "invalid_idempotency_key", field="Idempotency-Key")
    assert await orders_with_email(admin_db, email) == 0


# ---- methods, media types, sizes, validation --------------------------------------------------------


async def test_a_wrong_method_is_405_with_allow(api: str, http: httpx.AsyncClient) -> None:
    response = await http.patch(api + LIST_PATH, json={})
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


@pytest.mark.parametrize("accept", ["text/html", "application/xml, text/*;q=0.9", "application/json;q=0, text/plain"])
async def test_an_accept_that_excludes_json_is_406(api: str, http: httpx.AsyncClient, accept: str) -> None:
    assert_problem(await http.get(api + LIST_PATH, headers={"accept": accept}), 406, "not_acceptable", field="Accept")


@pytest.mark.parametrize("accept", ["*/*", "application/*", "text/html, application/json;q=0.5"])
async def test_an_accept_that_allows_json_is_served(api: str, http: httpx.AsyncClient, accept: str) -> None:
    assert (await http.get(api + LIST_PATH, headers={"accept": accept})).status_code == 200


async def test_a_body_that_is_not_json_is_415(api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection) -> None:
    email = unique_email("form")
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await http.post(
            api + CREATE_PATH, content=json.dumps(order_body(email=email)), headers={"content-type": content_type}
        )
        assert_problem(response, 415, "unsupported_media_type", field="Content-Type")
    assert await orders_with_email(admin_db, email) == 0


async def test_a_body_over_the_limit_is_413_whether_announced_or_streamed(api: str, http: httpx.AsyncClient) -> None:
    mebibyte = 1024 * 1024
    announced = await http.post(
        api + CREATE_PATH, content=b"{" + b" " * mebibyte + b"}", headers={"content-type": "application/json"}
    )
    assert_problem(announced, 413, "payload_too_large")

    # A chunked body that passes the limit and never ends: the answer comes while it still streams.
    url = httpx.URL(api)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            f"POST {CREATE_PATH} HTTP/1.1\r\nhost: {url.host}\r\nauthorization: Bearer {LOCAL_API_KEY}\r\n"
            "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"x" * (64 * 1024)
        for _ in range(mebibyte // len(chunk) + 2):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
        body = await reader.readexactly(length)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["code"] == "payload_too_large"


async def test_validation_errors_name_the_field_and_write_nothing(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email = unique_email("invalid")
    body = order_body(email=email)
    body["order"]["line_items"][0]["price"] = "cheap"
    assert_problem(await http.post(api + CREATE_PATH, json=body), 422, "validation_error", "order.line_items[0].price")
    malformed = await http.post(api + CREATE_PATH, content=b'{"order": {', headers={"content-type": "application/json"})
    assert_problem(malformed, 400, "malformed_json")
    assert await orders_with_email(admin_db, email) == 0


# ---- preconditions --------------------------------------------------------------------------------


async def test_an_update_with_a_stale_etag_is_412(api: str, http: httpx.AsyncClient) -> None:
    created = await http.post(api + CREATE_PATH, json=order_body(email=unique_email("etag")))
    order_id = created.json()["order"]["id"]
    path = f"{api}/com/orders/{order_id}.json"
    read = await http.get(path)
    etag = read.headers["etag"]
    noted = await http.put(path, json={"order": {"id": order_id, "note": "first"}}, headers={"if-match": etag})
    assert noted.status_code == 200, noted.text
    assert noted.headers["etag"] != etag
    stale = await http.put(path, json={"order": {"id": order_id, "note": "second"}}, headers={"if-match": etag})
    assert_problem(stale, 412, "version_mismatch")
    assert stale.headers["etag"] == noted.headers["etag"]
    assert (await http.get(path)).json()["order"]["note"] == "first"


async def test_a_weak_etag_in_if_match_never_matches_and_changes_nothing(api: str, http: httpx.AsyncClient) -> None:
    created = await http.post(api + CREATE_PATH, json=order_body(email=unique_email("weak")))
    order_id = created.json()["order"]["id"]
    weak = {"if-match": f"W/{created.headers['etag']}"}  # the current version, but weak

    refused = [
        await http.put(f"{api}/com/orders/{order_id}.json", json={"order": {"note": "x"}}, headers=weak),
        await http.post(f"{api}/com/orders/{order_id}/close.json", headers=weak),
        await http.post(f"{api}/orders/{order_id}", json={"metadata": {"a": "b"}}, headers=weak),
    ]

    for response in refused:
        assert "strong" in assert_problem(response, 412, "weak_etag", field="If-Match")["detail"]
    read = await http.get(f"{api}/com/orders/{order_id}.json")
    assert (read.headers["etag"], read.json()["order"]["status"]) == ('"1"', "open")
