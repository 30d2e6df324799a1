"""Refunds on an order: made pending from a quote (shared/refund_math.py, the one refund math) and
settled by the payment service's answer.

A refund is created `pending` in the transaction of the change that asks for it, and holds its money
and units from then on (refund_math.refundable), so refunds made at the same time never take the same
money twice. The payment service's `payment.refunded` or `payment.refund_failed` names the refund and
the ledger entry it settles; each answer is a transaction on the refund (and on the order), recorded
once per ledger entry. A failed refund keeps holding its money until a retry succeeds.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.fulfillments import shipped_quantities, with_fulfilment_counts
from services.order_api.domain.limits import MAX_REFUNDS, MAX_TRANSACTIONS, check_count
from services.order_api.domain.payments import financial_status, ledger_entry
from shared.order_facts import PaymentFact
from shared.orders import OrderSnapshot, Refund, RefundLine, RefundMethod, RestockType, Transaction
from shared.refund_math import RefundQuote, RefundRefused, quote, refundable, refunded_quantities

Shipping = Decimal | Literal["full"] | None


@dataclass(frozen=True, slots=True)
class RefundLineRequest:
    line_item_id: int
    quantity: int
    restock_type: RestockType = "no_restock"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A refund of line items and shipping, as a back office asks for it (Haravan `refunds.json`)."""

    lines: tuple[RefundLineRequest, ...] = ()
    shipping: Shipping = None
    note: str | None = None
    notify: bool = False


@dataclass(frozen=True, slots=True)
class RefundDetails:
    """What a new refund carries besides its money."""

    refund_id: int
    now: datetime
    note: str | None = None
    notify: bool = False
    restock: bool = False
    method: RefundMethod = "original"
    cancellation_request_id: int | None = None


def quote_request(order: OrderSnapshot, request: RefundRequest) -> RefundQuote:
    """What `request` would refund, checked against the order: lines named once each, each restock
    type possible for its units, something to refund, and within what can still be refunded."""
    quantities: dict[int, int] = {}
    for index, line in enumerate(request.lines):
        if line.line_item_id in quantities:
            raise RefundRefused(
                f"refund_line_items[{index}].line_item_id", "duplicate_line_item", "name each line item once"
            )
        quantities[line.line_item_id] = line.quantity
    if not quantities and request.shipping is None:
        raise RefundRefused("refund_line_items", "nothing_to_refund", "name line items or shipping to refund")
    refund = quote(order, quantities, request.shipping)
    _check_restock(order, request.lines)
    return refund


def _check_restock(order: OrderSnapshot, lines: tuple[RefundLineRequest, ...]) -> None:
    """`cancel` puts back units that were never shipped; `return`, units that were."""
    items = {item.id: item for item in order.line_items}
    shipped = shipped_quantities(order)
    for index, line in enumerate(lines):
        item = items[line.line_item_id]
        if line.restock_type == "cancel" and line.quantity > item.fulfillable_quantity:
            left = item.fulfillable_quantity
            raise OrderRuleError(
                f"refund_line_items[{index}].restock_type",
                "invalid_restock_type",
                f"line item {item.id} has {left} unshipped unit(s) to cancel, not {line.quantity}",
            )
        if line.restock_type == "return" and line.quantity > shipped.get(item.id, 0):
            raise OrderRuleError(
                f"refund_line_items[{index}].restock_type",
                "invalid_restock_type",
                f"line item {item.id} has {shipped.get(item.id, 0)} shipped unit(s) to return, not {line.quantity}",
            )


def refund_of(
    quoted: RefundQuote, details: RefundDetails, restock_types: Mapping[int, RestockType] | None = None
) -> Refund:
    """The refund a quote makes: pending while there is money to pay back, settled when there is none."""
    return Refund(
        id=details.refund_id,
        note=details.note,
        restock=details.restock,
        notify=details.notify,
        status="pending" if quoted.amount > 0 else "success",
        method=details.method,
        amount=quoted.amount,
        refund_line_items=[
            RefundLine(
                line_item_id=line.line_item_id,
                quantity=line.quantity,
                subtotal=line.subtotal,
                total_discount=line.total_discount,
                total_tax=line.total_tax,
                restock_type=(restock_types or {}).get(line.line_item_id, "no_restock"),
            )
            for line in quoted.lines
        ],
        shipping=quoted.shipping,
        cancellation_request_id=details.cancellation_request_id,
        created_at=details.now,
    )


