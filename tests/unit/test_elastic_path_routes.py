"""Elastic Path's routes (services/order_api/api/elastic_path/routes.py) over the use cases in memory:
the app `python -m services.order_api` serves, without its lifespan (no pool, no Kafka)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.order_api.__main__ import build
from services.order_api.api import http
from services.order_api.api.elastic_path.errors import elastic_path_errors
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


async def test_a_body_that_is_not_the_envelope_or_names_no_id_is_a_422_saying_what_to_send(
    api: httpx.AsyncClient,
) -> None:
    bodies: list[Any] = [{}, {"data": {}}, {"data": {"order_ids": [11]}}, {"data": {"order_ids": "11"}}, [], None]
    for body in bodies:
        answer = await api.post("/v2/orders/anonymize", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"]["detail"] == 'The body must be {"data": {"order_ids": ["..."]}}'
    empty = await api.post("/v2/orders/anonymize", json=_anonymize([]))
    assert empty.status_code == 422
    assert empty.json()["errors"]["detail"] == "Give between 1 and 100 order ids; got 0"


async def test_an_unknown_order_is_a_404_in_elastic_paths_shape(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v2/orders/404")
    assert answer.status_code == 404
    assert answer.json()["errors"]["title"] == "Not Found"


def _edge_error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The edge's refusal: a problem document whose `errors` is Elastic Path's one-entry list."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code
    assert problem["errors"] == [{"status": status, "title": problem["title"], "detail": problem["detail"]}]
    return problem


async def test_the_edges_refusals_under_v2_carry_elastic_paths_errors(api: httpx.AsyncClient) -> None:
    no_key = await api.get("/v2/orders/11", headers={"authorization": ""})
    unknown_key = await api.get("/v2/orders/11", headers={"authorization": "Bearer nobody"})
    malformed = await api.post(
        "/v2/orders/anonymize", content=b'{"data": ', headers={"content-type": "application/json"}
    )
    not_json = await api.post("/v2/orders/anonymize", content=b"11", headers={"content-type": "text/plain"})

    _edge_error(no_key, 401, "unauthorized")
    _edge_error(unknown_key, 401, "unauthorized")
    assert _edge_error(malformed, 400, "malformed_json")["detail"] == "The request body is not valid JSON."
    _edge_error(not_json, 415, "unsupported_media_type")


async def test_a_key_without_the_scope_is_a_403_in_elastic_paths_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_API_API_KEYS", '{"reader-key": ["orders:read"]}')
    app, _ = build()
    headers = {"authorization": "Bearer reader-key"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o", headers=headers) as api:
        refused = await api.post("/v2/orders/anonymize", json=_anonymize(["11"]))

    _edge_error(refused, 403, "forbidden")


async def test_haravans_answers_keep_shopifys_errors(api: httpx.AsyncClient) -> None:
    malformed = await api.post("/com/orders.json", content=b"{bad", headers={"content-type": "application/json"})
    no_key = await api.get("/com/orders.json", headers={"authorization": ""})

    assert (malformed.status_code, malformed.json()["errors"]) == (400, {"[1]": ["JSON decode error"]})
    assert (no_key.status_code, no_key.json()["errors"]) == (401, no_key.json()["detail"])


def test_a_validation_problem_lists_one_elastic_path_error_per_field() -> None:
    problem = {
        "type": "about:blank",
        "title": "Validation error",
        "status": 422,
        "code": "validation_error",
        "detail": "Some fields are invalid.",
        "errors": [
            {"field": "data.order_ids", "message": "Field required", "type": "missing"},
            {"field": "Idempotency-Key", "message": "too long"},
        ],
    }

    shaped = elastic_path_errors(problem)

    assert shaped["errors"] == [
        {
            "status": 422,
            "title": "Failed Validation",
            "detail": "data.order_ids: Field required",
            "source": "data.order_ids",
        },
        {
            "status": 422,
            "title": "Failed Validation",
            "detail": "Idempotency-Key: too long",
            "source": "Idempotency-Key",
        },
    ]
    assert {key: shaped[key] for key in ("type", "title", "status", "code", "detail")} == {
        key: problem[key] for key in ("type", "title", "status", "code", "detail")
    }
    assert elastic_path_errors({**problem, "errors": []})["errors"] == [
        {"status": 422, "title": "Validation error", "detail": "Some fields are invalid."}
    ]


async def test_the_routes_own_errors_are_not_wrapped_again(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v2/orders/404")

    assert answer.json() == {"errors": {"status": 404, "title": "Not Found", "detail": "Order 404 not found"}}
