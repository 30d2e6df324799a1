"""The Digital River dialect's create (`POST /orders`) against the running service: the order in the
document's shape, repeats and clashes of an upstream id, and nothing written on bad input."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.fields import MAX_BIGINT
from tests.support.digital_river import client, create, create_body
from tests.support.processes import ServiceProcess
from tests.support.storefront import events_of, orders_with_email


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
    ("forget flag not a boolean", {"requestToBeForgotten": "maybe"}, 422, "validation_error", "requestToBeForgotten"),
    ("forget flag null", {"requestToBeForgotten": None}, 422, "validation_error", "requestToBeForgotten"),
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
