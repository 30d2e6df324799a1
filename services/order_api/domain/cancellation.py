"""Cancelling: a whole order (Haravan `cancel.json`), the units of an approved guest request (the
cancellation worker's `cancellation.decided`), and units a warehouse received back (`return.received`).

Money goes back as a pending refund (domain/refunds.py) created with the change; the cancellation
worker pays it out. An order without captured money gets none: the worker voids its authorization.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.fulfillments import shipped_quantities
from services.order_api.domain.refunds import (
    RefundDetails,
    amount_refund,
    cancel_units,
    refund_of_units,
    units_not_refunded,
    with_refund,
)
from shared.cancellations import CancellationDecision, ReturnReceived
from shared.money import from_minor, to_minor
from shared.orders import CancelReason, LineItemSnapshot, OrderSnapshot, Refund
from shared.refund_math import FULL_SHIPPING, check_amount, line_values


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Haravan's cancel: why, how much to pay back (all that is left when None), whether to restock
    the items and email the customer."""

    reason: CancelReason = "other"
    amount: Decimal | None = None
    restock: bool = False
    email: bool = False


def check_cancellable(order: OrderSnapshot) -> None:
    if order.status == "cancelled":
        raise OrderStateError("status", "order_already_cancelled", "the order is cancelled already")
    if any(shipped_quantities(order).values()):
        raise OrderStateError(
            "line_items",
            "order_fulfilled",
            "the order has fulfilled line items; cancel their fulfillments first, or refund them",
        )


def cancel_order(order: OrderSnapshot, request: CancelRequest, refund_id: int, now: datetime) -> OrderSnapshot:
    """The order cancelled at once: its unshipped units cancelled, and, when captured money is left, a
    pending refund of `amount` or of everything left (every unit no refund holds yet, and the rest of
    the shipping). The refund also carries the cancel's `restock` and `email`; without money to pay
    back it is recorded settled (amount 0) when either is asked, so the worker still acts on them."""
    check_cancellable(order)
    details = RefundDetails(refund_id, now, notify=request.email, restock=request.restock)
    refund: Refund | None
    if request.amount is not None:
        amount = check_amount(order, request.amount)
        refund = amount_refund(amount, details) if amount > 0 else None
    else:
        restock: Literal["cancel", "no_restock"] = "cancel" if request.restock else "no_restock"
        refund = refund_of_units(order, units_not_refunded(order), FULL_SHIPPING, details, restock)
    if refund is None and (request.restock or request.email):
        refund = amount_refund(Decimal(0), details)
    cancelled = _cancelled(
        cancel_units(order, {item.id: item.fulfillable_quantity for item in order.line_items}), request.reason, now
    )
    return with_refund(cancelled, refund) if refund is not None else cancelled


def _cancelled(order: OrderSnapshot, reason: CancelReason, now: datetime) -> OrderSnapshot:
    return order.model_copy(
        update={"status": "cancelled", "cancelled_at": now, "cancel_reason": reason, "updated_at": now}
    )


def _line_item(order: OrderSnapshot, line_item_id: int) -> LineItemSnapshot:
    item = next((item for item in order.line_items if item.id == line_item_id), None)
    if item is None:
        raise OrderRuleError("line_item_id", "unknown_line_item", f"order {order.id} has no line item {line_item_id}")
    return item


def apply_decision(
    order: OrderSnapshot, decision: CancellationDecision, refund_id: int, now: datetime
) -> tuple[OrderSnapshot, str]:
    """The worker's decision on a guest request: a rejection clears the item's request; an approval
    also cancels its unshipped units (the whole order once nothing of it is left) and, when money was
    captured and the decision pays back, opens a pending refund of the units by the decided method.
    Returns the order and its event: `order.cancelled` when the order was cancelled as a whole,
    `order.refund_requested` when a refund was opened, `order.updated` otherwise."""
    item = _line_item(order, decision.line_item_id)
    if not item.active_request:
        raise OrderStateError(
            "line_item_id", "no_active_request", f"line item {item.id} has no cancellation request waiting"
        )
    items = [one.model_copy(update={"active_request": False}) if one.id == item.id else one for one in order.line_items]
    order = order.model_copy(update={"line_items": items, "updated_at": now})
    if decision.decision == "rejected":
        return order, "order.updated"
    cancelled_units = min(decision.quantity, item.fulfillable_quantity)
    order = cancel_units(order, {item.id: cancelled_units})
    refund = None
    if decision.refund_method is not None:
        units = min(decision.quantity, units_not_refunded(order)[item.id])
        details = RefundDetails(
            refund_id,
            now,
            restock=True,
            method=decision.refund_method,
            cancellation_request_id=decision.request_id,
        )
        refund = refund_of_units(
            order, {item.id: units}, None, details, "cancel" if cancelled_units >= units else "return"
        )
    if refund is not None:
        order = with_refund(order, refund)
    if order.status != "cancelled" and all(one.cancelled_quantity == one.quantity for one in order.line_items):
        return _cancelled(order, "customer", now), "order.cancelled"
    return order, "order.refund_requested" if refund is not None and refund.status == "pending" else "order.updated"


def record_return(order: OrderSnapshot, received: ReturnReceived, now: datetime) -> OrderSnapshot:
    """Units of a line item a warehouse received back; never more than were sold and not cancelled."""
    item = _line_item(order, received.line_item_id)
    left = item.quantity - item.cancelled_quantity - item.returned_quantity
    if not 0 < received.quantity <= left:
        raise OrderRuleError(
            "quantity", "invalid_quantity", f"line item {item.id} has {left} unit(s) to return, not {received.quantity}"
        )
    items = [
        one.model_copy(update={"returned_quantity": one.returned_quantity + received.quantity})
        if one.id == item.id
        else one
        for one in order.line_items
    ]
    return order.model_copy(update={"line_items": items, "updated_at": now})


def cancelled_amount(order: OrderSnapshot) -> Decimal:
    """What of the order's total was cancelled: its cancelled units' share of the items (after their
    discounts, with their tax), and the shipping once the whole order is cancelled."""
    cancelled = {item.id: item.cancelled_quantity for item in order.line_items}
    units = 0
    for line in line_values(order):
        subtotal, discount, tax = line.parts(0, cancelled[line.line_item_id])
        units += subtotal - discount + tax
    shipping = to_minor(order.total_shipping_price, order.currency) if order.status == "cancelled" else 0
    return from_minor(units + shipping, order.currency)
