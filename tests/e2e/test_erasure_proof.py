"""Issue 10's whole-database proof, on the real stack with the services as processes: a guest's order
with full addresses and a customer record, paid, looked up by the guest, with an Akinon cancellation
request paid back to an IBAN, created with an Idempotency-Key and delivered to two webhook endpoints,
is cancelled and anonymized through Elastic Path's `POST /v2/orders/anonymize`. Within 5 s every
service's receipt is in; then `pg_dump` of the whole database holds none of that guest's personal
strings (in any spelling: as is, JSON-escaped, in a bytea payload), nor does any line the services
logged meanwhile at info level or above. Another guest's order, made the same way and not anonymized,
is all there in the same dump, so the search can fail."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.order_facts import VariantFact
from tests.e2e.conftest import EVERY_RECEIPT, LOG_DIR
from tests.e2e.test_akinon import LOOKUP_PATH
from tests.e2e.test_akinon_cancellations import REQUEST_PATH
from tests.support.personal_data import LogMarks, Person, found_in, found_in_database, loud_lines
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.storefront import CREATE_PATH
from tests.support.webhooks import Endpoints, endpoints, order_of, payload

ADMIN: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}
RECEIPTS_WITHIN_SECONDS: Final = 5.0  # the bound, from the anonymize call's answer


def order_of_person(person: Person) -> dict[str, Any]:
    """A Haravan create body: two iPods and shipping, paid with one sale, the guest's every detail."""
    return {
        "order": {
            "email": person.email,
            "phone": person.phone,
            "currency": "USD",
            "note": person.note,
            "customer": {
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email,
                "phone": person.phone,
            },
            "billing_address": person.address("billing"),
            "shipping_address": person.address("shipping"),
            "browser_ip": person.browser_ip,
            "client_details": {"browser_ip": person.browser_ip, "user_agent": person.user_agent},
            "line_items": [{"title": "IPod Touch 8GB", "price": "199.00", "quantity": 2}],
            "shipping_lines": [{"title": "Standard", "price": "10.00"}],
            "transactions": [{"kind": "sale", "status": "success", "amount": "408.00"}],
        }
    }


async def guest_call(api: str, path: str, body: dict[str, Any], person: Person) -> httpx.Response:
    """A guest's own call (no API key) from the guest's browser, behind the loopback proxy."""
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        return await anonymous.post(api + path, json=body, headers={"x-forwarded-for": person.browser_ip})


async def shop(http: httpx.AsyncClient, system: dict[str, ServiceProcess], person: Person) -> dict[str, Any]:
    """The guest orders (with an Idempotency-Key), looks the order up, and asks to cancel one iPod,
    paid back to an IBAN; returns the order once the worker completed the request."""
    api, worker = system["order_api"].url, system["cancellation_worker"].url
    created = await http.post(
        api + CREATE_PATH, json=order_of_person(person), headers={"idempotency-key": str(uuid.uuid4())}
    )
    assert created.status_code == 201, created.text
    order: dict[str, Any] = created.json()["order"]
    assert order["guest"] is True  # a checkout record, not an account: the guest routes find the order
    named = {"number": str(order["order_number"]), "email": person.email}

    looked_up = await guest_call(api, LOOKUP_PATH, named, person)
    assert looked_up.status_code == 200, looked_up.text
    request = {
        **named,
        "order_item": order["line_items"][0]["id"],
        "quantity": 1,
        "reason": 1,
        "cancellation_type": "cancel",
        "description": person.description,
        "iban": person.iban,
        "holder_name": person.holder_name,
    }
    asked = await guest_call(api, REQUEST_PATH, request, person)
    assert asked.status_code == 201, asked.text
    await eventually(
        lambda: http.get(f"{worker}/cancellation-requests/{asked.json()['id']}", headers=ADMIN),
        lambda got: got.status_code == 200 and got.json()["status"] == "completed",
        timeout=60,
    )
    return order


async def delivered(receivers: list[WebhookReceiver], order_id: int, event_type: str) -> None:
    """Every receiver got the order's event."""

    async def got() -> list[bool]:
        return [
            any(order_of(request) == order_id and payload(request)["type"] == event_type for request in r.received())
            for r in receivers
        ]

    await eventually(got, all, timeout=60)


async def every_receipt(http: httpx.AsyncClient, anonymizer: str, admin_db: asyncpg.Connection, order_id: int) -> Any:
    """The anonymizer's view of the order's erasure once complete with every service's receipt."""
    erasure_id = await eventually(
        lambda: admin_db.fetchval("SELECT erasure_id FROM anonymizer.order_erasures WHERE order_id = $1", order_id),
        lambda found: found is not None,
        timeout=RECEIPTS_WITHIN_SECONDS,
        interval=0.05,
    )
    seen = await eventually(
        lambda: http.get(f"{anonymizer}/erasures/{erasure_id}", headers=ADMIN),
        lambda got: got.status_code == 200 and got.json()["status"] == "complete",
        timeout=RECEIPTS_WITHIN_SECONDS,
        interval=0.05,
    )
    return seen.json()


@pytest.fixture
async def hooks(http: httpx.AsyncClient, system: dict[str, ServiceProcess]) -> AsyncIterator[Endpoints]:
    """The dispatcher's endpoints as the test registers them, deleted afterwards."""
    async with endpoints(http, system["webhook_dispatcher"].url) as registry:
        yield registry


async def test_after_the_elastic_path_erasure_no_table_and_no_info_log_holds_the_guests_data(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    demo_catalog: dict[int, VariantFact],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    hooks: Endpoints,
) -> None:
    api = system["order_api"].url
    logs = LogMarks.at_end_of(sorted(LOG_DIR.glob("*.log")))
    erased, other = Person.new("proof"), Person.new("kept")
    with WebhookReceiver() as first, WebhookReceiver() as second:
        receivers = [first, second]
        for receiver in receivers:
            await hooks.register(receiver.url)  # every event type
        order, kept = await asyncio.gather(shop(http, system, erased), shop(http, system, other))
        cancelled = await http.post(
            f"{api}/com/orders/{order['id']}/cancel.json",
            json={"reason": "customer", "email": True},
            headers={"prefer": "wait=20"},  # until the rest of the money is back
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["order"]["financial_status"] == "refunded"
        for order_id, event_type in [(order["id"], "order.cancelled"), (kept["id"], "order.cancellation_requested")]:
            await delivered(receivers, order_id, event_type)

        anonymized = await http.post(api + "/v2/orders/anonymize", json={"data": {"order_ids": [str(order["id"])]}})
        answered_at = time.monotonic()

        assert anonymized.status_code == 200, anonymized.text
        erasure = await every_receipt(http, system["anonymizer"].url, admin_db, order["id"])
        assert time.monotonic() - answered_at <= RECEIPTS_WITHIN_SECONDS
        [progress] = erasure["orders"]
        assert sorted(receipt["service"] for receipt in progress["receipts"]) == EVERY_RECEIPT
        await delivered(receivers, order["id"], "order.anonymized")

    other_stored, erased_stored = await asyncio.to_thread(
        found_in_database, stack[0], other.strings(), erased.strings()
    )
    logged = "\n".join(loud_lines(logs.lines_since()))
    assert f'"order_id": {order["id"]}' in logged  # the services' lines of this test are the ones searched
    assert other_stored == other.strings()  # untouched, and the search finds data
    assert await admin_db.fetchval("SELECT anonymized FROM order_api.orders WHERE id = $1", kept["id"]) is False
    leaks = {"database": erased_stored, "info logs": found_in(logged, erased.strings())}
    assert leaks == {"database": {}, "info logs": {}}
