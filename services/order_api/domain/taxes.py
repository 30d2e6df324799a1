"""Tax per line item: the order's tax lines allocated across its taxable items."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from services.order_api.domain.money import money, total
from shared.money import currency_exponent
from shared.orders import OrderSnapshot


@dataclass(frozen=True, slots=True)
class LineItemTax:
    line_item_id: int
    taxable_amount: Decimal
    tax_amount: Decimal
    rate: Decimal


def line_item_taxes(order: OrderSnapshot) -> list[LineItemTax]:
    """Each line item's tax (Digital River's tax details). Items that carry tax lines report them; else
    each of the order's tax lines is split across the taxable items in proportion to their amounts,
    rounded down to the currency's precision, the last taxable item taking the remainder so the shares
    add up to the tax line exactly (rounding down keeps that remainder from going negative)."""
    currency = order.currency
    amounts = {item.id: money(item.price * item.quantity - item.total_discount, currency) for item in order.line_items}
    if any(item.tax_lines for item in order.line_items):
        return [
            LineItemTax(
                item.id,
                amounts[item.id] if item.taxable else money(Decimal(0), currency),
                total((tax.price for tax in item.tax_lines), currency),
                sum((tax.rate for tax in item.tax_lines), Decimal(0)),
            )
            for item in order.line_items
        ]
    taxable = [item for item in order.line_items if item.taxable]
    base = sum((amounts[item.id] for item in taxable), Decimal(0))
    exponent = currency_exponent(currency)
    quantum = Decimal(1).scaleb(-(2 if exponent is None else exponent))
    shares = {item.id: Decimal(0) for item in taxable}
    for tax in order.tax_lines:
        allocated = Decimal(0)
        for item in taxable[:-1]:
            share = (tax.price * amounts[item.id] / base).quantize(quantum, ROUND_DOWN) if base else Decimal(0)
            shares[item.id] += share
            allocated += share
        if taxable:
            shares[taxable[-1].id] += tax.price - allocated
    rate = sum((tax.rate for tax in order.tax_lines), Decimal(0))
    zero = money(Decimal(0), currency)
    return [
        LineItemTax(item.id, amounts[item.id], money(shares[item.id], currency), rate)
        if item.taxable
        else LineItemTax(item.id, zero, zero, Decimal(0))
        for item in order.line_items
    ]
