"""The anonymizer's erasure routes (services/anonymizer/api.py) over its use cases in memory: the app
`python -m services.anonymizer` serves, without its lifespan (no pool, no Kafka), its use cases on
tests/support/anonymizer_fakes.py."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.anonymizer.__main__ import build
from services.anonymizer.api import get_service
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.orders import OrderCopyService
from services.anonymizer.service.requests import ErasureRequestService
from shared.auth import LOCAL_API_KEY
from shared.erasure import CUSTOMER_ERASED, CustomerErased
from shared.events import Event
from shared.orders import OrderLifecycleData
from tests.support.anonymizer_fakes import fake_ports
from tests.support.cancellation_fakes import CONN
from tests.support.cancellations import paid_order

ADA = "ada@example.com"
HEADERS = {"authorization": f"Bearer {LOCAL_API_KEY}"}


class Fakes:
    def __init__(self) -> None:
        ports, self.store, self.outbox, self.clock = fake_ports()
        self.service = ErasureRequestService(ports)
        self.copy = OrderCopyService(ports, ErasureService(ports))

    async def order(self, order_id: int, email: str, customer_id: int | None = None) -> None:
        order = paid_order(order_id, email=email, customer_id=customer_id, status="cancelled")
        data = OrderLifecycleData(order_id=order_id, sequence=1, order=order)
        await self.copy.order_changed(CONN, Event.new("order.created", "order_api", str(order_id), data), data)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


async def _client(fakes: Fakes, headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = build()
    app.dependency_overrides[get_service] = lambda: fakes.service
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anonymizer", headers=headers) as client:
        yield client


@pytest.fixture
async def api(fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(fakes, HEADERS):
        yield client


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_a_customer_erasure_answers_202_with_its_orders_waiting_and_never_the_email(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    await fakes.order(7501, ADA)
    await fakes.order(7502, ADA.upper())

    created = await api.post("/erasures", json={"email": f" {ADA} "})

    assert created.status_code == 202
    body = created.json()
    assert created.headers["location"] == f"/erasures/{body['id']}"
    assert (body["kind"], body["status"], body["customer_id"], body["matched_by_email"]) == (
        "customer",
        "waiting",
        None,
        True,
    )
    assert [(o["order_id"], o["state"], o["missing"], o["receipts"]) for o in body["orders"]] == [
        (7501, "waiting", [], []),
        (7502, "waiting", [], []),
    ]
    assert "ada@" not in created.text.lower()  # a uuid may hold "ada"; the address may not, in any case
    assert (await api.get(f"/erasures/{body['id']}")).json() == body


async def test_a_customer_id_erasure_names_the_customer(api: httpx.AsyncClient, fakes: Fakes) -> None:
    await fakes.order(7511, ADA, customer_id=42)

    body = (await api.post("/erasures", json={"customer_id": 42})).json()

    assert (body["customer_id"], body["matched_by_email"], [o["order_id"] for o in body["orders"]]) == (
        42,
        False,
        [7511],
    )
    assert body["customers"] == [{"customer_id": 42, "state": "waiting", "rows": None, "erased_at": None}]


async def test_the_customer_records_receipt_shows_in_the_request(api: httpx.AsyncClient, fakes: Fakes) -> None:
    body = (await api.post("/erasures", json={"customer_id": 42})).json()
    assert (body["status"], body["orders"]) == ("waiting", [])
    erased = CustomerErased(customer_id=42, request_ids=[body["id"]], rows={"customers": 1}, erased_at=fakes.clock())
    await fakes.service.customer_erased(CONN, Event.new(CUSTOMER_ERASED, "order_api", "42", erased))

    shown = (await api.get(f"/erasures/{body['id']}")).json()

    assert shown["status"] == "complete"
    assert shown["customers"] == [
        {"customer_id": 42, "state": "erased", "rows": {"customers": 1}, "erased_at": "2024-05-17T09:30:00Z"}
    ]


async def test_the_openapi_document_describes_the_customer_records(api: httpx.AsyncClient) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]

    assert "customers" in schemas["RequestDetail"]["required"]
    customer = schemas["CustomerOut"]["properties"]
    assert set(customer) == {"customer_id", "state", "rows", "erased_at"}
    assert customer["state"]["enum"] == ["waiting", "erased"]
    assert "order_api" in customer["rows"]["description"]


@pytest.mark.parametrize(
    "sent",
    [
        {},
        {"email": ADA, "customer_id": 42},
        {"email": None, "customer_id": None},
        {"email": "not an email"},
        {"email": "*"},
        {"customer_id": "42"},
        {"customer_id": 0},
        {"email": ADA, "name": "Ada"},
    ],
)
async def test_anything_but_exactly_one_email_or_customer_id_is_422(
    api: httpx.AsyncClient, fakes: Fakes, sent: dict[str, Any]
) -> None:
    problem = _problem(await api.post("/erasures", json=sent), 422, "validation_error")

    assert problem["errors"]
    assert fakes.store.requests == {}


async def test_an_unknown_or_malformed_request_id(api: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    assert _problem(await api.get(f"/erasures/{missing}"), 404, "erasure_not_found")["detail"] == (
        f"There is no erasure request {missing}."
    )
    _problem(await api.get("/erasures/7"), 422, "validation_error")


async def test_the_listing_pages_newest_first_with_a_cursor_and_filters_by_status(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    await fakes.order(7521, ADA)
    ids = []
    for email in (ADA, "bob@example.com", "cy@example.com"):
        ids.append((await api.post("/erasures", json={"email": email})).json()["id"])
        fakes.clock.advance(1)

    first = (await api.get("/erasures", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
    assert first["next_cursor"]
    second = (await api.get("/erasures", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert ([item["id"] for item in second["items"]], second["next_cursor"]) == ([ids[0]], None)
    waiting = (await api.get("/erasures", params={"status": "waiting"})).json()
    assert [item["id"] for item in waiting["items"]] == [ids[0]]
    assert "orders" not in waiting["items"][0]


@pytest.mark.parametrize("params", [{"cursor": "bm90LWEtY3Vyc29y"}, {"status": "done"}, {"limit": 0}, {"limit": 201}])
async def test_a_bad_listing_query_is_422(api: httpx.AsyncClient, params: dict[str, Any]) -> None:
    _problem(await api.get("/erasures", params=params), 422, "validation_error")


async def test_the_routes_need_a_key_with_the_orders_anonymize_scope(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ANONYMIZER_API_KEYS", '{"webhooks-key": ["webhooks:admin"], "erasing-key": ["orders:anonymize"]}'
    )
    async for client in _client(fakes, {}):
        _problem(await client.get("/erasures"), 401, "unauthorized")
        wrong = {"authorization": "Bearer webhooks-key"}
        _problem(await client.post("/erasures", json={"email": ADA}, headers=wrong), 403, "forbidden")
        right = {"authorization": "Bearer erasing-key"}
        assert (await client.post("/erasures", json={"email": ADA}, headers=right)).status_code == 202
