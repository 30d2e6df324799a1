"""The Elastic Path route's erasure on the real stack, the services as processes: an order created
through Haravan (with an Idempotency-Key, a customer and addresses), cancelled, then anonymized with
`POST /v2/orders/anonymize`: `GET /v2/orders/{id}` shows it anonymized and masked, order_api's
remembered answer and published events of the order are gone, and the anonymizer's erasure record is
complete with the receipts of order_api, cancellation_worker, webhook_dispatcher and itself. And a customer erasure
(`POST /erasures` by customer id) of a customer with an open order: order_api masks the customer's
record when that order, cancelled, is anonymized, not before, and the request completes with the
record's receipt."""

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.order_facts import CustomerFact
from tests.e2e.conftest import EVERY_RECEIPT
from tests.support.order_api_facts import apply_facts, fact
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, addressed_order_body, order_body

ANONYMIZER_KEY = {"authorization": f"Bearer {LOCAL_API_KEY}"}


@pytest.fixture
def anonymizer(system: dict[str, ServiceProcess]) -> ServiceProcess:
    return system["anonymizer"]


def created_order(email: str) -> dict[str, Any]:
    address = {"first_name": "Erin", "last_name": "Eraseme", "address1": "1 Secret Lane", "city": "Hiddenville"}
    return addressed_order_body(email, address, phone="+15550123")


async def test_an_order_anonymized_through_elastic_path_is_masked_erased_and_receipted(
    system: dict[str, ServiceProcess],
    anonymizer: ServiceProcess,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    api = system["order_api"].url
    email = f"erin.{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post(
        api + CREATE_PATH, json=created_order(email), headers={"idempotency-key": str(uuid.uuid4())}
    )
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    cancelled = await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text
    remembered = "SELECT count(*) FROM order_api.idempotency_keys WHERE order_id = $1"
    assert await admin_db.fetchval(remembered, order_id) == 1

    answered = await http.post(api + "/v2/orders/anonymize", json={"data": {"order_ids": [str(order_id)]}})

    assert answered.status_code == 200, answered.text
    [shown] = answered.json()["data"]
    assert (shown["id"], shown["anonymized"]) == (str(order_id), True)
    fetched = await http.get(f"{api}/v2/orders/{order_id}")
    assert fetched.status_code == 200, fetched.text
    order = fetched.json()["data"]
    assert order["anonymized"] is True
    assert order["contact"] == {"email": "*", "name": "*"}
    assert {order["billing_address"][name] for name in ("first_name", "last_name", "line_1", "postcode")} == {"*"}
    assert email not in fetched.text
    assert "Eraseme" not in fetched.text

    # The anonymizer's record of the order's erasure completes with every expected receipt.
    async def record() -> asyncpg.Record | None:
        found: asyncpg.Record | None = await admin_db.fetchrow(
            "SELECT erasure_id, state FROM anonymizer.order_erasures WHERE order_id = $1", order_id
        )
        return found

    done = await eventually(record, lambda row: row is not None and row["state"] == "complete", timeout=30)
    assert done is not None
    seen = await http.get(f"{anonymizer.url}/erasures/{done['erasure_id']}", headers=ANONYMIZER_KEY)
    assert seen.status_code == 200, seen.text
    [progress] = seen.json()["orders"]
    assert (progress["order_id"], progress["state"], progress["missing"]) == (order_id, "complete", [])
    assert sorted(receipt["service"] for receipt in progress["receipts"]) == EVERY_RECEIPT

    # order_api's copies outside the order's row are gone: its remembered answer, its published events
    # (only its receipt, on anonymization.events, is left in its outbox).
    assert await admin_db.fetchval(remembered, order_id) == 0
    topics = await admin_db.fetch("SELECT topic FROM order_api.outbox WHERE key = $1", str(order_id))
    assert {row["topic"] for row in topics} <= {"anonymization.events"}
    assert (
        await admin_db.fetchval("SELECT count(*) FROM order_api.outbox_dead_letters WHERE key = $1", str(order_id)) == 0
    )


async def test_a_customer_erasure_masks_the_customer_record_once_its_order_is_anonymized(
    system: dict[str, ServiceProcess],
    anonymizer: ServiceProcess,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    api = system["order_api"].url
    customer_id = 700_000_000 + uuid.uuid4().int % 100_000_000
    email = f"cust.{uuid.uuid4().hex[:8]}@example.com"
    account = CustomerFact(id=customer_id, email=email, first_name="Cora", last_name="Redact", phone="+15550199")
    await apply_facts(stack[1], admin_db, [fact("customer.upserted", account, customer_id)])
    body = order_body(email=email)
    body["order"] |= {"customer": {"id": customer_id}, "financial_status": "pending"}
    created = await http.post(api + CREATE_PATH, json=body)
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    await eventually(
        lambda: admin_db.fetchval("SELECT customer_id FROM anonymizer.known_orders WHERE order_id = $1", order_id),
        lambda known: known == customer_id,
        timeout=30,
    )

    asked = await http.post(f"{anonymizer.url}/erasures", json={"customer_id": customer_id}, headers=ANONYMIZER_KEY)
    assert asked.status_code == 202, asked.text
    customer_row = "SELECT email, first_name, last_name, phone FROM order_api.customers WHERE id = $1"

    async def record() -> tuple[object, ...]:
        return tuple(await admin_db.fetchrow(customer_row, customer_id) or ())

    # The open order is not eligible: the customer's erasure waits for it in order_api.
    waits = "SELECT count(*) FROM order_api.customer_erasures WHERE customer_id = $1"
    await eventually(lambda: admin_db.fetchval(waits, customer_id), lambda waiting: waiting == 1, timeout=30)
    assert await record() == (email, "Cora", "Redact", "+15550199")
    request_id = asked.json()["id"]
    waiting = (await http.get(f"{anonymizer.url}/erasures/{request_id}", headers=ANONYMIZER_KEY)).json()
    assert waiting["status"] == "waiting"
    assert waiting["customers"] == [{"customer_id": customer_id, "state": "waiting", "rows": None, "erased_at": None}]

    cancelled = await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})  # eligible: forgotten now
    assert cancelled.status_code == 200, cancelled.text

    seen = await eventually(
        lambda: http.get(f"{anonymizer.url}/erasures/{request_id}", headers=ANONYMIZER_KEY),
        lambda answer: answer.json()["status"] == "complete",
        timeout=30,
    )
    # Complete only with the customer record's receipt: the record is masked by then.
    (customer,) = seen.json()["customers"]
    assert (customer["customer_id"], customer["state"], customer["rows"]) == (customer_id, "erased", {"customers": 1})
    assert await record() == ("*", "*", "*", "*")
    assert await admin_db.fetchval("SELECT anonymized FROM order_api.orders WHERE id = $1", order_id) is True
    assert [progress["order_id"] for progress in seen.json()["orders"]] == [order_id]
