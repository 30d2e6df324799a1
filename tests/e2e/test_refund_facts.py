"""The facts that settle refunds and decide guest requests, published straight to orders.ingest as the
payment service, the cancellation worker and a warehouse would: what order_api makes of the order, what
it publishes, and which facts go to the DLQ (with the reason) while the ones after them still apply."""

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.demo_catalog import ingest_record, publish
from shared.cancellations import CancellationDecision, CancellationReason, ReturnReceived, ShippingCompany
from shared.order_facts import PaymentFact, VariantFact
from tests.e2e.test_akinon import client_ip, lookup
from tests.e2e.test_akinon_cancellations import REQUEST_PATH, ask, guest
from tests.e2e.test_ingest_facts import dead_letters
from tests.support.order_api_facts import apply_facts, fact, get_order, order_events, wait_applied
from tests.support.processes import ServiceProcess
from tests.support.refunds import TOTAL, cancel, paid_back, paid_order, refund, views


@pytest.fixture(scope="module", autouse=True)
def worker_stopped(system: dict[str, ServiceProcess]) -> Iterator[None]:
    """These tests play the cancellation worker and the payment service themselves, so the real worker
    is stopped meanwhile (its own decisions and commands would race theirs); it is back afterwards."""
    worker = system["cancellation_worker"]
    worker.terminate()
    try:
        yield
    finally:
        worker.start()


@pytest.fixture
def api(system: dict[str, ServiceProcess], demo_catalog: dict[int, VariantFact]) -> str:
    """The order API, with the demo catalog's cancellation reasons and shipping companies applied."""
    return system["order_api"].url


