"""What an order may hold, against the running service: a change whose event would be too large for
Kafka is refused up front (nothing stored, nothing queued for publishing), and lists and maps that
merge across updates stay within their bounds."""

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.digital_river import client, create
from tests.support.order_api_facts import AUTH, create_order, get_order
from tests.support.processes import ServiceProcess
from tests.support.storefront import assert_problem

ITEM = {"title": "Teapot", "price": "10.00", "quantity": 1}


@pytest.fixture
def api(system: dict[str, ServiceProcess]) -> str:
    return system["order_api"].url


async def last_order_id(admin_db: asyncpg.Connection) -> int:
    value: int = await admin_db.fetchval("SELECT last_value FROM order_api.order_id_seq")
    return value


async def test_a_create_whose_event_would_be_too_large_is_refused_and_nothing_is_stored_or_queued(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    # The request: within the 1 MiB body limit, but its order.created event is 1.14 MB.
    email = f"large-{uuid.uuid4().hex[:12]}@example.com"
    body = {
        "order": {
            "email": email,
            "line_items": [{"title": f"{n:03}" + "t" * 97, "price": "1.00", "quantity": 1} for n in range(250)],
            "metafields": [{"namespace": "global", "key": f"k{n}", "value": "v" * 10_000} for n in range(100)],
        }
    }
    assert 1_000_000 < len(json.dumps(body)) < 1024 * 1024
    before = await last_order_id(admin_db)

    response = await http.post(api + "/com/orders.json", json=body)

    problem = assert_problem(response, 422, "order_too_large", field="order")
    assert "over the limit of 1,000,000" in problem["detail"]
    # The attempt took an id (sequences do not roll back); nothing was kept under it, nor queued.
    attempted = range(before + 1, await last_order_id(admin_db) + 1)
    assert len(attempted) >= 1
    keys = [str(order_id) for order_id in attempted]
    assert await admin_db.fetchval("SELECT count(*) FROM order_api.outbox WHERE key = ANY($1::text[])", keys) == 0
    assert await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE email = $1", email) == 0


def _metafields(*keys: str) -> list[dict[str, Any]]:
    return [{"namespace": "global", "key": key, "value": "v"} for key in keys]


async def test_metafields_merged_beyond_100_are_refused_and_the_order_is_unchanged(
    api: str, http: httpx.AsyncClient
) -> None:
    order = await create_order(
        http, api, {"email": f"meta-{uuid.uuid4().hex[:12]}@example.com", "line_items": [ITEM],
                    "metafields": _metafields(*(f"k{n}" for n in range(100)))}
    )  # fmt: skip
    path = f"{api}/com/orders/{order['id']}.json"

    refused = await http.put(path, json={"order": {"metafields": _metafields("k0", "one-more")}}, headers=AUTH)
    replaced = await http.put(path, json={"order": {"metafields": _metafields("k0", "k99")}}, headers=AUTH)

    assert "at most 100" in assert_problem(refused, 422, "too_many_entries", field="metafields")["detail"]
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"2"'  # the refused update left no version behind
    assert len((await get_order(http, api, order["id"]))["metafields"]) == 100


async def test_metadata_merged_beyond_50_keys_is_refused_and_the_order_is_unchanged(
    system: dict[str, ServiceProcess],
) -> None:
    async with client(system) as api:
        metadata = {f"k{n}": "v" for n in range(50)}
        created = await create(api, {"items": [{"name": "A", "price": "1.00", "quantity": 1}], "metadata": metadata})

        refused = await api.post(f"/orders/{created['id']}", json={"metadata": {"k0": "w", "one-more": "v"}})

        assert_problem(refused, 422, "too_many_entries", field="metadata")
        assert (await api.get(f"/orders/{created['id']}")).json() == created
