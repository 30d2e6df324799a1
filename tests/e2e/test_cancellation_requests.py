"""Guest cancellation requests through the worker, end to end: order_api's `cancellation.submitted` on
cancellations.requests, the worker's decisions on orders.ingest and cancellations.events, loyalty money
with no payment command, bank transfers whose IBAN goes only to the payment service, refund requests
that wait for the return."""

import httpx

from tests.support.cancellations import IBAN, answered, new_order_id, paid_order, refund, submission, with_refunds
from tests.support.processes import ServiceProcess
from tests.support.refund_flow import ADMIN, OrderApiStandIn, sandbox_keys

PII = (IBAN.encode(), b"Jane Doe")


async def test_loyalty_money_is_credited_with_no_payment_command_and_the_request_completed(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
    order_api: OrderApiStandIn,
) -> None:
    worker = system["cancellation_worker"].url
    order_id = new_order_id()
    customer_id = order_id + 5
    tea = order_id * 10 + 1
    order = paid_order(order_id, customer_id=customer_id)
    await order_api.order(order, "order.created")
    request_id = order_id * 100

    await order_api.submit(submission(order_id, (tea, 2, "cancel"), loyalty=True, first_request_id=request_id))
    [decided] = await order_api.facts(order_id, 1)
    assert (decided.type, decided.data["decision"], decided.data["refund_method"]) == (
        "cancellation.decided",
        "approved",
        "loyalty_money",
    )
    # order_api cancels the units and opens the pending refund that pays the request back.
    pending = with_refunds(order, refund(1, "20.00", request_id=request_id, lines=[(tea, 2, "cancel")]))
    await order_api.order(pending, "order.refund_requested")

    facts = await order_api.facts(order_id, 2)
    [paid] = [fact for fact in facts if fact.type == "payment.refunded"]
    assert (paid.data["gateway"], paid.data["refund_id"], paid.data["amount"]) == ("loyalty_money", 1, "20.00")
    loyalty = await http.get(f"{worker}/customers/{customer_id}/loyalty", headers=ADMIN)
    assert loyalty.json()["balances"] == {"USD": "20.00"}
    assert await sandbox_keys(http, payments_sandbox.url, order_id) == [], "no payment command"
    assert await order_api.commands(order_id, 0) == []

    await order_api.order(answered(pending, 1, paid.data["ledger_entry_id"], "20.00"), "order.refunded")
    events = await order_api.events(order_id, 7)
    assert [(e.type, e.data.get("status")) for e in events] == [
        ("cancellation.requested", "waiting"),
        ("cancellation.approved", "approved"),
        ("refund.requested", "requested"),
        ("loyalty.credited", None),
        ("inventory.restock_requested", None),
        ("refund.succeeded", "succeeded"),
        ("cancellation.completed", "completed"),
    ]
    answer = await http.get(f"{worker}/cancellation-requests/{request_id}", headers=ADMIN)
    assert (answer.json()["status"], answer.json()["refund_method"]) == ("completed", "loyalty_money")


async def test_a_bank_transfer_carries_the_iban_only_to_the_payment_service(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    order_api: OrderApiStandIn,
) -> None:
    worker = system["cancellation_worker"].url
    order_id = new_order_id()
    pot = order_id * 10 + 2
    await order_api.order(paid_order(order_id), "order.created")
    request_id = order_id * 100

    await order_api.submit(submission(order_id, (pot, 1, "cancel"), iban=IBAN, first_request_id=request_id))
    await order_api.order(with_refunds(paid_order(order_id), refund(1, "30.00", request_id=request_id)))

    [command] = await order_api.commands(order_id, 1)
    assert (command.data["method"], command.data["bank_account"]) == (
        "bank_transfer",
        {"iban": IBAN, "holder_name": "Jane Doe"},
    )
    events = await order_api.events(order_id, 3)
    facts = await order_api.facts(order_id, 1)
    assert not [published for published in events + facts if any(pii in published.raw for pii in PII)]
    answer = await http.get(f"{worker}/cancellation-requests/{request_id}", headers=ADMIN)
    assert IBAN.encode() not in answer.content
    assert answer.json()["iban_last4"] == IBAN[-4:]


async def test_a_refund_request_waits_for_the_return_or_an_operator(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    order_api: OrderApiStandIn,
) -> None:
    worker = system["cancellation_worker"].url
    order_id = new_order_id()
    tea, pot = order_id * 10 + 1, order_id * 10 + 2
    order = paid_order(order_id)
    await order_api.order(order, "order.created")
    first = order_id * 100

    await order_api.submit(submission(order_id, (tea, 1, "refund"), (pot, 1, "refund"), first_request_id=first))
    waiting = await http.get(
        f"{worker}/cancellation-requests", params={"order_id": order_id, "status": "waiting"}, headers=ADMIN
    )
    assert [r["request_id"] for r in waiting.json()["items"]] == [first + 1, first]
    assert await order_api.facts(order_id, 0) == []

    rejected = await http.post(f"{worker}/cancellation-requests/{first + 1}/reject", headers=ADMIN)
    assert rejected.json()["status"] == "rejected"
    await order_api.order(order, "order.return_received")
    again = await http.post(f"{worker}/cancellation-requests/{first}/approve", headers=ADMIN)
    assert (again.status_code, again.json()["code"]) == (409, "request_already_approved")

    facts = await order_api.facts(order_id, 2)
    assert [(f.data["request_id"], f.data["decision"], f.data["refund_method"]) for f in facts] == [
        (first + 1, "rejected", None),
        (first, "approved", "original"),
    ]
    page = await http.get(f"{worker}/cancellation-requests", params={"order_id": order_id, "limit": 1}, headers=ADMIN)
    second = await http.get(
        f"{worker}/cancellation-requests",
        params={"order_id": order_id, "limit": 1, "cursor": page.json()["next_cursor"]},
        headers=ADMIN,
    )
    assert [r["status"] for r in page.json()["items"] + second.json()["items"]] == ["rejected", "approved"]
    assert second.json()["next_cursor"] is None
