"""The erasure saga when a service is away, on the real stack: a service stopped (SIGSTOP) when an order's
erasure is requested owes its receipt past the deadline, so the anonymizer reports the record overdue
(`erasure.overdue` on anonymization.events, the metric, the record's state) and asks again; once the
service resumes its receipt comes in and the record completes. And a webhook message of the order that
is still being retried when the order is anonymized is delivered with the masked order, signed.

The anonymizer runs here with a 2 s receipt deadline, and the dispatcher with a long retry schedule and
no circuit breaker to speak of, so a failing endpoint's message stays pending for the test's length."""

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.topics import ANONYMIZATION_EVENTS
from tests.e2e.conftest import EVERY_RECEIPT
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.storefront import CREATE_PATH, addressed_order_body
from tests.support.webhooks import order_of, verified

ANONYMIZER_KEY: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}
SHORT_DEADLINE: Final = {"ANONYMIZER_RECEIPT_DEADLINE_SECONDS": "2", "ANONYMIZER_OVERDUE_INTERVAL_SECONDS": "0.5"}
PATIENT_DISPATCHER: Final = {
    "WEBHOOKS_RETRY_SCHEDULE_SECONDS": json.dumps([0.5] * 120),
    "WEBHOOKS_BREAKER_FAILURES": "1000",
}


@pytest.fixture(scope="module")
def anonymizer(system: dict[str, ServiceProcess]) -> Iterator[ServiceProcess]:
    with system["anonymizer"].restarted(SHORT_DEADLINE) as restarted:
        yield restarted


@pytest.fixture(scope="module")
def dispatcher(system: dict[str, ServiceProcess]) -> Iterator[ServiceProcess]:
    with system["webhook_dispatcher"].restarted(PATIENT_DISPATCHER) as restarted:
        yield restarted


