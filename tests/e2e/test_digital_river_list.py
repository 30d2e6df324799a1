"""Digital River's "Get all orders" against the running service: cursor pagination over a data set
spanning several pages, every filter the document lists, and refused parameters. The shared
database holds other tests' orders, so every query is scoped to this test's own (by email or
upstreamIds)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import pytest

from shared.fields import MAX_BIGINT
from tests.support.digital_river import client, create
from tests.support.processes import ServiceProcess


@pytest.fixture
async def api(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(system) as running:
        yield running


async def listed(api: httpx.AsyncClient, **params: Any) -> tuple[list[int], bool]:
    """One page: the order ids in it and `hasMore`."""
    response = await api.get("/orders", params=params)
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["data"]], response.json()["hasMore"]


async def test_get_all_orders_pages_through_every_order_with_the_cursors(api: httpx.AsyncClient) -> None:
    email = f"pages-{uuid.uuid4().hex[:12]}@example.com"
    slots = asyncio.Semaphore(8)

    async def one(index: int) -> int:
        async with slots:
            order = await create(
                api, {"email": email, "items": [{"name": f"Item {index}", "price": "1.00", "quantity": 1}]}
            )
        order_id: int = order["id"]
        return order_id

    ids = sorted(await asyncio.gather(*(one(index) for index in range(25))), reverse=True)  # the list's order

    async def page(**params: Any) -> tuple[list[int], bool]:
        return await listed(api, email=email, **params)

    assert await page() == (ids[:10], True)  # limit 10 by default, newest first

    forward: list[tuple[list[int], bool]] = [await page()]
    while forward[-1][1]:
        forward.append(await page(startingAfter=forward[-1][0][-1]))
    assert forward == [(ids[:10], True), (ids[10:20], True), (ids[20:], False)]

    assert await page(endingBefore=ids[20]) == (ids[10:20], True)
    assert await page(endingBefore=ids[10]) == (ids[:10], False)
    assert await page(endingBefore=ids[5]) == (ids[:5], False)
    assert await page(startingAfter=ids[-1]) == ([], False)  # after the last order
    assert await page(endingBefore=ids[0]) == ([], False)  # before the first
    assert await page(startingAfter=ids[0], limit=100) == (ids[1:], False)
    assert await page(endingBefore=ids[-1], limit=100) == (ids[:-1], False)
    assert await page(limit=100) == (ids, False)
    assert await page(limit=25) == (ids, False)
    assert await page(limit=24) == (ids[:24], True)
    # A cursor need not be an order: beyond the newest, the first page; below the oldest, the last.
    assert await page(startingAfter=MAX_BIGINT) == (ids[:10], True)
    assert await page(endingBefore=1) == (ids[15:], True)

    one_by_one = [await page(limit=1)]
    while one_by_one[-1][1]:
        one_by_one.append(await page(limit=1, startingAfter=one_by_one[-1][0][0]))
    assert one_by_one == [([order_id], order_id != ids[-1]) for order_id in ids]

    back = [await page(limit=1, endingBefore=ids[-1])]
    while back[-1][1]:
        back.append(await page(limit=1, endingBefore=back[-1][0][0]))
    assert back == [([order_id], order_id != ids[0]) for order_id in reversed(ids[:-1])]


async def test_get_all_orders_applies_every_filter_of_the_document(api: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:12]

    def body(name: str, **fields: Any) -> dict[str, Any]:
        return {"upstreamId": f"{run}-{name}", "items": [{"name": name, "price": "10.00", "quantity": 1}], **fields}

    a = await create(
        api,
        body(
            "A",
            email=f"a-{run}@example.com",
            checkoutId=f"ck-{run}-A",
            applicationId=f"app-{run}-1",
            locale="en_US",
            browserIp="10.1.2.3",
            chargeType="customer_initiated",
            customerType="individual",
            subscriptionId=f"sub-{run}-1",
            items=[{"name": "A", "skuId": f"SKU-{run}-A", "price": "10.00", "quantity": 1}],
        ),
    )
    b, c, d = await asyncio.gather(
        create(
            api,
            body(
                "B",
                email=f"b-{run}@example.com",
                currency="EUR",
                checkoutId=f"ck-{run}-B",
                applicationId=f"app-{run}-2",
                locale="en_IE",
                browserIp="2001:DB8:0::1",
                chargeType="merchant_initiated",
                customerType="business",
                subscriptionId=f"sub-{run}-2",
                items=[{"name": "B", "skuId": f"SKU-{run}-B", "price": "10.00", "quantity": 1}],
            ),
        ),
        create(
            api,
            body(
                "C",
                customerId=a["customerId"],
                currency="usd",
                checkoutId=f"ck-{run}-C",
                applicationId=f"app-{run}-1",
                locale="en_US",
                browserIp="10.1.2.4",
                chargeType="customer_initiated",
                subscriptionId=f"sub-{run}-1",
                items=[
                    {"name": "A", "skuId": f"SKU-{run}-A", "price": "10.00", "quantity": 1},
                    {"name": "C", "skuId": f"SKU-{run}-C", "price": "10.00", "quantity": 1},
                ],
            ),
        ),
        create(
            api,
            body("D", email=f"d-{run}@example.com", items=[{"name": "Free sample", "price": "0.00", "quantity": 1}]),
        ),
    )
    every = {a["id"], b["id"], c["id"], d["id"]}
    mine = ",".join(f"{run}-{name}" for name in "ABCD")
    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({}, every),
        ({"ids": f"{a['id']},{b['id']},1"}, {a["id"], b["id"]}),
        ({"upstreamIds": f"{run}-B,{run}-D,someone-else"}, {b["id"], d["id"]}),
        ({"state": "accepted"}, {d["id"]}),  # nothing to pay
        ({"state": "pending_payment"}, {a["id"], b["id"], c["id"]}),
        ({"state": "complete"}, set()),
        ({"customerId": a["customerId"]}, {a["id"], c["id"]}),
        ({"checkoutId": f"ck-{run}-B"}, {b["id"]}),
        ({"applicationId": f"app-{run}-1"}, {a["id"], c["id"]}),
        ({"email": f"a-{run}@example.com"}, {a["id"], c["id"]}),  # C's is its customer's
        ({"currency": "eur"}, {b["id"]}),
        ({"currency": "USD"}, {a["id"], c["id"], d["id"]}),
        ({"sku": f"SKU-{run}-A"}, {a["id"], c["id"]}),
        ({"sku": f"SKU-{run}-C"}, {c["id"]}),
        ({"fraudState": "passed"}, every),
        ({"fraudState": "blocked"}, set()),
        ({"browserIp": "2001:db8::1"}, {b["id"]}),
        ({"browserIp": "10.1.2.3"}, {a["id"]}),
        ({"chargeType": "customer_initiated"}, {a["id"], c["id"]}),
        ({"chargeType": "merchant_initiated"}, {b["id"]}),
        ({"subscriptionId": f"sub-{run}-1"}, {a["id"], c["id"]}),
        ({"refundedAmount": "0"}, every),
        ({"refundedAmount": "0.01"}, set()),
        ({"locale": "en_IE"}, {b["id"]}),
        ({"locale": "en_US"}, {a["id"], c["id"]}),
        ({"customerType": "business"}, {b["id"]}),
        ({"customerType": "individual"}, {a["id"]}),
        ({"email": f"a-{run}@example.com", "sku": f"SKU-{run}-C"}, {c["id"]}),  # filters combine
    ]
    for params, expected in cases:
        scoped = {"upstreamIds": mine, "limit": 100, **params}
        assert await listed(api, **scoped) == (sorted(expected, reverse=True), False), params


BAD_PARAMETERS: Final[list[tuple[dict[str, Any], str]]] = [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"startingAfter": 0}, "startingAfter"),
    ({"startingAfter": MAX_BIGINT + 1}, "startingAfter"),
    ({"endingBefore": "ord_5823594809"}, "endingBefore"),
    ({"ids": "abc"}, "ids"),
    ({"ids": str(MAX_BIGINT + 1)}, "ids"),
    ({"ids": "0"}, "ids"),
    ({"ids": "1,,2"}, "ids"),
    ({"upstreamIds": "a,,b"}, "upstreamIds"),
    ({"state": "created"}, "state"),
    ({"fraudState": "suspicious"}, "fraudState"),
    ({"chargeType": "sometimes"}, "chargeType"),
    ({"customerType": "robot"}, "customerType"),
    ({"customerId": MAX_BIGINT + 1}, "customerId"),
    ({"customerId": "cus_5774321009"}, "customerId"),
    ({"refundedAmount": "lots"}, "refundedAmount"),
    ({"refundedAmount": "-1"}, "refundedAmount"),
    ({"refundedAmount": "NaN"}, "refundedAmount"),
    ({"refundedAmount": "1e30"}, "refundedAmount"),
    ({"currency": "US"}, "currency"),
    ({"browserIp": "999.1.1.1"}, "browserIp"),
    ({"email": "a\u0000b@example.com"}, "email"),
    ({"sku": "x\u0000"}, "sku"),
]


@pytest.mark.parametrize(("params", "field"), BAD_PARAMETERS, ids=[str(params) for params, _ in BAD_PARAMETERS])
async def test_get_all_orders_refuses_a_bad_parameter_naming_it(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await api.get("/orders", params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_get_all_orders_with_both_cursors_is_400(api: httpx.AsyncClient) -> None:
    response = await api.get("/orders", params={"startingAfter": 5, "endingBefore": 9})

    assert response.status_code == 400
    assert response.json()["code"] == "conflicting_cursors"
    assert [error["field"] for error in response.json()["errors"]] == ["startingAfter", "endingBefore"]
