"""The order API's Idempotency-Key, against the running service: replays, reuse, keys in flight, released
keys and malformed ones."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import WRITE_ONLY_KEY
from tests.support.storefront import (
    CREATE_PATH,
    assert_problem,
    bearer,
    order_body,
    orders_with_email,
    unique_email,
)

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
    assert_problem(invalid, 422, "validation_error", field="line_items[0].quantity")
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