@pytest.fixture
def erasure_of(
    anonymizer: ServiceProcess, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> Callable[[int], Awaitable[dict[str, Any]]]:
    """The anonymizer's view of an order's erasure (`GET /erasures/{id}`: the order's own request, its
    status and its one order's progress under "order"); empty before the anonymizer opened it."""

    async def view(order_id: int) -> dict[str, Any]:
        erasure_id = await admin_db.fetchval(
            "SELECT erasure_id FROM anonymizer.order_erasures WHERE order_id = $1", order_id
        )
        if erasure_id is None:
            return {}
        answer = await http.get(f"{anonymizer.url}/erasures/{erasure_id}", headers=ANONYMIZER_KEY)
        assert answer.status_code == 200, answer.text
        shown: dict[str, Any] = answer.json()
        [shown["order"]] = shown.pop("orders")
        return shown

    return view


async def _cancelled_order(http: httpx.AsyncClient, api: str, email: str) -> int:
    address = {"first_name": "Grace", "last_name": "Hopperson", "address1": "7 Compiler Court", "city": "Arlington"}
    created = await http.post(api + CREATE_PATH, json=addressed_order_body(email, address, financial_status="pending"))
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    cancelled = await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text
    return order_id


async def _anonymize(http: httpx.AsyncClient, api: str, order_id: int) -> None:
    answer = await http.post(api + "/v2/orders/anonymize", json={"data": {"order_ids": [str(order_id)]}})
    assert answer.status_code == 200, answer.text


async def _overdue_count(http: httpx.AsyncClient, anonymizer: ServiceProcess, service: str) -> float:
    metrics = (await http.get(f"{anonymizer.url}/metrics")).text
    found = re.search(rf'^anonymizer_erasures_overdue_total{{service="{service}"}} (\S+)$', metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@contextlib.contextmanager
def _away(process: ServiceProcess, how: str) -> Iterator[None]:
    """The service away: stopped (SIGSTOP) and resumed, or terminated and started again."""
    if how == "paused":
        with process.paused():
            yield
        return
    process.terminate()
    try:
        yield
    finally:
        process.start()


@pytest.mark.parametrize(("service", "how"), [("cancellation_worker", "paused"), ("webhook_dispatcher", "stopped")])
async def test_a_service_away_during_an_erasure_is_reported_overdue_then_its_late_receipt_completes_it(
    service: str,
    how: str,
    system: dict[str, ServiceProcess],
    anonymizer: ServiceProcess,
    http: httpx.AsyncClient,
    stack: tuple[str, str],
    erasure_of: Callable[[int], Awaitable[dict[str, Any]]],
) -> None:
    api = system["order_api"].url
    order_id = await _cancelled_order(http, api, f"grace.{uuid.uuid4().hex[:8]}@example.com")
    overdue_before = await _overdue_count(http, anonymizer, service)

    with _away(system[service], how):  # the service is away when its receipt is asked for
        await _anonymize(http, api, order_id)
        # Overdue at the deadline; the other services' receipts may still be on their way then.
        overdue = await eventually(
            lambda: erasure_of(order_id),
            lambda seen: seen.get("status") == "overdue" and seen["order"]["missing"] == [service],
            timeout=30,
            interval=0.1,
        )
        assert (overdue["order"]["state"], overdue["order"]["missing"]) == ("overdue", [service])
        assert overdue["order"]["attempt"] >= 2  # asked again
        assert sorted(receipt["service"] for receipt in overdue["order"]["receipts"]) == [
            name for name in EVERY_RECEIPT if name != service
        ]
        listed = await http.get(
            f"{anonymizer.url}/erasures", params={"status": "overdue", "limit": 200}, headers=ANONYMIZER_KEY
        )
        assert overdue["id"] in [item["id"] for item in listed.json()["items"]]

    # It is reported: the event on anonymization.events and the metric name the missing service (a first
    # report may name others too, when the module's restarted services were still rejoining their groups).
    await read_records(
        stack[1],
        ANONYMIZATION_EVENTS,
        lambda record: (
            record.key == str(order_id).encode()
            and header(record, "ce_type") == "erasure.overdue"
            and service in json.loads(record.value)["missing"]
        ),
        expect=1,
    )
    assert await _overdue_count(http, anonymizer, service) > overdue_before

    # Back, the service answers; its late receipt completes the record.
    done = await eventually(lambda: erasure_of(order_id), lambda seen: seen["status"] == "complete", timeout=60)
    assert (done["order"]["state"], done["order"]["missing"]) == ("complete", [])
    assert sorted(receipt["service"] for receipt in done["order"]["receipts"]) == EVERY_RECEIPT
    assert done["order"]["completed_at"] is not None


def _personal(body: bytes, email: str) -> bool:
    return email.encode() in body or b"Hopperson" in body or b"Compiler Court" in body


async def test_a_message_still_retrying_when_its_order_is_anonymized_is_delivered_masked(
    system: dict[str, ServiceProcess],
    dispatcher: ServiceProcess,
    http: httpx.AsyncClient,
    receiver: WebhookReceiver,
    register_endpoint: Callable[[str, list[str]], Awaitable[str]],
    erasure_of: Callable[[int], Awaitable[dict[str, Any]]],
) -> None:
    api = system["order_api"].url
    delivered: list[Received] = []
    endpoint_up = False

    def respond(request: Received) -> int:
        if endpoint_up:
            delivered.append(request)
            return 204
        return 500

    receiver.respond = respond
    secret = await register_endpoint(receiver.url, ["order.created", "order.cancelled"])
    email = f"grace.{uuid.uuid4().hex[:8]}@example.com"
    order_id = await _cancelled_order(http, api, email)

    def tried() -> list[Received]:
        return [request for request in receiver.received() if order_of(request) == order_id]

    # Both messages of the order are being retried, with the order as it was.
    retrying = await eventually(
        lambda: asyncio.sleep(0, tried()), lambda found: len({r.headers["webhook-id"] for r in found}) == 2
    )
    assert all(_personal(request.body, email) for request in retrying)

    await _anonymize(http, api, order_id)
    # The dispatcher's receipt: it has rewritten the order's messages.
    await eventually(
        lambda: erasure_of(order_id),
        lambda seen: (
            "webhook_dispatcher" in [receipt["service"] for receipt in seen.get("order", {}).get("receipts", [])]
        ),
        timeout=60,
    )
    endpoint_up = True

    sent = await eventually(
        lambda: asyncio.sleep(0, [r for r in delivered if order_of(r) == order_id]),
        lambda found: len({r.headers["webhook-id"] for r in found}) == 2,
    )
    assert {r.headers["webhook-id"] for r in sent} == {r.headers["webhook-id"] for r in retrying}
    for request, event in zip(sent, verified(secret, sent), strict=True):
        assert not _personal(request.body, email)
        order = event["data"]["order"]
        assert (order["anonymized"], order["email"], order["customer"]["last_name"]) == (True, "*", "*")
        assert order["shipping_address"]["address1"] == "*"
    assert sorted(request.headers["webhook-event-type"] for request in sent) == ["order.cancelled", "order.created"]
