"""The payment service's answers, the cancellation worker's decisions, returned goods and the reference
data, applied through the ingest handler (services/order_api/handlers.py) on the store in memory: what
each changes and publishes, an answer recorded once per ledger entry, and what is Unprocessable. No I/O."""

import uuid
from decimal import Decimal

import pytest

from services.order_api.domain.cancellation import CancelRequest
from services.order_api.domain.guest_requests import RequestedItem
from services.order_api.service.guest_requests import GuestRequest
from shared.cancellations import CancellationDecision, CancellationReason, ReturnReceived, ShippingCompany
from shared.consumer import EventHandler, Unprocessable
from shared.order_facts import OrderDraft, PaymentFact
from shared.orders import OrderSnapshot
from shared.refund_math import refundable
from tests.support.fake_store import (
    NO_CONNECTION,
    FakeDatabase,
    guest_requests,
    order_service,
    published,
    refund_service,
)
from tests.support.order_api_facts import fact
from tests.support.order_rules import custom, order


async def paid_order(database: FakeDatabase, *, paid: str | None = "50.00", email: str = "g@example.com") -> int:
    body = order(custom("25.00", 2), email=email)
    if paid:
        body["transactions"] = [{"kind": "sale", "amount": paid}]
    else:
        body["financial_status"] = "pending"
    placed = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return placed.stored.order.id


async def current(database: FakeDatabase, order_id: int) -> OrderSnapshot:
    found = await database.tables.orders.fetch(order_id)
    assert found is not None
    return found.order


async def cancelled_with_refund(database: FakeDatabase) -> tuple[int, int]:
    order_id = await paid_order(database)
    done = await refund_service(database).cancel_order(order_id, CancelRequest(), may_read=True)
    assert done.refund is not None
    return order_id, done.refund.id


def answer(order_id: int, refund_id: int, amount: str = "50.00", entry: uuid.UUID | None = None) -> PaymentFact:
    return PaymentFact(
        order_id=order_id,
        amount=Decimal(amount),
        currency="USD",
        gateway="sandbox",
        refund_id=refund_id,
        ledger_entry_id=entry or uuid.uuid4(),
    )


async def test_a_refund_paid_back_settles_the_refund_and_the_order_once_per_ledger_entry(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id, refund_id = await cancelled_with_refund(database)
    paid_back = answer(order_id, refund_id)

    await apply(NO_CONNECTION, fact("payment.refunded", paid_back, order_id))
    await apply(NO_CONNECTION, fact("payment.refunded", paid_back, order_id))  # answered twice: recorded once

    settled = await current(database, order_id)
    [refund] = settled.refunds
    assert (refund.status, [(tx.kind, tx.status, tx.authorization) for tx in refund.transactions]) == (
        "success",
        [("refund", "success", str(paid_back.ledger_entry_id))],
    )
    assert (settled.financial_status, settled.transactions[-1].kind) == ("refunded", "refund")
    assert [item.refunded_quantity for item in settled.line_items] == [2]
    assert [kind for kind, _, _ in published(database)][2:] == ["order.refunded"]


async def test_a_failed_refund_keeps_its_money_held_until_a_retry_succeeds(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id, refund_id = await cancelled_with_refund(database)
    failed = answer(order_id, refund_id).model_copy(update={"error": "declined"})

    await apply(NO_CONNECTION, fact("payment.refund_failed", failed, order_id))
    after_failure = await current(database, order_id)
    await apply(NO_CONNECTION, fact("payment.refunded", answer(order_id, refund_id), order_id))

    assert (after_failure.refunds[0].status, after_failure.financial_status) == ("failure", "paid")
    assert refundable(after_failure) == 0
    settled = await current(database, order_id)
    assert [tx.status for tx in settled.refunds[0].transactions] == ["failure", "success"]
    assert (settled.refunds[0].status, settled.financial_status) == ("success", "refunded")
    assert [kind for kind, _, _ in published(database)][2:] == ["order.updated", "order.refunded"]


async def test_a_void_is_recorded_once_per_ledger_entry(database: FakeDatabase, apply: EventHandler) -> None:
    order_id = await paid_order(database, paid=None)
    authorized = PaymentFact(order_id=order_id, amount=Decimal("50.00"), currency="USD")
    await apply(NO_CONNECTION, fact("payment.authorized", authorized, order_id))
    await refund_service(database).cancel_order(order_id, CancelRequest(), may_read=True)
    voided = PaymentFact(order_id=order_id, amount=Decimal("50.00"), currency="USD", ledger_entry_id=uuid.uuid4())

    await apply(NO_CONNECTION, fact("payment.voided", voided, order_id))
    await apply(NO_CONNECTION, fact("payment.voided", voided, order_id))

    shown = await current(database, order_id)
    assert (shown.financial_status, [tx.kind for tx in shown.transactions]) == ("voided", ["authorization", "void"])
    assert shown.transactions[-1].authorization == str(voided.ledger_entry_id)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"order_id": 404}, "there is no order 404"),
        ({"refund_id": 404}, "unknown_refund"),
        ({"amount": Decimal("49.99")}, "amount_mismatch"),
        ({"currency": "EUR"}, "currency_mismatch"),
        ({"refund_id": None}, "missing_refund_id"),
    ],
)
async def test_an_answer_for_no_such_order_or_refund_or_of_another_amount_is_unprocessable(
    database: FakeDatabase, apply: EventHandler, change: dict[str, object], reason: str
) -> None:
    order_id, refund_id = await cancelled_with_refund(database)

    with pytest.raises(Unprocessable, match=reason):
        await apply(
            NO_CONNECTION, fact("payment.refunded", answer(order_id, refund_id).model_copy(update=change), order_id)
        )

    assert (await current(database, order_id)).refunds[0].status == "pending"


