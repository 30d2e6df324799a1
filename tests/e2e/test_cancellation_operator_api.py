"""The cancellation worker's operator API on the running service: its key and scope, its refusals,
and reference data that it publishes to order_api and takes from others' facts."""

import random

import httpx

from deploy.demo_catalog import ingest_record, publish
from shared.auth import LOCAL_API_KEY
from shared.cancellations import ShippingCompany
from shared.events import Event
from shared.topics import ORDERS_INGEST
from tests.e2e.conftest import READ_ONLY_KEY
from tests.support.cancellations import new_order_id
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.refund_flow import ADMIN, on_topic


async def test_the_operator_api_needs_a_key_with_its_scope_and_words_its_refusals(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    worker = system["cancellation_worker"].url
    unknown = new_order_id()

    assert (await http.get(f"{worker}/cancellation-requests")).status_code == 401
    forbidden = await http.get(f"{worker}/cancellation-requests", headers={"authorization": f"Bearer {READ_ONLY_KEY}"})
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    for method, path, status, code in (
        ("GET", f"/cancellation-requests/{unknown}", 404, "request_not_found"),
        ("POST", f"/cancellation-requests/{unknown}/approve", 404, "request_not_found"),
        ("GET", f"/orders/{unknown}/ledger", 404, "order_not_found"),
        ("POST", f"/orders/{unknown}/refunds/1/retry", 404, "order_not_found"),
        ("GET", "/cancellation-requests?cursor=bm90LWEtY3Vyc29y", 422, "validation_error"),
        ("GET", "/cancellation-requests?status=lost", 422, "validation_error"),
    ):
        answer = await http.request(method, worker + path, headers=ADMIN)
        assert (answer.status_code, answer.json()["code"]) == (status, code), path
        assert answer.headers["content-type"] == "application/problem+json"


async def test_reference_data_is_published_to_order_api_and_taken_from_others_facts(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, stack: tuple[str, str]
) -> None:
    worker = system["cancellation_worker"].url
    reason_id, company_id, theirs = (random.randrange(10**6, 10**9) for _ in range(3))

    put = await http.put(f"{worker}/cancellation-reasons/{reason_id}", json={"name": "Changed my mind"}, headers=ADMIN)
    assert put.json() == {"id": reason_id, "name": "Changed my mind", "active": True}
    company = await http.put(
        f"{worker}/shipping-companies/{company_id}", json={"name": "Yurtici", "easy_return": True}, headers=ADMIN
    )
    assert company.status_code == 200
    assert (await http.put(f"{worker}/shipping-companies/{company_id}", json={}, headers=ADMIN)).status_code == 422
    [fact] = await on_topic(stack[1], ORDERS_INGEST, reason_id, 1, source="cancellation_worker")
    assert (fact.type, fact.data) == (
        "cancellation.reason.upserted",
        {"id": reason_id, "name": "Changed my mind", "active": True},
    )

    fact_from_catalog = Event.new(
        "shipping_company.upserted", "demo-catalog", str(theirs), ShippingCompany(id=theirs, name="Aras")
    )
    await publish(stack[1], [ingest_record(fact_from_catalog)])

    async def companies() -> list[int]:
        answer = await http.get(f"{worker}/shipping-companies", headers=ADMIN)
        return [entry["id"] for entry in answer.json()]

    found = await eventually(companies, lambda ids: theirs in ids)
    assert company_id in found
    reasons = await http.get(f"{worker}/cancellation-reasons", headers={"authorization": f"Bearer {LOCAL_API_KEY}"})
    assert {"id": reason_id, "name": "Changed my mind", "active": True} in reasons.json()
