"""Refund math: what each line of an order is worth, and what a refund of some of it comes to.

order_api quotes and validates refunds with it (Haravan `refunds/calculate.json`, the cancel's
`amount`); cancellation_worker decides the money it sends back with it. Everything is computed in
minor units: the order's discounts are shared over its lines by their subtotals, its tax over its
taxable lines by what they cost after discounts, each by largest remainder, so the lines' values
add up to the order's total less shipping, to the unit. Refunding `k` of a line's `Q` units after `r`
were refunded takes `part(r + k) - part(r)` of each of its subtotal, discount and tax, where
`part(n) = whole * n // Q`: any sequence of partial refunds of a line adds up to exactly its net,
never more. And no refund takes the money refunded beyond what was captured.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from shared.money import allocate, from_minor, is_precise, to_minor
from shared.orders import OrderSnapshot
from shared.rules import RuleError

FULL_SHIPPING: Literal["full"] = "full"


class RefundRefused(RuleError):
    """A refund the order cannot take; `field` names what to fix."""


@dataclass(frozen=True, slots=True)
class LineValue:
    """One line of an order in minor units: its subtotal, its share of the order's discounts and tax."""

    line_item_id: int
    quantity: int
    subtotal: int
    discount: int
    tax: int  # 0 when prices include tax: the tax is inside the subtotal then

    @property
    def net(self) -> int:
        return self.subtotal - self.discount + self.tax

    def parts(self, before: int, units: int) -> tuple[int, int, int]:
        """(subtotal, discount, tax) of `units` more units after `before` were refunded."""

        def part(whole: int) -> int:
            return whole * (before + units) // self.quantity - whole * before // self.quantity

        return part(self.subtotal), part(self.discount), part(self.tax)


@dataclass(frozen=True, slots=True)
class RefundLineQuote:
    line_item_id: int
    quantity: int
    subtotal: Decimal
    total_discount: Decimal
    total_tax: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundQuote:
    currency: str
    lines: list[RefundLineQuote]
    shipping: Decimal
    amount: Decimal  # what goes back: the lines' amounts and the shipping
    refundable: Decimal  # what could still go back before this refund: captured less refunded


def line_values(order: OrderSnapshot) -> list[LineValue]:
    """Each line's value: discounts shared by subtotal, tax by discounted subtotal of taxable lines."""
    currency = order.currency
    subtotals = [to_minor(item.price, currency) * item.quantity for item in order.line_items]
    discounts = allocate(to_minor(order.total_discounts, currency), subtotals)
    taxable = [
        subtotal - discount if item.taxable else 0
        for item, subtotal, discount in zip(order.line_items, subtotals, discounts, strict=True)
    ]
    total_tax = 0 if order.taxes_included else to_minor(order.total_tax, currency)
    # Tax goes with the taxable lines; an order with none (tax on shipping, say) shares it by subtotal.
    taxes = allocate(total_tax, taxable if any(taxable) else subtotals)
    return [
        LineValue(item.id, item.quantity, subtotal, discount, tax)
        for item, subtotal, discount, tax in zip(order.line_items, subtotals, discounts, taxes, strict=True)
    ]


def refunded_quantities(order: OrderSnapshot) -> dict[int, int]:
    """Per line item, the units refunds hold: settled, pending, or failed and awaiting a retry."""
    refunded: dict[int, int] = {}
    for refund in order.refunds:
        for line in refund.refund_line_items:
            refunded[line.line_item_id] = refunded.get(line.line_item_id, 0) + line.quantity
    return refunded


def captured(order: OrderSnapshot) -> Decimal:
    """What the order's successful sales and captures took from the customer."""
    return sum(
        (tx.amount for tx in order.transactions if tx.kind in ("sale", "capture") and tx.status == "success"),
        Decimal(0),
    )


def refunded(order: OrderSnapshot) -> Decimal:
    """What the order's successful refund transactions gave back."""
    return sum((tx.amount for tx in order.transactions if tx.kind == "refund" and tx.status == "success"), Decimal(0))


