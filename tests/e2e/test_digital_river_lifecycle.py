"""A Digital River order's life as other services report it: created from catalog variants for a
registered customer, then paid and shipped through `orders.ingest` facts; `refresh` and the `state`
filter show each step."""

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from shared.order_facts import FulfillmentCreatedFact, PaymentFact, VariantFact
from tests.support.digital_river import client, create
from tests.support.order_api_facts import apply_facts, fact
from tests.support.processes import ServiceProcess

IPOD: int = 447654529  # the Haravan document's variant, in the demo catalog
BOB: int = 207119551  # the demo catalog's registered customer


@pytest.fixture
async def api(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(system) as running:
        yield running


async def test_refresh_order_shows_the_state_payments_and_shipping_moved_it_to(
    api: httpx.AsyncClient,
    demo_catalog: dict[int, VariantFact],
    stack: tuple[str, str],
    admin_db: asyncpg.Connection,
) -> None:
    upstream_id = f"life-{uuid.uuid4().hex[:12]}"
    order = await create(
        api, {"customerId": BOB, "upstreamId": upstream_id, "items": [{"variantId": IPOD, "quantity": 2}]}
    )
    ipod = demo_catalog[IPOD]
    assert (order["customerId"], order["currency"], order["totalAmount"], order["state"]) == (
        BOB,
        "usd",
        "398.00",
        "pending_payment",
    )
    assert [
        (item["variantId"], item["productId"], item["skuId"], item["name"], item["price"]) for item in order["items"]
    ] == [(IPOD, ipod.product_id, ipod.sku, f"{ipod.title} - {ipod.variant_title}", "199.00")]

    async def refreshed() -> dict[str, object]:
        response = await api.post(f"/orders/{order['id']}/refresh")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    async def in_state(state: str) -> list[int]:
        response = await api.get("/orders", params={"upstreamIds": upstream_id, "state": state})
        return [listed["id"] for listed in response.json()["data"]]

    await apply_facts(
        stack[1],
        admin_db,
        [
            fact(
                "payment.captured",
                PaymentFact(order_id=order["id"], amount=Decimal("398.00"), currency="USD"),
                order["id"],
            )
        ],
    )
    paid = await refreshed()
    assert (paid["state"], paid["capturedAmount"], paid["availableToRefundAmount"]) == ("accepted", "398.00", "398.00")
    assert await in_state("accepted") == [order["id"]]
    assert await in_state("pending_payment") == []

    await apply_facts(
        stack[1],
        admin_db,
        [fact("fulfillment.created", FulfillmentCreatedFact(order_id=order["id"], fulfillment_id=1), order["id"])],
    )
    shipped = await refreshed()
    assert shipped["state"] == "complete"
    assert await in_state("complete") == [order["id"]]
    assert shipped == (await api.get(f"/orders/{order['id']}")).json()
