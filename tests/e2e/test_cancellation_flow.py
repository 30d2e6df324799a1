"""Cancellations and refunds through the whole system, nothing played by the test: a Haravan client
cancels or refunds at order_api; the cancellation worker commands the payments sandbox over
payments.commands; the sandbox answers on orders.ingest; order_api applies the answer to the order; the
worker settles its ledger from the order's event, emails the customer and asks for the restock; the
webhook dispatcher delivers every step to a subscriber."""

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from deploy.local.smtp_sink import Sink
from services.order_api.api.elastic_path.status import ElasticPathStatus, elastic_path_status
from shared.order_facts import VariantFact
from shared.orders import OrderSnapshot
from shared.topics import CANCELLATIONS_EVENTS
from tests.e2e.test_akinon import guest_order, place
from tests.e2e.test_akinon_cancellations import BULK_PATH, REQUEST_PATH, ask
from tests.support.order_api_facts import get_order, order_events
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.refund_flow import ADMIN, on_topic, sandbox_keys
from tests.support.refunds import TOTAL, cancel, paid_order, views
from tests.support.webhooks import endpoints, order_of, verified

FOLLOWED = ["order.cancelled", "refund.succeeded", "order.refunded", "refund.failed"]


async def deliveries(receiver: WebhookReceiver, order_id: int, expect: int) -> list[Received]:
    return await eventually(lambda: _about(receiver, order_id), lambda found: len(found) >= expect, timeout=60)


async def _about(receiver: WebhookReceiver, order_id: int) -> list[Received]:
    return [request for request in receiver.received() if order_of(request) == order_id]


async def settled_order(stack: tuple[str, str], order: dict[str, Any], events: int) -> OrderSnapshot:
    """The order as the last of `events` lifecycle events carried it."""
    published = await order_events(stack[1], order, expect=events)
    return published[events - 1][2].order


async def test_a_haravan_cancel_refunds_the_money_restocks_emails_once_and_is_followed_by_webhooks(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    mailbox: Sink,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    api = system["order_api"].url
    with WebhookReceiver() as receiver:
        async with endpoints(http, system["webhook_dispatcher"].url) as hooks:
            endpoint = await hooks.register(receiver.url, FOLLOWED, ordered=True)
            secret = endpoint["secret"]
            order = await paid_order(http, api)

            response = await cancel(http, api, order["id"], amount=TOTAL, restock=True, email=True, reason="customer")

            assert response.status_code == 200, response.text
            cancelled = response.json()["order"]
            assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "customer")
            shown = await eventually(
                lambda: get_order(http, api, order["id"]),
                lambda now: now["financial_status"] == "refunded",
                timeout=30,
            )
            delivered = await deliveries(receiver, order["id"], 3)

    [paid_back] = shown["refunds"]
    assert (paid_back["status"], paid_back["amount"], paid_back["restock"]) == ("success", TOTAL, True)
    assert [(tx["kind"], tx["status"], tx["amount"]) for tx in paid_back["transactions"]] == [
        ("refund", "success", TOTAL)
    ]
    river = await views(http, api, order["id"])
    assert (river["state"], river["refundedAmount"], river["availableToRefundAmount"]) == ("cancelled", TOTAL, "0.00")
    settled = await settled_order(stack, order, 3)
    assert elastic_path_status(settled) == ElasticPathStatus("cancelled", "refunded", "unfulfilled")

    # Each delivery verifies with the Standard Webhooks library. The worker settles its ledger from the
    # order's event, so refund.succeeded follows order.refunded (see the README's cancellations section).
    payloads = verified(secret, delivered)
    assert [p["type"] for p in payloads] == ["order.cancelled", "order.refunded", "refund.succeeded"]
    assert payloads[2]["data"]["amount"] == TOTAL
    assert not any("iban" in request.body.decode().lower() for request in delivered)

    message_id = f"<refund-{order['id']}-{paid_back['id']}@cancellations.orders.local>"
    await eventually(
        lambda: admin_db.fetchval("SELECT status FROM cancellation.notifications WHERE message_id = $1", message_id),
        lambda status: status == "done",
    )
    [mail] = mailbox.to(order["email"])
    assert mail.message["Message-ID"] == message_id
    restocks = [e for e in await on_topic(stack[1], CANCELLATIONS_EVENTS, order["id"], 4) if "restock" in e.type]
    assert sorted((e.data["line_item_id"], e.data["quantity"]) for e in restocks) == sorted(
        (line["id"], line["quantity"]) for line in order["line_items"]
    )
    [command] = await sandbox_keys(http, payments_sandbox.url, order["id"])
    assert (command["count"], command["answer"]) == (1, "payment.refunded")