async def cancelled(http: httpx.AsyncClient, api: str, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paid order cancelled: (the order as created, its pending refund)."""
    order = await paid_order(http, api)
    response = await cancel(http, api, order["id"], **params)
    assert response.status_code == 200, response.text
    pending: dict[str, Any] = response.json()["order"]["refunds"][-1]
    return order, pending


async def test_a_refund_paid_back_settles_the_order_and_publishes_order_refunded(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order, pending = await cancelled(http, api, restock=True)
    answer = paid_back(order["id"], pending)

    await apply_facts(stack[1], admin_db, [answer])
    assert isinstance(answer.data, PaymentFact)

    shown = await get_order(http, api, order["id"])
    [settled] = shown["refunds"]
    assert (shown["financial_status"], settled["status"]) == ("refunded", "success")
    assert [(tx["kind"], tx["status"], tx["amount"], tx["authorization"]) for tx in settled["transactions"]] == [
        ("refund", "success", TOTAL, str(answer.data.ledger_entry_id))
    ]
    assert shown["transactions"][-1]["id"] == settled["transactions"][0]["id"]
    dr = await views(http, api, order["id"])
    assert (dr["state"], dr["refundedAmount"], dr["availableToRefundAmount"], dr["cancelledAmount"]) == (
        "cancelled",
        TOTAL,
        "0.00",
        TOTAL,
    )
    events = await order_events(stack[1], order, expect=3)
    assert [kind for kind, _, _ in events] == ["order.created", "order.cancelled", "order.refunded"]
    assert [item.refunded_quantity for item in events[2][2].order.line_items] == [3, 1]


async def test_a_partial_refund_leaves_the_order_partially_refunded_and_returned(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order = await paid_order(http, api)
    hat = order["line_items"][1]["id"]
    opened = await refund(http, api, order["id"], {"refund_line_items": [{"line_item_id": hat, "quantity": 1}]})

    await apply_facts(stack[1], admin_db, [paid_back(order["id"], opened.json()["refund"])])

    dr = await views(http, api, order["id"])
    assert (dr["state"], dr["refundedAmount"]) == ("returned", opened.json()["refund"]["amount"])
    assert Decimal(dr["availableToRefundAmount"]) == Decimal(TOTAL) - Decimal(opened.json()["refund"]["amount"])
    assert (await get_order(http, api, order["id"]))["financial_status"] == "partially_refunded"


async def test_a_failed_refund_is_recorded_and_a_retry_that_succeeds_settles_it(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order, pending = await cancelled(http, api)

    await apply_facts(stack[1], admin_db, [paid_back(order["id"], pending, failed=True)])
    after_failure = await get_order(http, api, order["id"])
    await apply_facts(stack[1], admin_db, [paid_back(order["id"], pending)])

    assert (after_failure["refunds"][0]["status"], after_failure["financial_status"]) == ("failure", "paid")
    assert (await views(http, api, order["id"]))["availableToRefundAmount"] == "0.00"
    settled = await get_order(http, api, order["id"])
    assert [tx["status"] for tx in settled["refunds"][0]["transactions"]] == ["failure", "success"]
    assert settled["financial_status"] == "refunded"
    events = await order_events(stack[1], order, expect=4)
    assert [kind for kind, _, _ in events][2:] == ["order.updated", "order.refunded"]


async def test_a_void_with_its_ledger_entry_voids_the_order_once(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order = await paid_order(http, api, paid=None, transactions=[{"kind": "authorization", "amount": TOTAL}])
    assert (await cancel(http, api, order["id"])).status_code == 200
    voided = PaymentFact(order_id=order["id"], amount=Decimal(TOTAL), currency="USD", ledger_entry_id=uuid.uuid4())

    # The payment service answered twice (two events): the order records it once.
    await apply_facts(stack[1], admin_db, [fact("payment.voided", voided, order["id"]) for _ in range(2)])

    shown = await get_order(http, api, order["id"])
    assert (shown["financial_status"], [tx["kind"] for tx in shown["transactions"]]) == (
        "voided",
        ["authorization", "void"],
    )
    assert shown["transactions"][1]["authorization"] == str(voided.ledger_entry_id)


async def test_answers_for_no_such_order_or_refund_go_to_the_dlq_and_later_facts_still_apply(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    order, pending = await cancelled(http, api)
    unknown_id = 9 * 10**17 + uuid.uuid4().int % 10**12
    no_order = paid_back(unknown_id, pending)
    no_refund = paid_back(order["id"], {**pending, "id": 1})
    other_amount = paid_back(order["id"], {**pending, "amount": "1.00"})
    valid = paid_back(order["id"], pending)

    await publish(stack[1], [ingest_record(event) for event in (no_order, no_refund, other_amount, valid)])
    await wait_applied(admin_db, [valid])

    reasons = await dead_letters(stack[1], [no_order, no_refund, other_amount])
    assert reasons == {
        no_order.id: (f"Unprocessable: there is no order {unknown_id}", "1"),
        no_refund.id: (f"Unprocessable: refund_id: unknown_refund: order {order['id']} has no refund 1", "1"),
        other_amount.id: (
            f"Unprocessable: amount: amount_mismatch: refund {pending['id']} is of {TOTAL}, the answer of 1.00",
            "1",
        ),
    }
    assert (await get_order(http, api, order["id"]))["financial_status"] == "refunded"


async def _requested(http: httpx.AsyncClient, api: str, **fields: Any) -> tuple[dict[str, Any], int, int]:
    """A guest order paid with a sale, and an accepted request about its item: (order, request id, item)."""
    order, named = await guest(http, api)
    response = await ask(api, REQUEST_PATH, {**named, "reason": 1, **fields})
    assert response.status_code == 201, response.text
    return order, response.json()["id"], named["order_item"]


def decided(order: dict[str, Any], request_id: int, item: int, quantity: int, **fields: Any) -> CancellationDecision:
    return CancellationDecision.model_validate(
        {"order_id": order["id"], "request_id": request_id, "line_item_id": item, "quantity": quantity}
        | {"decision": "approved", "refund_method": "bank_transfer"}
        | fields
    )


async def test_an_approved_request_cancels_its_units_and_opens_their_refund(
    api: str,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    order, request_id, item = await _requested(http, api, cancellation_type="cancel", quantity=1)
    # Created "paid" as Haravan takes an order without transactions; the capture records the money.
    await apply_facts(stack[1], admin_db, [fact("payment.captured", _captured(order), order["id"])])

    await apply_facts(
        stack[1], admin_db, [fact("cancellation.decided", decided(order, request_id, item, 1), order["id"])]
    )

    shown = await get_order(http, api, order["id"])
    assert (shown["line_items"][0]["fulfillable_quantity"], shown["status"]) == (1, "open")
    [opened] = shown["refunds"]
    assert (opened["status"], opened["refund_line_items"][0]["quantity"]) == ("pending", 1)
    events = await order_events(stack[1], order, expect=4)
    assert [kind for kind, _, _ in events][1:] == [
        "order.cancellation_requested",
        "order.updated",
        "order.refund_requested",
    ]
    snapshot = events[3][2].order
    assert (snapshot.refunds[0].cancellation_request_id, snapshot.refunds[0].method) == (request_id, "bank_transfer")
    assert (snapshot.line_items[0].cancelled_quantity, snapshot.line_items[0].active_request) == (1, False)


def _captured(order: dict[str, Any]) -> PaymentFact:
    return PaymentFact(order_id=order["id"], amount=Decimal(order["total_price"]), currency="USD")


async def test_a_rejected_request_clears_the_item_and_a_return_is_recorded(
    api: str,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    order, request_id, item = await _requested(http, api, cancellation_type="refund", shipping_company=1)
    rejected = decided(order, request_id, item, 2, decision="rejected", refund_method=None)
    received = ReturnReceived(order_id=order["id"], line_item_id=item, quantity=2)

    await apply_facts(
        stack[1],
        admin_db,
        [fact("cancellation.decided", rejected, order["id"]), fact("return.received", received, order["id"])],
    )

    events = await order_events(stack[1], order, expect=4)
    assert [kind for kind, _, _ in events][2:] == ["order.updated", "order.return_received"]
    last = events[3][2].order.line_items[0]
    assert (last.active_request, last.returned_quantity, last.cancelled_quantity) == (False, 2, 0)
    shown = (await lookup(api, str(order["order_number"]), order["email"], client_ip())).json()[0]
    assert shown["is_cancellable"] is True


async def test_new_reasons_and_shipping_companies_are_taken_at_once(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    reason_id, company_id = (10**6 + uuid.uuid4().int % 10**9 for _ in range(2))
    reason = CancellationReason(id=reason_id, name="Found it cheaper")
    company = ShippingCompany(id=company_id, name="PTT Kargo")
    await apply_facts(
        stack[1],
        admin_db,
        [
            fact("cancellation.reason.upserted", reason, reason_id),
            fact("shipping_company.upserted", company, company_id),
        ],
    )
    order, named = await guest(http, api)

    response = await ask(
        api,
        REQUEST_PATH,
        {**named, "reason": reason_id, "cancellation_type": "refund", "shipping_company": company_id},
    )

    assert response.status_code == 201, response.text
    assert (response.json()["reason"], response.json()["shipping_company"]) == (reason_id, company_id)
    assert order["id"] == response.json()["order"]
