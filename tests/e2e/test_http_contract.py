"""The order API's cross-cutting HTTP behaviour, against the running service: correlation ids, content
negotiation, body limits, methods, validation and preconditions. (API keys and scopes:
test_order_api_keys.py; Idempotency-Key: test_idempotency_keys.py.)"""

import asyncio
import json
import re
import uuid

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from tests.support.storefront import (
    CREATE_PATH,
    LIST_PATH,
    assert_problem,
    order_body,
    orders_with_email,
    unique_email,
)

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
    assert_problem(await http.post(api + CREATE_PATH, json=body), 422, "validation_error", "line_items[0].price")
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
