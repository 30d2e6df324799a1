"""The Digital River dialect's other operations against the running service: retrieve, update, refresh
and tax details, their errors, and nothing changed on bad input."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.fields import MAX_BIGINT
from tests.support.digital_river import client, create, create_body
from tests.support.processes import ServiceProcess
from tests.support.storefront import events_of


@pytest.fixture
async def api(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(system) as running:
        yield running


async def test_retrieve_order_answers_the_order_and_its_version(api: httpx.AsyncClient) -> None:
    created = await create(api, create_body(uuid.uuid4().hex[:12]))

    fetched = await api.get(f"/orders/{created['id']}")

    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("order_id", "status", "code"),
    [
        ("1", 404, "order_not_found"),
        ("0", 422, "validation_error"),
        (str(MAX_BIGINT + 1), 422, "validation_error"),
        ("ord_5823594809", 422, "validation_error"),
        ("-5", 422, "validation_error"),
    ],
)
async def test_retrieve_order_refuses_a_missing_or_malformed_id(
    api: httpx.AsyncClient, order_id: str, status: int, code: str
) -> None:
    for response in (
        await api.get(f"/orders/{order_id}"),
        await api.post(f"/orders/{order_id}/refresh"),
        await api.get(f"/orders/{order_id}/tax-details"),
        await api.post(f"/orders/{order_id}", json={"metadata": {"a": "b"}}),
    ):
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        if status == 422:
            assert response.json()["errors"][0]["field"] == "id"


async def test_update_order_sets_forget_request_upstream_id_and_merges_metadata(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]
    created = await create(api, create_body(run))

    updated = await api.post(
        f"/orders/{created['id']}",
        json={"requestToBeForgotten": True, "upstreamId": f"0916805858-{run}", "metadata": {"gift": "yes"}},
        headers={"if-match": '"1"'},
    )

    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    order = updated.json()
    assert (order["requestToBeForgotten"], order["upstreamId"], order["metadata"]) == (
        True,
        f"0916805858-{run}",
        {"coupon": "spring", "gift": "yes"},
    )
    assert order["updatedAt"] > created["updatedAt"]
    changed = ("requestToBeForgotten", "upstreamId", "metadata", "updatedAt")
    assert {key: value for key, value in order.items() if key not in changed} == {
        key: value for key, value in created.items() if key not in changed
    }
    assert (await api.get(f"/orders/{created['id']}")).json() == order
    assert await events_of(admin_db, created["id"]) == ["order.created", "order.updated"]


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        ({"currency": "EUR"}, 422, "immutable_field", ["currency"]),
        ({"items": [], "totalAmount": "1.00"}, 422, "immutable_field", ["items", "totalAmount"]),
        ({"colour": "red"}, 422, "unknown_field", ["colour"]),
        ({}, 422, "nothing_to_change", ["<body>"]),
        ({"requestToBeForgotten": "maybe"}, 422, "validation_error", ["requestToBeForgotten"]),
        ({"metadata": {"k": 5}}, 422, "validation_error", ["metadata.k"]),
        ({"upstreamId": "bad\u0000id"}, 422, "validation_error", ["upstreamId"]),
        ({"upstreamId": ""}, 422, "validation_error", ["upstreamId"]),
        (
            {"upstreamId": None, "requestToBeForgotten": None},
            422,
            "validation_error",
            ["requestToBeForgotten", "upstreamId"],
        ),
    ],
)
async def test_update_order_refuses_other_fields_and_bad_values_and_changes_nothing(
    api: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    body: dict[str, Any],
    status: int,
    code: str,
    fields: list[str],
) -> None:
    created = await create(api, create_body(uuid.uuid4().hex[:12]))

    refused = await api.post(f"/orders/{created['id']}", json=body)

    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code
    assert [error["field"] for error in refused.json()["errors"]] == fields
    assert (await api.get(f"/orders/{created['id']}")).json() == created
    assert await events_of(admin_db, created["id"]) == ["order.created"]


async def test_update_order_with_a_stale_if_match_is_412_and_changes_nothing(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    created = await create(api, create_body(uuid.uuid4().hex[:12]))
    first = await api.post(f"/orders/{created['id']}", json={"metadata": {"a": "1"}})
    assert first.status_code == 200

    stale = await api.post(f"/orders/{created['id']}", json={"metadata": {"a": "2"}}, headers={"if-match": '"1"'})

    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"
    assert stale.headers["etag"] == '"2"'
    assert (await api.get(f"/orders/{created['id']}")).json()["metadata"] == {"coupon": "spring", "a": "1"}
    assert await events_of(admin_db, created["id"]) == ["order.created", "order.updated"]


async def test_update_order_to_an_upstream_id_another_order_holds_is_409(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]
    holder = await create(api, create_body(run))
    other = await create(api, create_body(f"{run}-b"))

    clash = await api.post(f"/orders/{other['id']}", json={"upstreamId": holder["upstreamId"]})

    assert clash.status_code == 409, clash.text
    assert clash.json()["code"] == "upstream_id_conflict"
    assert (await api.get(f"/orders/{other['id']}")).json() == other
    assert await events_of(admin_db, other["id"]) == ["order.created"]


async def test_refresh_order_answers_the_current_order_and_publishes_nothing(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    created = await create(api, create_body(uuid.uuid4().hex[:12]))
    await api.post(f"/orders/{created['id']}", json={"requestToBeForgotten": True})

    refreshed = await api.post(f"/orders/{created['id']}/refresh")

    assert refreshed.status_code == 200
    assert refreshed.headers["etag"] == '"2"'
    assert refreshed.json() == (await api.get(f"/orders/{created['id']}")).json()
    assert refreshed.json()["requestToBeForgotten"] is True
    assert await events_of(admin_db, created["id"]) == ["order.created", "order.updated"]


async def test_tax_details_split_the_order_tax_across_the_taxable_items(api: httpx.AsyncClient) -> None:
    body = create_body(
        uuid.uuid4().hex[:12],
        items=[
            {"name": "A", "skuId": "SKU-A", "price": "1.00", "quantity": 1},
            {"name": "B", "price": "1.00", "quantity": 1},
            {"name": "Wrap", "price": "3.00", "quantity": 1, "taxable": False},
            {"name": "C", "price": "1.00", "quantity": 1},
        ],
        taxLines=[
            {"name": "State", "rate": "0.06", "amount": "0.07"},
            {"name": "City", "rate": "0.01", "amount": "0.02"},
        ],
    )
    created = await create(api, body)

    details = await api.get(f"/orders/{created['id']}/tax-details")

    assert details.status_code == 200
    item_ids = [item["id"] for item in created["items"]]
    assert details.json() == {
        "id": created["id"],
        "items": [
            {"id": item_ids[0], "skuId": "SKU-A", "taxableAmount": "1.00", "taxAmount": "0.02", "taxRate": "0.07"},
            {"id": item_ids[1], "skuId": None, "taxableAmount": "1.00", "taxAmount": "0.02", "taxRate": "0.07"},
            {"id": item_ids[2], "skuId": None, "taxableAmount": "0.00", "taxAmount": "0.00", "taxRate": "0"},
            {"id": item_ids[3], "skuId": None, "taxableAmount": "1.00", "taxAmount": "0.05", "taxRate": "0.07"},
        ],
    }
    assert created["totalTax"] == "0.09"
