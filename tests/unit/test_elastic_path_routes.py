"""Elastic Path's routes (services/order_api/api/elastic_path/routes.py) over the use cases in memory:
the app `python -m services.order_api` serves, without its lifespan (no pool, no Kafka)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.order_api.__main__ import build
from services.order_api.api import http
from shared.auth import LOCAL_API_KEY
from tests.support.fake_store import FakeDatabase, anonymization_service, order_service, published
from tests.support.order_rules import PARTIALLY_PAID_NEW_CUSTOMER
from tests.support.order_rules import build as build_order


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
async def api(database: FakeDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = build()
    app.dependency_overrides[http.anonymization_service] = lambda: anonymization_service(database)
    app.dependency_overrides[http.order_service] = lambda: order_service(database)
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {LOCAL_API_KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://orders", headers=headers) as client:
        yield client


async def _place(database: FakeDatabase, order_id: int, **fields: Any) -> str:
    order = build_order(PARTIALLY_PAID_NEW_CUSTOMER).model_copy(update={"id": order_id, **fields})
    await database.tables.orders.insert(order, None)
    return str(order_id)


def _anonymize(ids: list[str]) -> dict[str, Any]:
    return {"data": {"order_ids": ids}}


async def test_anonymize_answers_the_orders_masked_and_get_shows_them(
    api: httpx.AsyncClient, database: FakeDatabase
) -> None:
    order_id = await _place(database, 11, status="cancelled")

    answer = await api.post("/v2/orders/anonymize", json=_anonymize([order_id]))

    assert answer.status_code == 200
    (order,) = answer.json()["data"]
    assert (order["type"], order["id"], order["status"], order["anonymized"]) == ("order", order_id, "cancelled", True)
    assert order["contact"] == {"email": "*", "name": "*"}
    assert set(order["shipping_address"].values()) == {"*"}
    assert order["meta"]["display_price"]["with_tax"]["currency"] == "USD"
    assert (await api.get(f"/v2/orders/{order_id}")).json()["data"] == order
    repeat = await api.post("/v2/orders/anonymize", json=_anonymize([order_id]))
    assert repeat.json()["data"] == [order]
    assert len(published(database)) == 1


async def test_an_ineligible_order_refuses_the_batch_in_elastic_paths_shape(
    api: httpx.AsyncClient, database: FakeDatabase
) -> None:
    good = await _place(database, 11, status="cancelled")
    bad = await _place(database, 12, financial_status="pending")

    answer = await api.post("/v2/orders/anonymize", json=_anonymize([good, bad]))

    assert answer.status_code == 422
    assert answer.json() == {
        "errors": {
            "status": 422,
            "title": "Could not anonymize orders",
            "detail": "Order has status: order:incomplete, payment:unpaid, shipping:unfulfilled; "
            "only fulfilled or refunded or cancelled orders may be anonymized",
            "meta": {"order_id": bad},
        }
    }
    assert published(database) == []


async def test_an_unknown_id_or_more_than_100_ids_is_a_422(api: httpx.AsyncClient) -> None:
    unknown = await api.post("/v2/orders/anonymize", json=_anonymize(["404"]))
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["meta"] == {"order_id": "404"}
    too_many = await api.post("/v2/orders/anonymize", json=_anonymize([str(n) for n in range(101)]))
    assert too_many.status_code == 422
    assert "meta" not in too_many.json()["errors"]


async def test_an_unknown_order_is_a_404_in_elastic_paths_shape(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v2/orders/404")
    assert answer.status_code == 404
    assert answer.json()["errors"]["title"] == "Not Found"