async def test_a_partial_cancel_amount_leaves_the_order_partially_refunded(
    system: dict[str, ServiceProcess], payments_sandbox: ServiceProcess, http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await paid_order(http, api)

    response = await cancel(http, api, order["id"], amount="100.00")

    assert response.status_code == 200, response.text
    shown = await eventually(
        lambda: get_order(http, api, order["id"]), lambda now: now["financial_status"] != "paid", timeout=30
    )
    assert shown["financial_status"] == "partially_refunded"
    river = await views(http, api, order["id"])
    assert (river["state"], river["refundedAmount"]) == ("cancelled", "100.00")


async def test_an_authorized_order_is_voided_and_a_declined_refund_is_retried_by_an_operator(
    system: dict[str, ServiceProcess], payments_sandbox: ServiceProcess, http: httpx.AsyncClient
) -> None:
    api, worker = system["order_api"].url, system["cancellation_worker"].url
    authorized = await paid_order(http, api, paid=None, transactions=[{"kind": "authorization", "amount": TOTAL}])
    paid = await paid_order(http, api)

    voiding, declining = await asyncio.gather(
        cancel(http, api, authorized["id"]),
        cancel(http, api, paid["id"], amount="20.13"),  # the sandbox declines minor units ending in 13
    )

    assert (voiding.status_code, declining.status_code) == (200, 200)
    assert voiding.json()["order"]["refunds"] == []  # nothing was captured: nothing to refund
    voided = await eventually(
        lambda: get_order(http, api, authorized["id"]), lambda now: now["financial_status"] == "voided", timeout=30
    )
    assert [tx["kind"] for tx in voided["transactions"]] == ["authorization", "void"]
    [void] = await sandbox_keys(http, payments_sandbox.url, authorized["id"])
    assert (void["count"], void["answer"]) == (1, "payment.voided")

    failed = await eventually(
        lambda: get_order(http, api, paid["id"]), lambda now: now["refunds"][0]["status"] == "failure", timeout=30
    )
    [refund] = failed["refunds"]
    assert [(tx["kind"], tx["status"]) for tx in refund["transactions"]] == [("refund", "failure")]
    assert failed["financial_status"] == "paid"
    ledger_url = f"{worker}/orders/{paid['id']}/ledger"
    await eventually(
        lambda: http.get(ledger_url, headers=ADMIN),
        lambda got: [e["entry_type"] for e in got.json().get("entries", [])] == ["requested", "failed"],
    )

    retry = await http.post(f"{worker}/orders/{paid['id']}/refunds/{refund['id']}/retry", headers=ADMIN)

    assert retry.status_code == 202, retry.text
    second_key = retry.json()["idempotency_key"]
    retried = await eventually(
        lambda: get_order(http, api, paid["id"]), lambda now: now["refunds"][0]["status"] == "success", timeout=30
    )
    assert retried["financial_status"] == "partially_refunded"
    assert [(tx["status"], tx["amount"]) for tx in retried["refunds"][0]["transactions"]] == [
        ("failure", "20.13"),
        ("success", "20.13"),
    ]
    ledger = await eventually(lambda: http.get(ledger_url, headers=ADMIN), lambda got: len(got.json()["entries"]) == 4)
    entries = ledger.json()["entries"]
    assert [(e["entry_type"], e["idempotency_key"] == second_key) for e in entries] == [
        ("requested", False),
        ("failed", False),
        ("requested", True),
        ("succeeded", True),
    ]
    keys = await sandbox_keys(http, payments_sandbox.url, paid["id"])
    assert sorted((k["answer"], k["count"]) for k in keys) == [("payment.refund_failed", 1), ("payment.refunded", 1)]
    assert sum(Decimal(e["amount"]) for e in entries if e["entry_type"] == "succeeded") == Decimal("20.13")


async def _guest_request(
    http: httpx.AsyncClient, api: str, item: dict[str, Any], path: str = REQUEST_PATH, **fields: Any
) -> tuple[dict[str, Any], int]:
    """A guest's order of two iPods, paid with one sale, and an accepted request about one of them:
    (order, request id). `item` is what the request says of the item; `fields` what it says besides."""
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    # 2 x 199.00 + 10.00 shipping - 10.00 off
    paid = {**guest_order(email), "transactions": [{"kind": "sale", "status": "success", "amount": "398.00"}]}
    order = await place(http, api, paid)
    named = {"number": str(order["order_number"]), "email": email}
    wanted = {"order_item": order["line_items"][0]["id"], "reason": 1, "quantity": 1, **item}
    body = {**named, "cancel_order_items": [wanted], **fields} if path == BULK_PATH else {**named, **wanted}
    response = await ask(api, path, body)
    assert response.status_code == 201, response.text
    [created] = response.json() if path == BULK_PATH else [response.json()]
    return order, created["id"]


async def _request(http: httpx.AsyncClient, worker: str, request_id: int, status: str) -> dict[str, Any]:
    response = await eventually(
        lambda: http.get(f"{worker}/cancellation-requests/{request_id}", headers=ADMIN),
        lambda got: got.status_code == 200 and got.json()["status"] == status,
        timeout=30,
    )
    found: dict[str, Any] = response.json()
    return found


async def test_a_guest_asking_for_loyalty_money_is_credited_and_no_payment_is_commanded(
    system: dict[str, ServiceProcess],
    demo_catalog: dict[int, VariantFact],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
) -> None:
    api, worker = system["order_api"].url, system["cancellation_worker"].url

    order, request_id = await _guest_request(
        http, api, {"cancellation_type": "cancel"}, BULK_PATH, fully_refund_as_loyalty_money=True
    )

    completed = await _request(http, worker, request_id, "completed")
    assert completed["refund_method"] == "loyalty_money"
    shown = await eventually(
        lambda: get_order(http, api, order["id"]),
        lambda now: bool(now["refunds"]) and now["refunds"][0]["status"] == "success",
        timeout=30,
    )
    [credit] = shown["refunds"]
    customer = shown["customer"]["id"]
    loyalty = await http.get(f"{worker}/customers/{customer}/loyalty", headers=ADMIN)
    assert loyalty.json()["balances"] == {"USD": credit["amount"]}
    assert await sandbox_keys(http, payments_sandbox.url, order["id"]) == []


async def test_a_guests_return_waits_for_the_goods_then_is_refunded(
    system: dict[str, ServiceProcess],
    demo_catalog: dict[int, VariantFact],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
) -> None:
    api, worker = system["order_api"].url, system["cancellation_worker"].url
    order, request_id = await _guest_request(http, api, {"cancellation_type": "refund", "shipping_company": 1})

    waiting = await _request(http, worker, request_id, "waiting")
    await asyncio.sleep(1)  # time enough for a refund that should not happen
    assert (await get_order(http, api, order["id"]))["refunds"] == []
    assert await sandbox_keys(http, payments_sandbox.url, order["id"]) == []

    received = await http.post(f"{worker}/cancellation-requests/{request_id}/return-received", headers=ADMIN)

    assert received.status_code == 200, received.text
    assert waiting["cancellation_type"] == "refund"
    await _request(http, worker, request_id, "completed")
    shown = await get_order(http, api, order["id"])
    assert [(one["status"], one["refund_line_items"][0]["quantity"]) for one in shown["refunds"]] == [("success", 1)]
    assert shown["financial_status"] == "partially_refunded"
    [command] = await sandbox_keys(http, payments_sandbox.url, order["id"])
    assert (command["count"], command["answer"]) == (1, "payment.refunded")