def amount_refund(amount: Decimal, details: RefundDetails) -> Refund:
    """A refund of an amount, of no line in particular (a cancel's `amount`, or what is left of a
    partly paid order)."""
    return Refund(
        id=details.refund_id,
        note=details.note,
        restock=details.restock,
        notify=details.notify,
        status="pending" if amount > 0 else "success",
        method=details.method,
        amount=amount,
        cancellation_request_id=details.cancellation_request_id,
        created_at=details.now,
    )


def refund_of_units(
    order: OrderSnapshot, units: Mapping[int, int], shipping: Shipping, details: RefundDetails, restock: RestockType
) -> Refund | None:
    """A refund of `units` (line item -> units not yet in a refund) and `shipping`, within what can
    still be refunded: when they are worth more than that (a partly paid order), the refund is of what
    is left, of no line in particular. None when there is no money to pay back."""
    left = refundable(order)
    wanted = {item_id: count for item_id, count in units.items() if count > 0}
    if left <= 0 or (not wanted and shipping is None):
        return None
    try:
        quoted = quote(order, wanted, shipping)
    except RefundRefused as refused:
        if refused.code != "refund_exceeds_refundable":
            raise
        return amount_refund(left, details)
    if quoted.amount <= 0:
        return None
    return refund_of(quoted, details, dict.fromkeys(wanted, restock))


def units_not_refunded(order: OrderSnapshot) -> dict[int, int]:
    """Per line item, the units no refund holds yet (settled, pending or failed)."""
    held = refunded_quantities(order)
    return {item.id: item.quantity - held.get(item.id, 0) for item in order.line_items}


def with_refund(order: OrderSnapshot, refund: Refund) -> OrderSnapshot:
    refunds = [*order.refunds, refund]
    check_count("refunds", len(refunds), MAX_REFUNDS)
    return order.model_copy(update={"refunds": refunds})


def cancel_units(order: OrderSnapshot, units: Mapping[int, int]) -> OrderSnapshot:
    """The order with `units` (line item -> units, never more than are unshipped) cancelled: no longer
    to ship, and not owed."""
    items = [
        item.model_copy(update={"cancelled_quantity": item.cancelled_quantity + units.get(item.id, 0)})
        for item in order.line_items
    ]
    return with_fulfilment_counts(order.model_copy(update={"line_items": items}))


_SETTLED_EVENT: Final = {True: "order.refunded", False: "order.updated"}


def settle_refund(
    order: OrderSnapshot, fact: PaymentFact, *, succeeded: bool, transaction_id: int, now: datetime
) -> tuple[OrderSnapshot, str] | None:
    """The payment service's answer to a refund command applied: a transaction on the refund and the
    order, the refund's status, and on success the order's financial status and the lines' refunded
    units. None when this ledger entry's answer is already recorded (nothing changes)."""
    if fact.refund_id is None:
        raise OrderRuleError("refund_id", "missing_refund_id", "a refund's answer names the order's refund")
    refund = next((one for one in order.refunds if one.id == fact.refund_id), None)
    if refund is None:
        raise OrderRuleError("refund_id", "unknown_refund", f"order {order.id} has no refund {fact.refund_id}")
    if fact.currency != order.currency:
        raise OrderRuleError("currency", "currency_mismatch", f"refund in {fact.currency}, order in {order.currency}")
    entry = ledger_entry(fact)
    if entry is not None and any(tx.authorization == entry for tx in refund.transactions):
        return None
    if refund.status == "success":
        raise OrderStateError("refund_id", "refund_settled", f"refund {refund.id} has already succeeded")
    if fact.amount != refund.amount:
        raise OrderRuleError(
            "amount", "amount_mismatch", f"refund {refund.id} is of {refund.amount}, the answer of {fact.amount}"
        )
    transaction = Transaction(
        id=transaction_id,
        kind="refund",
        status="success" if succeeded else "failure",
        amount=refund.amount,
        currency=order.currency,
        gateway=fact.gateway,
        authorization=entry,
        created_at=now,
    )
    settled = refund.model_copy(
        update={"status": transaction.status, "transactions": [*refund.transactions, transaction]}
    )
    transactions = [*order.transactions, transaction]
    check_count("transactions", len(transactions), MAX_TRANSACTIONS)
    fields: dict[str, object] = {
        "refunds": [settled if one.id == refund.id else one for one in order.refunds],
        "transactions": transactions,
        "updated_at": now,
    }
    if succeeded:
        units = {line.line_item_id: line.quantity for line in refund.refund_line_items}
        fields["line_items"] = [
            item.model_copy(update={"refunded_quantity": item.refunded_quantity + units.get(item.id, 0)})
            for item in order.line_items
        ]
        fields["financial_status"] = financial_status(order.total_price, transactions)
    return order.model_copy(update=fields), _SETTLED_EVENT[succeeded]
