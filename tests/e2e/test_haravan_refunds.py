"""Haravan's cancel and refunds (`cancel.json`, `refunds/calculate.json`, `refunds.json`), as Shopify has
them, against the running service: the order cancelled at once with its refund pending, refunds quoted
and opened, every refusal in Shopify's error shape, twenty refunds at once making one, and
`Prefer: wait` answering with the refund settled. The cancellation worker and the payments sandbox run
beside order_api, so refunds are really paid back (or declined: the sandbox declines amounts ending in
13); a test that needs a refund still pending pauses the sandbox for a moment."""

import asyncio
import time
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from shared.order_facts import FulfillmentCreatedFact
from tests.support.order_api_facts import AUTH, apply_facts, fact, get_order, order_events
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.refund_flow import sandbox_keys
from tests.support.refunds import TOTAL, cancel, everything, paid_order, refund, views
from tests.support.storefront import assert_problem


async def test_a_cancel_answers_the_cancelled_order_with_its_refund_pending_until_it_is_paid_back(
    api: str, http: httpx.AsyncClient, stack: tuple[str, str], payments_sandbox: ServiceProcess
) -> None:
    order = await paid_order(http, api)

    with payments_sandbox.paused():  # the payment service has not answered yet
        response = await cancel(http, api, order["id"], reason="customer", restock=True, email=True)
        shown = await views(http, api, order["id"])
        events = await order_events(stack[1], order, expect=2)

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    cancelled = response.json()["order"]
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["financial_status"]) == (
        "cancelled",
        "customer",
        "paid",  # nothing has gone back yet
    )
    assert cancelled["cancelled_at"] is not None
    assert [item["fulfillable_quantity"] for item in cancelled["line_items"]] == [0, 0]
    [pending] = cancelled["refunds"]
    assert (pending["status"], pending["amount"], pending["restock"], pending["transactions"]) == (
        "pending",
        TOTAL,
        True,
        [],
    )
    assert [(line["quantity"], line["restock_type"]) for line in pending["refund_line_items"]] == [
        (3, "cancel"),
        (1, "cancel"),
    ]
    assert pending["order_adjustments"][0]["amount"] == "-7.00"  # the shipping it refunds
    assert (shown["state"], shown["cancelledAmount"], shown["refundedAmount"], shown["availableToRefundAmount"]) == (
        "cancelled",
        TOTAL,
        "0.00",
        "0.00",
    )
    assert [(kind, sequence) for kind, sequence, _ in events] == [("order.created", 1), ("order.cancelled", 2)]
    assert events[1][2].order.refunds[0].notify is True  # the worker emails the customer once it settles
    # Once the payment service answered (through the cancellation worker), the money is back.
    events = await order_events(stack[1], order, expect=3)
    assert [(kind, sequence) for kind, sequence, _ in events][2:] == [("order.refunded", 3)]
    settled = events[2][2].order
    assert (settled.financial_status, settled.refunds[0].status) == ("refunded", "success")
    assert (await views(http, api, order["id"]))["refundedAmount"] == TOTAL


async def test_a_cancel_takes_its_parameters_from_the_query_as_shopify_clients_send_them(
    api: str, http: httpx.AsyncClient
) -> None:
    order = await paid_order(http, api)

    response = await http.post(
        f"{api}/com/orders/{order['id']}/cancel.json", params={"reason": "fraud", "amount": "21.20"}, headers=AUTH
    )

    assert response.status_code == 200, response.text
    cancelled = response.json()["order"]
    assert cancelled["cancel_reason"] == "fraud"
    assert [(one["amount"], one["refund_line_items"]) for one in cancelled["refunds"]] == [("21.20", [])]


async def test_an_unpaid_order_is_cancelled_without_a_refund(api: str, http: httpx.AsyncClient) -> None:
    order = await paid_order(http, api, paid=None, financial_status="pending")

    response = await cancel(http, api, order["id"])

    assert response.status_code == 200, response.text
    assert (response.json()["order"]["status"], response.json()["order"]["refunds"]) == ("cancelled", [])


