"""The Digital River dialect (`/orders...`) against the running service: each operation of the
document (create, retrieve, update, refresh, tax details), its errors, and nothing written on bad input."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from tests.e2e.digital_river import MAX_BIGINT, client, create
from tests.support.processes import ServiceProcess


def create_body(run: str, **fields: Any) -> dict[str, Any]:
    """The document's create example, with the items this platform needs in place of a checkout."""
    return {
        "checkoutId": "5823594809",
        "sourceId": "src_a78cfeae-f7ae-4719-8e1c-d05ec04e4d37",
        "currency": "USD",
        "locale": "en_IE",
        "invoiceAttributeId": "95f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "applicationId": "68f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "browserIp": "111.111.111.111",
        "taxInclusive": False,
        "chargeType": "merchant_initiated",
        "customerType": "individual",
        "upstreamId": f"7765374748-{run}",
        "email": f"dr-{run}@example.com",
        "items": [
            {"name": "IPod Touch 8GB", "skuId": "IPOD2009BLACK", "price": "199.00", "quantity": 2},
            {"name": "Gift wrap", "price": "5.00", "quantity": 1, "taxable": False},
        ],
        "taxLines": [{"name": "State tax", "rate": "0.06", "amount": "23.88"}],
        "shippingChoice": {"id": "standard", "description": "Standard", "amount": "5.76"},
        "metadata": {"coupon": "spring"},
        **fields,
    }


async def events_of(admin_db: asyncpg.Connection, order_id: int) -> list[str]:
    """The event types order_api wrote to its outbox about the order, in order."""
    rows = await admin_db.fetch(
        """SELECT (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_type') AS type
           FROM order_api.outbox WHERE key = $1 ORDER BY id""",
        str(order_id),
    )
    return [row["type"] for row in rows]


async def orders_with_email(admin_db: asyncpg.Connection, email: str) -> int:
    count: int = await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE email = $1", email)
    return count