def room(order: OrderSnapshot, held: Decimal) -> Decimal:
    """What can still go back when `held` is already on its way: captured, less refunded, less held.
    The cancellation worker's ledger caps its payments with it, `held` being its requests not answered
    yet (the order's pending refunds are what it pays, so they do not count there)."""
    currency = order.currency
    left = to_minor(captured(order), currency) - to_minor(refunded(order), currency) - to_minor(held, currency)
    return from_minor(left, currency)


def refundable(order: OrderSnapshot) -> Decimal:
    """What can still be refunded: what was captured, less what was refunded, less what refunds not
    yet settled hold (pending ones, and failed ones awaiting a retry): a refund counts against the cap
    from the moment it is created, so two at once can never both take the same money."""
    return room(order, sum((refund.amount for refund in order.refunds if refund.status != "success"), Decimal(0)))


def shipping_refunded(order: OrderSnapshot) -> Decimal:
    return sum((refund.shipping for refund in order.refunds), Decimal(0))


def quote(
    order: OrderSnapshot,
    quantities: Mapping[int, int],
    shipping: Decimal | Literal["full"] | None = None,
) -> RefundQuote:
    """What refunding `quantities` (line item id -> units) and `shipping` (an amount, or all that is
    left of it) comes to. Refuses units not left to refund, shipping beyond what was charged, an
    amount finer than the currency, and a total beyond what was captured and not yet refunded."""
    currency = order.currency
    values = {line.line_item_id: line for line in line_values(order)}
    done = refunded_quantities(order)
    lines: list[RefundLineQuote] = []
    total = 0
    for line_item_id, units in quantities.items():
        line = values.get(line_item_id)
        if line is None:
            raise RefundRefused("refund_line_items", "unknown_line_item", f"the order has no line item {line_item_id}")
        left = line.quantity - done.get(line_item_id, 0)
        if not 0 < units <= left:
            raise RefundRefused(
                "refund_line_items",
                "invalid_quantity",
                f"line item {line_item_id} has {left} unit(s) left to refund, not {units}",
            )
        subtotal, discount, tax = line.parts(done.get(line_item_id, 0), units)
        total += subtotal - discount + tax
        lines.append(
            RefundLineQuote(
                line_item_id,
                units,
                from_minor(subtotal, currency),
                from_minor(discount, currency),
                from_minor(tax, currency),
                from_minor(subtotal - discount + tax, currency),
            )
        )
    shipping_left = order.total_shipping_price - shipping_refunded(order)
    shipping_amount = shipping_left if shipping == FULL_SHIPPING else (shipping or Decimal(0))
    if not is_precise(shipping_amount, currency):
        raise RefundRefused("shipping", "too_precise", f"{currency} amounts have fewer decimals than {shipping_amount}")
    if not Decimal(0) <= shipping_amount <= shipping_left:
        raise RefundRefused("shipping", "invalid_amount", f"at most {shipping_left} of shipping is left to refund")
    total += to_minor(shipping_amount, currency)
    left_to_refund = refundable(order)
    amount = from_minor(total, currency)
    if amount > left_to_refund:
        raise RefundRefused(
            "refund_line_items" if lines else "shipping",
            "refund_exceeds_refundable",
            f"the refund would be {amount} {currency}; only {left_to_refund} can still be refunded",
        )
    return RefundQuote(
        currency, lines, from_minor(to_minor(shipping_amount, currency), currency), amount, left_to_refund
    )


def check_amount(order: OrderSnapshot, amount: Decimal, field: str = "amount") -> Decimal:
    """An amount to refund as it is (the Haravan cancel's `amount`): at the currency's precision, not
    negative, within what can still be refunded."""
    if not is_precise(amount, order.currency):
        raise RefundRefused(field, "too_precise", f"{order.currency} amounts have fewer decimals than {amount}")
    left = refundable(order)
    if not Decimal(0) <= amount <= left:
        raise RefundRefused(
            field, "refund_exceeds_refundable", f"{amount} is more than the {left} that can be refunded"
        )
    return from_minor(to_minor(amount, order.currency), order.currency)