async def test_cancels_the_order_cannot_take_are_refused_in_shopifys_shape_and_change_nothing(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    cancelled, shipped, paid = [await paid_order(http, api) for _ in range(3)]
    assert (await cancel(http, api, cancelled["id"])).status_code == 200
    # The cancel's refund is paid back (order.refunded, version 3) before the refused cancels, so that
    # the versions below show only what they changed, however fast the worker and the sandbox are.
    await eventually(
        lambda: admin_db.fetchval("SELECT sequence FROM order_api.orders WHERE id = $1", cancelled["id"]),
        lambda sequence: sequence == 3,
        timeout=30,
    )
    await apply_facts(
        stack[1],
        admin_db,
        [
            fact(
                "fulfillment.created",
                FulfillmentCreatedFact(order_id=shipped["id"], fulfillment_id=shipped["id"]),
                shipped["id"],
            )
        ],
    )

    again = await cancel(http, api, cancelled["id"])
    fulfilled = await cancel(http, api, shipped["id"])
    too_much = await cancel(http, api, paid["id"], amount="245.48")
    too_fine = await cancel(http, api, paid["id"], amount="1.001")
    missing = await cancel(http, api, 2**62)

    assert_problem(again, 409, "order_already_cancelled")
    assert_problem(fulfilled, 409, "order_fulfilled")
    for response, code in ((too_much, "refund_exceeds_refundable"), (too_fine, "too_precise")):
        problem = assert_problem(response, 422, code, field="amount")
        assert list(problem["errors"]) == ["amount"]  # {"errors": {"amount": ["..."]}}
        assert isinstance(problem["errors"]["amount"][0], str)
    assert assert_problem(missing, 404, "order_not_found")["errors"] == f"There is no order {2**62}."
    sequences = await admin_db.fetch(
        "SELECT id, sequence FROM order_api.orders WHERE id = ANY($1::bigint[]) ORDER BY id",
        [cancelled["id"], shipped["id"], paid["id"]],
    )
    assert [row["sequence"] for row in sequences] == [3, 2, 1]


async def test_a_refund_is_quoted_then_opened_pending_and_can_be_read_back(
    api: str, http: httpx.AsyncClient, stack: tuple[str, str], payments_sandbox: ServiceProcess
) -> None:
    order = await paid_order(http, api)
    boots = order["line_items"][0]["id"]
    body = {
        "refund_line_items": [{"line_item_id": boots, "quantity": 1, "restock_type": "cancel"}],
        "shipping": {"full_refund": True},
        "note": "arrived late",
        "notify": True,
    }

    with payments_sandbox.paused():
        quoted = await http.post(
            f"{api}/com/orders/{order['id']}/refunds/calculate.json", json={"refund": body}, headers=AUTH
        )
        created = await refund(http, api, order["id"], body)
        opened = created.json()["refund"]
        listed = await http.get(f"{api}/com/orders/{order['id']}/refunds.json", headers=AUTH)
        one = await http.get(f"{api}/com/orders/{order['id']}/refunds/{opened['id']}.json", headers=AUTH)
        shown = await get_order(http, api, order["id"])
        events = await order_events(stack[1], order, expect=2)

    assert quoted.status_code == 200, quoted.text
    calculation = quoted.json()["refund"]
    # One boot: 74.99, less its share of the 10.00 discount, with its share of the 13.50 tax; and shipping.
    [line] = calculation["refund_line_items"]
    assert (line["subtotal"], line["total_discount"], line["total_tax"]) == ("74.99", "3.19", "4.50")
    assert (calculation["shipping"]["amount"], calculation["amount"]) == ("7.00", "83.30")
    assert calculation["transactions"][0]["maximum_refundable"] == TOTAL
    assert created.status_code == 201, created.text
    assert (opened["status"], opened["amount"], opened["note"], opened["restock"]) == (
        "pending",
        "83.30",
        "arrived late",
        True,
    )
    assert created.headers["location"] == f"/com/orders/{order['id']}/refunds/{opened['id']}.json"
    assert listed.json() == {"refunds": [opened]}
    assert one.json() == {"refund": opened}
    missing = await http.get(f"{api}/com/orders/{order['id']}/refunds/1.json", headers=AUTH)
    assert assert_problem(missing, 404, "refund_not_found")["errors"] == f"Order {order['id']} has no refund 1."
    assert (shown["line_items"][0]["fulfillable_quantity"], shown["financial_status"]) == (2, "paid")
    assert [kind for kind, _, _ in events] == ["order.created", "order.refund_requested"]  # the quote wrote nothing
    answered = await eventually(
        lambda: get_order(http, api, order["id"]), lambda now: now["refunds"][0]["status"] == "success"
    )
    assert (answered["financial_status"], answered["refunds"][0]["amount"]) == ("partially_refunded", "83.30")


async def test_refunds_the_order_cannot_take_are_refused_naming_the_field(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    order = await paid_order(http, api)
    boots = order["line_items"][0]["id"]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"refund_line_items": [{"line_item_id": boots, "quantity": 4}]}, "invalid_quantity", "refund_line_items"),
        ({"refund_line_items": [{"line_item_id": 1, "quantity": 1}]}, "unknown_line_item", "refund_line_items"),
        ({"shipping": {"amount": "7.01"}}, "invalid_amount", "shipping"),
        ({"shipping": {"amount": "0.001"}}, "too_precise", "shipping"),
        ({}, "nothing_to_refund", "refund_line_items"),
        (
            {"refund_line_items": [{"line_item_id": boots, "quantity": 1, "restock_type": "return"}]},
            "invalid_restock_type",
            "refund_line_items[0].restock_type",
        ),
        ({"shipping": {"amount": "1.00", "full_refund": True}}, "validation_error", "shipping"),
    ]

    for body, code, field in cases:
        for path in ("refunds.json", "refunds/calculate.json"):
            response = await http.post(f"{api}/com/orders/{order['id']}/{path}", json={"refund": body}, headers=AUTH)
            assert_problem(response, 422, code, field=field)
    assert await admin_db.fetchval("SELECT sequence FROM order_api.orders WHERE id = $1", order["id"]) == 1


