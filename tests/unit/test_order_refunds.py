"""Cancelling and refunding orders through the use cases (services/order_api/service/refunds.py) on the
store in memory: what each makes of the order, the pending refund it opens, what it publishes, and
what it refuses (changing nothing). No I/O."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from services.order_api.domain.cancellation import CancelRequest
from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.refunds import RefundLineRequest, RefundRequest
from services.order_api.service.refunds import RefundService
from shared.order_facts import FulfillmentCreatedFact, FulfillmentLineFact, OrderDraft, PaymentFact
from shared.orders import OrderSnapshot
from shared.refund_math import RefundRefused, refundable
from tests.support.fake_store import FakeDatabase, fact_service, order_service, published, refund_service
from tests.support.order_rules import LATER, custom, order

# 3 boots at 74.99 and a hat at 10.00, 10.00 off, 13.50 tax, 7.00 shipping: 245.47.
BOOTS_AND_HAT: dict[str, Any] = order(
    custom("74.99", 3),
    custom("10.00", 1, taxable=False),
    tax_lines=[{"title": "VAT", "price": "13.50", "rate": "0.06"}],
    discount_codes=[{"code": "TEN", "amount": "10.00"}],
    shipping_lines=[{"title": "Standard", "price": "7.00"}],
)


@pytest.fixture
def refunds(database: FakeDatabase) -> RefundService:
    return refund_service(database)


async def place(database: FakeDatabase, body: dict[str, Any], *, paid: str | None = "245.47") -> OrderSnapshot:
    fields = {**body, "transactions": [{"kind": "sale", "amount": paid}]} if paid else body
    placed = await order_service(database).create_order(OrderDraft.model_validate(fields), may_read=True)
    return placed.stored.order


async def stored(database: FakeDatabase, order_id: int) -> OrderSnapshot:
    found = await database.tables.orders.fetch(order_id)
    assert found is not None
    return found.order


async def test_a_cancel_cancels_at_once_and_opens_a_pending_refund_of_everything_paid(
    database: FakeDatabase, refunds: RefundService
) -> None:
    placed = await place(database, BOOTS_AND_HAT)

    done = await refunds.cancel_order(
        placed.id, CancelRequest(reason="customer", restock=True, email=True), may_read=True
    )

    cancelled = done.stored.order
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_at) == ("cancelled", "customer", LATER)
    assert [(item.cancelled_quantity, item.fulfillable_quantity) for item in cancelled.line_items] == [(3, 0), (1, 0)]
    refund = done.refund
    assert refund is not None
    assert (refund.status, refund.amount, refund.shipping, refund.restock, refund.notify) == (
        "pending",
        Decimal("245.47"),
        Decimal("7.00"),
        True,
        True,
    )
    assert [(line.quantity, line.restock_type) for line in refund.refund_line_items] == [(3, "cancel"), (1, "cancel")]
    assert sum(
        (line.subtotal - line.total_discount + line.total_tax for line in refund.refund_line_items), Decimal(0)
    ) + (refund.shipping) == Decimal("245.47")
    assert cancelled.financial_status == "paid"  # nothing has gone back yet
    assert refundable(cancelled) == 0  # the pending refund holds it all
    assert published(database)[1:] == [("order.cancelled", 2, placed.id)]


async def test_a_cancel_with_an_amount_refunds_that_amount(database: FakeDatabase, refunds: RefundService) -> None:
    placed = await place(database, BOOTS_AND_HAT)

    done = await refunds.cancel_order(placed.id, CancelRequest(amount=Decimal("21.20")), may_read=True)

    assert done.refund is not None
    assert (done.refund.amount, done.refund.refund_line_items, done.refund.status) == (Decimal("21.20"), [], "pending")
    assert done.stored.order.cancel_reason == "other"


async def test_an_unpaid_order_is_cancelled_without_a_refund_unless_it_must_restock_or_email(
    database: FakeDatabase, refunds: RefundService
) -> None:
    quiet = await place(database, BOOTS_AND_HAT, paid=None)
    loud = await place(database, BOOTS_AND_HAT, paid=None)

    plain = await refunds.cancel_order(quiet.id, CancelRequest(), may_read=True)
    restocked = await refunds.cancel_order(loud.id, CancelRequest(restock=True), may_read=True)

    assert (plain.refund, plain.stored.order.refunds) == (None, [])
    assert restocked.refund is not None  # nothing to pay back: recorded settled, carrying restock
    assert (restocked.refund.amount, restocked.refund.status, restocked.refund.restock) == (Decimal(0), "success", True)


async def test_a_partly_paid_order_cancelled_refunds_what_was_captured(
    database: FakeDatabase, refunds: RefundService
) -> None:
    placed = await place(database, BOOTS_AND_HAT, paid="100.00")

    done = await refunds.cancel_order(placed.id, CancelRequest(), may_read=True)

    assert done.refund is not None
    assert (done.refund.amount, done.refund.refund_line_items) == (Decimal("100.00"), [])


@pytest.mark.parametrize(
    ("amount", "code"), [(Decimal("245.48"), "refund_exceeds_refundable"), (Decimal("1.001"), "too_precise")]
)
async def test_a_cancel_amount_beyond_what_can_be_refunded_or_finer_than_the_currency_is_refused(
    database: FakeDatabase, refunds: RefundService, amount: Decimal, code: str
) -> None:
    placed = await place(database, BOOTS_AND_HAT)

    with pytest.raises(RefundRefused) as refused:
        await refunds.cancel_order(placed.id, CancelRequest(amount=amount), may_read=True)

    assert (refused.value.field, refused.value.code) == ("amount", code)
    assert (await stored(database, placed.id)).status == "open"
    assert [kind for kind, _, _ in published(database)] == ["order.created"]


async def test_a_cancelled_or_fulfilled_order_cannot_be_cancelled(
    database: FakeDatabase, refunds: RefundService
) -> None:
    cancelled = await place(database, BOOTS_AND_HAT)
    await refunds.cancel_order(cancelled.id, CancelRequest(), may_read=True)
    shipped = await place(database, BOOTS_AND_HAT)
    item = shipped.line_items[0].id
    await fact_service(database).apply_fulfillment(
        FulfillmentCreatedFact(
            order_id=shipped.id, fulfillment_id=5, line_items=[FulfillmentLineFact(line_item_id=item, quantity=1)]
        )
    )

    for order_id, code in ((cancelled.id, "order_already_cancelled"), (shipped.id, "order_fulfilled")):
        with pytest.raises(OrderStateError) as refused:
            await refunds.cancel_order(order_id, CancelRequest(), may_read=True)
        assert refused.value.code == code


async def test_a_refund_is_quoted_first_then_opened_pending_and_holds_its_money(
    database: FakeDatabase, refunds: RefundService
) -> None:
    placed = await place(database, BOOTS_AND_HAT)
    boots = placed.line_items[0].id
    request = RefundRequest(lines=(RefundLineRequest(boots, 1, "cancel"),), shipping="full", note="late", notify=True)

    order, quoted = await refunds.quote_refund(placed.id, request)
    assert order == placed
    assert [kind for kind, _, _ in published(database)] == ["order.created"]  # a quote writes nothing

    done = await refunds.create_refund(placed.id, request, may_read=True)

    refund = done.refund
    assert refund is not None
    assert (refund.amount, refund.status, refund.note, refund.notify, refund.restock) == (
        quoted.amount,
        "pending",
        "late",
        True,
        True,
    )
    assert (refund.shipping, refund.refund_line_items[0].restock_type) == (Decimal("7.00"), "cancel")
    shown = done.stored.order.line_items[0]
    assert (shown.cancelled_quantity, shown.fulfillable_quantity) == (1, 2)  # a cancelled unit ships no more
    assert published(database)[1:] == [("order.refund_requested", 2, placed.id)]
    with pytest.raises(RefundRefused) as again:  # the shipping is held by the pending refund
        await refunds.create_refund(placed.id, RefundRequest(shipping=Decimal("1.00")), may_read=True)
    assert again.value.code == "invalid_amount"


async def test_the_second_of_two_full_refunds_is_refused(database: FakeDatabase, refunds: RefundService) -> None:
    placed = await place(database, BOOTS_AND_HAT)
    everything = RefundRequest(
        lines=tuple(RefundLineRequest(item.id, item.quantity) for item in placed.line_items), shipping="full"
    )

    first = await refunds.create_refund(placed.id, everything, may_read=True)
    with pytest.raises(RefundRefused) as second:
        await refunds.create_refund(placed.id, everything, may_read=True)

    assert first.refund is not None
    assert first.refund.amount == Decimal("245.47")
    assert second.value.code == "invalid_quantity"
    assert len((await stored(database, placed.id)).refunds) == 1


@pytest.mark.parametrize(
    ("request_", "field", "code"),
    [
        (RefundRequest(), "refund_line_items", "nothing_to_refund"),
        (RefundRequest(lines=(RefundLineRequest(1, 1),)), "refund_line_items", "unknown_line_item"),
    ],
)
async def test_a_refund_of_nothing_or_of_no_item_of_the_order_is_refused(
    database: FakeDatabase, refunds: RefundService, request_: RefundRequest, field: str, code: str
) -> None:
    placed = await place(database, BOOTS_AND_HAT)

    with pytest.raises(RefundRefused) as refused:
        await refunds.create_refund(placed.id, request_, may_read=True)

    assert (refused.value.field, refused.value.code) == (field, code)


async def test_returning_units_never_shipped_is_refused(database: FakeDatabase, refunds: RefundService) -> None:
    placed = await place(database, BOOTS_AND_HAT)
    boots = placed.line_items[0].id

    with pytest.raises(OrderRuleError) as refused:
        await refunds.create_refund(
            placed.id, RefundRequest(lines=(RefundLineRequest(boots, 1, "return"),)), may_read=True
        )

    assert (refused.value.field, refused.value.code) == ("refund_line_items[0].restock_type", "invalid_restock_type")


async def test_a_wait_ends_when_the_refund_settles_or_when_time_is_up(
    database: FakeDatabase, refunds: RefundService
) -> None:
    placed = await place(database, BOOTS_AND_HAT)
    done = await refunds.cancel_order(placed.id, CancelRequest(), may_read=True)
    assert done.refund is not None
    refund_id = done.refund.id

    unsettled = await refunds.wait_until_settled(placed.id, refund_id, 0.2, may_read=True)
    assert unsettled.order.refunds[0].status == "pending"

    async def pay_back() -> None:
        await asyncio.sleep(0.1)
        answer = PaymentFact(order_id=placed.id, amount=Decimal("245.47"), currency="USD", refund_id=refund_id)
        await fact_service(database).settle_refund(answer, succeeded=True)

    settling = asyncio.create_task(pay_back())
    settled = await refunds.wait_until_settled(placed.id, refund_id, 5, may_read=True)
    await settling
    assert (settled.order.refunds[0].status, settled.order.financial_status) == ("success", "refunded")
