"""How the dialects show an order as it is cancelled and refunded (Digital River's amounts and state,
Elastic Path's triple, Akinon's flags), from the order's own refunds and line items as the rules make
them. Pure, no I/O."""

import uuid
from decimal import Decimal

import pytest

from services.order_api.api.akinon.responses import akinon_order
from services.order_api.api.digital_river.responses import digital_river_order
from services.order_api.api.elastic_path.status import ElasticPathStatus, elastic_path_status
from services.order_api.domain.cancellation import CancelRequest, cancel_order
from services.order_api.domain.changes import check_deletable
from services.order_api.domain.errors import OrderStateError
from services.order_api.domain.refunds import (
    RefundDetails,
    RefundLineRequest,
    RefundRequest,
    quote_request,
    refund_of,
    settle_refund,
    with_refund,
)
from shared.order_facts import PaymentFact
from shared.orders import OrderSnapshot
from tests.support.order_rules import LATER, build, custom, order

# Two teapots at 25.00 and a cup at 10.00, 6.00 shipping, paid with one sale: 66.00.
PAID = build(
    order(
        custom("25.00", 2),
        custom("10.00", 1),
        shipping_lines=[{"title": "Post", "price": "6.00"}],
        transactions=[{"kind": "sale", "amount": "66.00"}],
    )
)


def settled(target: OrderSnapshot, *, succeeded: bool = True) -> OrderSnapshot:
    """`target` with its last refund answered by the payment service."""
    refund = target.refunds[-1]
    answer = PaymentFact(
        order_id=target.id, amount=refund.amount, currency="USD", refund_id=refund.id, ledger_entry_id=uuid.uuid4()
    )
    result = settle_refund(target, answer, succeeded=succeeded, transaction_id=refund.id + 1, now=LATER)
    assert result is not None
    return result[0]


def test_a_cancelled_and_refunded_order_shows_so_in_every_dialect() -> None:
    cancelled = cancel_order(PAID, CancelRequest(reason="customer"), 900, LATER)
    refunded = settled(cancelled)

    pending, done = digital_river_order(cancelled), digital_river_order(refunded)
    assert (pending.state, pending.cancelled_amount, pending.refunded_amount, pending.available_to_refund_amount) == (
        "cancelled",
        Decimal("66.00"),
        Decimal("0.00"),
        Decimal("0.00"),  # the pending refund holds it
    )
    assert (done.refunded_amount, done.available_to_refund_amount) == (Decimal("66.00"), Decimal("0.00"))
    assert elastic_path_status(cancelled) == ElasticPathStatus("cancelled", "paid", "unfulfilled")
    assert elastic_path_status(refunded) == ElasticPathStatus("cancelled", "refunded", "unfulfilled")
    akinon = akinon_order(refunded)
    assert (akinon.is_cancelled, akinon.is_cancellable, akinon.is_refundable) == (True, False, False)
    assert (akinon.refund_amount, akinon.shipping_refund_amount) == (Decimal("66.00"), Decimal("6.00"))


def test_a_partly_refunded_order_is_returned_and_keeps_what_is_left_refundable() -> None:
    cup = PAID.line_items[1].id
    request = RefundRequest(lines=(RefundLineRequest(cup, 1, "cancel"),))
    refund = refund_of(quote_request(PAID, request), RefundDetails(900, LATER), {cup: "cancel"})
    partly = settled(with_refund(PAID, refund))

    shown = digital_river_order(partly)
    assert (partly.financial_status, shown.state) == ("partially_refunded", "returned")
    assert (shown.refunded_amount, shown.available_to_refund_amount) == (Decimal("10.00"), Decimal("56.00"))
    assert elastic_path_status(partly) == ElasticPathStatus("processing", "paid", "unfulfilled")
    akinon = akinon_order(partly)
    assert (akinon.is_cancelled, akinon.is_cancellable, akinon.is_refundable) == (False, True, True)


def test_a_failed_refund_holds_its_money_and_keeps_the_order_from_being_deleted() -> None:
    cancelled = cancel_order(PAID, CancelRequest(), 900, LATER)
    failed = settled(cancelled, succeeded=False)

    assert (failed.financial_status, digital_river_order(failed).available_to_refund_amount) == (
        "paid",
        Decimal("0.00"),
    )
    with pytest.raises(OrderStateError) as refused:
        check_deletable(failed)
    assert (refused.value.field, refused.value.code) == ("refunds", "order_not_deletable")
    check_deletable(settled(failed))  # once paid back, a cancelled order may go