async def test_an_answer_for_a_refund_that_succeeded_is_unprocessable(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id, refund_id = await cancelled_with_refund(database)
    await apply(NO_CONNECTION, fact("payment.refunded", answer(order_id, refund_id), order_id))

    with pytest.raises(Unprocessable, match="refund_settled"):
        await apply(NO_CONNECTION, fact("payment.refunded", answer(order_id, refund_id), order_id))


async def request_cancel(database: FakeDatabase, order_id: int, quantity: int) -> tuple[int, int]:
    """A guest's request to cancel `quantity` units of the order's item: (request id, line item id)."""
    await database.tables.reference_data.upsert_reason(CancellationReason(id=1, name="Changed my mind"))
    shown = await current(database, order_id)
    item = shown.line_items[0].id
    submitted = await guest_requests(database).submit(
        GuestRequest(shown.order_number, "g@example.com", [RequestedItem("", item, 1, "cancel", quantity)])
    )
    assert submitted is not None
    return submitted.items[0].request_id, item


def decided(order_id: int, request_id: int, item: int, quantity: int, **fields: object) -> CancellationDecision:
    return CancellationDecision.model_validate(
        {
            "order_id": order_id,
            "request_id": request_id,
            "line_item_id": item,
            "quantity": quantity,
            "decision": "approved",
            "refund_method": "original",
            **fields,
        }
    )


async def test_an_approved_request_cancels_its_units_and_opens_their_refund_by_the_decided_method(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id = await paid_order(database)
    request_id, item = await request_cancel(database, order_id, 1)

    decision = decided(order_id, request_id, item, 1, refund_method="loyalty_money")
    await apply(NO_CONNECTION, fact("cancellation.decided", decision, order_id))

    shown = await current(database, order_id)
    [line] = shown.line_items
    assert (line.active_request, line.cancelled_quantity, line.fulfillable_quantity) == (False, 1, 1)
    [refund] = shown.refunds
    assert (refund.status, refund.amount, refund.method, refund.cancellation_request_id) == (
        "pending",
        Decimal("25.00"),
        "loyalty_money",
        request_id,
    )
    assert (refund.refund_line_items[0].quantity, refund.refund_line_items[0].restock_type) == (1, "cancel")
    assert [kind for kind, _, _ in published(database)][1:] == [
        "order.cancellation_requested",
        "cancellation.submitted",
        "order.refund_requested",
    ]


async def test_approving_the_last_units_cancels_the_order(database: FakeDatabase, apply: EventHandler) -> None:
    order_id = await paid_order(database, paid=None)
    request_id, item = await request_cancel(database, order_id, 2)

    await apply(NO_CONNECTION, fact("cancellation.decided", decided(order_id, request_id, item, 2), order_id))

    shown = await current(database, order_id)
    assert (shown.status, shown.cancel_reason, shown.refunds) == ("cancelled", "customer", [])  # nothing was paid
    assert [kind for kind, _, _ in published(database)][-1] == "order.cancelled"


async def test_a_rejected_request_only_clears_the_flag_and_a_second_decision_is_unprocessable(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id = await paid_order(database)
    request_id, item = await request_cancel(database, order_id, 1)
    rejected = decided(order_id, request_id, item, 1, decision="rejected", refund_method=None)

    await apply(NO_CONNECTION, fact("cancellation.decided", rejected, order_id))
    with pytest.raises(Unprocessable, match="no_active_request"):
        await apply(NO_CONNECTION, fact("cancellation.decided", decided(order_id, request_id, item, 1), order_id))

    shown = await current(database, order_id)
    assert ([line.active_request for line in shown.line_items], shown.refunds) == ([False], [])
    assert [kind for kind, _, _ in published(database)][-1] == "order.updated"


async def test_returned_units_are_recorded_and_more_than_were_sold_is_unprocessable(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id = await paid_order(database)
    item = (await current(database, order_id)).line_items[0].id

    await apply(
        NO_CONNECTION,
        fact("return.received", ReturnReceived(order_id=order_id, line_item_id=item, quantity=1), order_id),
    )
    with pytest.raises(Unprocessable, match="invalid_quantity"):
        await apply(
            NO_CONNECTION,
            fact("return.received", ReturnReceived(order_id=order_id, line_item_id=item, quantity=2), order_id),
        )
    with pytest.raises(Unprocessable, match="unknown_line_item"):
        await apply(
            NO_CONNECTION,
            fact("return.received", ReturnReceived(order_id=order_id, line_item_id=1, quantity=1), order_id),
        )

    assert [line.returned_quantity for line in (await current(database, order_id)).line_items] == [1]
    assert [kind for kind, _, _ in published(database)][-1] == "order.return_received"


async def test_reference_data_facts_fill_the_copies_guest_requests_are_checked_against(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("cancellation.reason.upserted", CancellationReason(id=3, name="Late"), 3))
    await apply(NO_CONNECTION, fact("shipping_company.upserted", ShippingCompany(id=4, name="Aras"), 4))
    await apply(
        NO_CONNECTION, fact("shipping_company.upserted", ShippingCompany(id=5, name="MNG", easy_return=False), 5)
    )

    reference = database.tables.reference_data
    assert (await reference.active_reasons([3, 4]), await reference.return_companies([4, 5])) == ({3}, {4})
    assert published(database) == []