async def test_twenty_full_refunds_at_once_make_one_paid_back_once(
    api: str, http: httpx.AsyncClient, stack: tuple[str, str], payments_sandbox: ServiceProcess
) -> None:
    order = await paid_order(http, api)

    with payments_sandbox.paused():
        answers = await asyncio.gather(*(refund(http, api, order["id"], everything(order)) for _ in range(20)))
        shown = await get_order(http, api, order["id"])

    assert sorted(response.status_code for response in answers) == [201] + [422] * 19
    assert [(one["amount"], one["status"]) for one in shown["refunds"]] == [(TOTAL, "pending")]
    assert (await views(http, api, order["id"]))["availableToRefundAmount"] == "0.00"
    events = await order_events(stack[1], order, expect=3)
    assert [kind for kind, _, _ in events] == ["order.created", "order.refund_requested", "order.refunded"]
    settled = events[2][2].order
    assert [tx.amount for tx in settled.transactions if tx.kind == "refund"] == [Decimal(TOTAL)]  # what was paid, once
    [command] = await sandbox_keys(http, payments_sandbox.url, order["id"])
    assert (command["count"], command["answer"]) == (1, "payment.refunded")


async def test_prefer_wait_answers_with_the_refund_settled(api: str, http: httpx.AsyncClient) -> None:
    order = await paid_order(http, api)
    started = time.monotonic()

    response = await http.post(
        f"{api}/com/orders/{order['id']}/cancel.json", json={}, headers={**AUTH, "prefer": "wait=20"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=20"
    assert time.monotonic() - started < 20
    settled = response.json()["order"]
    assert (settled["financial_status"], settled["refunds"][0]["status"]) == ("refunded", "success")
    assert [(tx["kind"], tx["status"]) for tx in settled["refunds"][0]["transactions"]] == [("refund", "success")]


async def test_prefer_wait_on_a_refund_answers_with_it_failed_or_still_pending_when_time_is_up(
    api: str, http: httpx.AsyncClient, payments_sandbox: ServiceProcess
) -> None:
    order = await paid_order(http, api)
    boots = order["line_items"][0]["id"]

    # The sandbox declines amounts whose minor units end in 13.
    failed = await refund(http, api, order["id"], {"shipping": {"amount": "2.13"}}, {"prefer": "wait=99"})
    with payments_sandbox.paused():
        started = time.monotonic()
        unanswered = await refund(
            http,
            api,
            order["id"],
            {"refund_line_items": [{"line_item_id": boots, "quantity": 1}]},
            {"prefer": "wait=1"},
        )
        waited = time.monotonic() - started

    assert (failed.status_code, failed.headers["preference-applied"]) == (201, "wait=30")  # at most 30 s
    assert (failed.json()["refund"]["status"], failed.json()["refund"]["transactions"][0]["status"]) == (
        "failure",
        "failure",
    )
    assert (unanswered.status_code, unanswered.headers["preference-applied"]) == (201, "wait=1")
    assert unanswered.json()["refund"]["status"] == "pending"
    assert 1 <= waited < 10
    no_preference = await refund(
        http, api, order["id"], {"refund_line_items": [{"line_item_id": boots, "quantity": 1}]}
    )
    assert "preference-applied" not in no_preference.headers
    assert Decimal(no_preference.json()["refund"]["amount"]) > 0