@pytest.fixture
async def api(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(system) as running:
        yield running


async def test_create_order_answers_201_with_the_order_in_the_documented_shape(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]

    response = await api.post("/orders", json=create_body(run))

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert response.headers["etag"] == '"1"'
    assert isinstance(order["id"], int)
    assert isinstance(order["customerId"], int)
    assert order["createdAt"] == order["updatedAt"]
    volatile = {"id", "customerId", "createdAt", "updatedAt", "items"}
    assert {key: value for key, value in order.items() if key not in volatile} == {
        "checkoutId": "5823594809",
        "email": f"dr-{run}@example.com",
        "currency": "usd",
        "locale": "en_IE",
        "browserIp": "111.111.111.111",
        "applicationId": "68f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "sourceId": "src_a78cfeae-f7ae-4719-8e1c-d05ec04e4d37",
        "invoiceAttributeId": "95f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "subscriptionId": None,
        "taxInclusive": False,
        "totalAmount": "432.64",
        "subtotal": "403.00",
        "totalTax": "23.88",
        "totalFees": "0.00",
        "totalDuty": "0.00",
        "totalDiscount": "0.00",
        "totalShipping": "5.76",
        "availableToRefundAmount": "0.00",
        "refundedAmount": "0.00",
        "cancelledAmount": "0.00",
        "capturedAmount": "0.00",
        "requestToBeForgotten": False,
        "state": "pending_payment",
        "fraudState": "passed",
        "cancellationReason": None,
        "liveMode": True,
        "customerType": "individual",
        "chargeType": "merchant_initiated",
        "upstreamId": f"7765374748-{run}",
        "metadata": {"coupon": "spring"},
    }
    assert [{key: value for key, value in item.items() if key != "id"} for item in order["items"]] == [
        {
            "variantId": None,
            "productId": None,
            "skuId": "IPOD2009BLACK",
            "name": "IPod Touch 8GB",
            "quantity": 2,
            "price": "199.00",
            "amount": "398.00",
            "taxable": True,
        },
        {
            "variantId": None,
            "productId": None,
            "skuId": None,
            "name": "Gift wrap",
            "quantity": 1,
            "price": "5.00",
            "amount": "5.00",
            "taxable": False,
        },
    ]
    assert await events_of(admin_db, order["id"]) == ["order.created"]


async def test_create_order_again_with_the_same_upstream_id_and_body_returns_the_first_order(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]
    first = await create(api, create_body(run))

    again = await api.post("/orders", json=create_body(run))

    assert again.status_code == 200, again.text
    assert again.json() == first
    assert again.headers["etag"] == '"1"'
    assert await orders_with_email(admin_db, f"dr-{run}@example.com") == 1
    assert await events_of(admin_db, first["id"]) == ["order.created"]


async def test_create_order_with_a_used_upstream_id_and_other_content_is_409_conflict(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]
    first = await create(api, create_body(run))

    clash = await api.post("/orders", json=create_body(run, items=[{"name": "Other", "price": "1.00", "quantity": 1}]))

    assert clash.status_code == 409, clash.text
    assert clash.headers["content-type"] == "application/problem+json"
    assert clash.json()["code"] == "upstream_id_conflict"
    assert clash.json()["errors"] == [{"field": "upstreamId", "message": "already used"}]
    assert await orders_with_email(admin_db, f"dr-{run}@example.com") == 1
    assert await events_of(admin_db, first["id"]) == ["order.created"]


async def test_create_order_for_an_existing_customer_by_customer_id(api: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:12]
    first = await create(api, create_body(run))
    body = create_body(f"{run}-2", customerId=first["customerId"])
    del body["email"]

    second = await create(api, body)

    assert second["customerId"] == first["customerId"]
    assert second["email"] == f"dr-{run}@example.com"  # the customer's


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


BAD_CREATES: Final[list[tuple[str, dict[str, Any], int, str, str]]] = [
    ("no items", {"items": []}, 422, "validation_error", "items"),
    (
        "zero quantity",
        {"items": [{"name": "A", "price": "1.00", "quantity": 0}]},
        422,
        "validation_error",
        "items[0].quantity",
    ),
    (
        "quantity as words",
        {"items": [{"name": "A", "price": "1", "quantity": "two"}]},
        422,
        "validation_error",
        "items[0].quantity",
    ),
    (
        "negative price",
        {"items": [{"name": "A", "price": "-1.00", "quantity": 1}]},
        422,
        "validation_error",
        "items[0].price",
    ),
    (
        "price as NaN",
        {"items": [{"name": "A", "price": "NaN", "quantity": 1}]},
        422,
        "validation_error",
        "items[0].price",
    ),
    ("too precise", {"items": [{"name": "A", "price": "1.001", "quantity": 1}]}, 422, "too_precise", "items[0].price"),
    ("no name or variant", {"items": [{"price": "1.00", "quantity": 1}]}, 422, "missing_title", "items[0].name"),
    (
        "unknown variant",
        {"items": [{"variantId": MAX_BIGINT, "quantity": 1}]},
        422,
        "unknown_variant",
        "items[0].variantId",
    ),
    (
        "huge variant id",
        {"items": [{"variantId": MAX_BIGINT + 1, "quantity": 1}]},
        422,
        "validation_error",
        "items[0].variantId",
    ),
    ("unknown customer", {"customerId": MAX_BIGINT}, 422, "unknown_customer", "customerId"),
    ("huge customer id", {"customerId": 10**30}, 422, "validation_error", "customerId"),
    ("customer id as text", {"customerId": "cus_5774321009"}, 422, "validation_error", "customerId"),
    ("unknown field", {"colour": "red"}, 422, "validation_error", "colour"),
    ("unsupported currency", {"currency": "XXX"}, 422, "unsupported_currency", "currency"),
    ("malformed currency", {"currency": "dollars"}, 422, "validation_error", "currency"),
    ("malformed locale", {"locale": "english"}, 422, "validation_error", "locale"),
    ("malformed browser ip", {"browserIp": "999.1.1.1"}, 422, "validation_error", "browserIp"),
    ("unknown charge type", {"chargeType": "sometimes"}, 422, "validation_error", "chargeType"),
    ("unknown customer type", {"customerType": "robot"}, 422, "validation_error", "customerType"),
    ("NUL in checkout id", {"checkoutId": "58\u000023"}, 422, "validation_error", "checkoutId"),
    ("NUL in metadata key", {"metadata": {"a\u0000": "b"}}, 422, "validation_error", "metadata.a\u0000.[key]"),
    ("metadata value not text", {"metadata": {"a": {"b": 1}}}, 422, "validation_error", "metadata.a"),
    (
        "tax amount too precise",
        {"taxLines": [{"name": "T", "rate": "0.1", "amount": "0.001"}]},
        422,
        "too_precise",
        "taxLines[0].amount",
    ),
    ("email without @", {"email": "jane"}, 422, "validation_error", "email"),
    # Amounts as the documented pattern writes them: ASCII digits, no spaces, no exponent.
    (
        "Arabic-Indic digits",
        {"items": [{"name": "A", "price": "١٢", "quantity": 1}]},
        422,
        "validation_error",
        "items[0].price",
    ),
    ("a leading space", {"shippingChoice": {"amount": " 1.00"}}, 422, "validation_error", "shippingChoice.amount"),
    (
        "an exponent",
        {"taxLines": [{"name": "T", "rate": "0.1", "amount": "1e3"}]},
        422,
        "validation_error",
        "taxLines[0].amount",
    ),
    (
        "a rate with a space",
        {"taxLines": [{"name": "T", "rate": "0.1 ", "amount": "1.00"}]},
        422,
        "validation_error",
        "taxLines[0].rate",
    ),
]


@pytest.mark.parametrize(
    ("case", "fields", "status", "code", "field"), BAD_CREATES, ids=[case[0] for case in BAD_CREATES]
)
async def test_create_order_refuses_bad_input_naming_the_field_and_writes_nothing(
    api: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    case: str,
    fields: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    run = uuid.uuid4().hex[:12]

    response = await api.post("/orders", json=create_body(run, **fields))

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert field in [error["field"] for error in problem["errors"]]
    assert await orders_with_email(admin_db, f"dr-{run}@example.com") == 0
    assert (
        await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE upstream_id = $1", f"7765374748-{run}")
        == 0
    )


async def test_create_order_refuses_malformed_json_and_writes_nothing(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]

    response = await api.post(
        "/orders",
        content=f'{{"email": "dr-{run}@example.com", "items": [',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert await orders_with_email(admin_db, f"dr-{run}@example.com") == 0


async def test_create_order_sent_several_times_at_once_makes_one_order(
    api: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    run = uuid.uuid4().hex[:12]

    answers = await asyncio.gather(*(api.post("/orders", json=create_body(run)) for _ in range(6)))

    assert sorted(answer.status_code for answer in answers) == [200] * 5 + [201], [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await orders_with_email(admin_db, f"dr-{run}@example.com") == 1
