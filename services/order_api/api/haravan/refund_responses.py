"""What `refunds/calculate.json` answers: Shopify's calculated refund, the quote of the one refund math
(shared/refund_math.py) in this dialect's shape, with the transaction that would pay it back."""

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.order_api.api.haravan.responses import HaravanLineItem, RefundLineFields
from services.order_api.api.haravan.translation import haravan_line_items
from services.order_api.domain.money import money
from services.order_api.domain.refunds import RefundRequest
from shared.orders import OrderSnapshot
from shared.refund_math import RefundQuote, shipping_refunded


class CalculatedShipping(BaseModel):
    amount: Decimal
    tax: Decimal = Field(description="Tax on shipping is not refunded apart from it here: always 0")
    maximum_refundable: Decimal = Field(description="The shipping not refunded yet")


class CalculatedLine(RefundLineFields):
    price: Decimal = Field(description="The unit price")
    line_item: HaravanLineItem


class SuggestedRefund(BaseModel):
    kind: Literal["suggested_refund"] = "suggested_refund"
    amount: Decimal
    maximum_refundable: Decimal = Field(description="What can still be refunded (pending refunds hold theirs)")
    currency: str
    gateway: str | None
    parent_id: int | None = Field(description="The capture or sale the refund would go back through")


class RefundCalculation(BaseModel):
    currency: str
    amount: Decimal = Field(description="What the refund would pay back")
    shipping: CalculatedShipping
    refund_line_items: list[CalculatedLine]
    transactions: list[SuggestedRefund]


class RefundCalculationEnvelope(BaseModel):
    refund: RefundCalculation


def refund_calculation(order: OrderSnapshot, request: RefundRequest, quoted: RefundQuote) -> dict[str, Any]:
    """The quote in Shopify's shape, as JSON data."""
    currency = order.currency
    items = haravan_line_items(order)
    restock = {line.line_item_id: line.restock_type for line in request.lines}
    paid = [tx for tx in order.transactions if tx.kind in ("sale", "capture") and tx.status == "success"]
    parent = paid[-1] if paid else None
    return {
        "refund": {
            "currency": currency,
            "amount": str(quoted.amount),
            "shipping": {
                "amount": str(quoted.shipping),
                "tax": str(money(Decimal(0), currency)),
                "maximum_refundable": str(money(order.total_shipping_price - shipping_refunded(order), currency)),
            },
            "refund_line_items": [
                {
                    "line_item_id": line.line_item_id,
                    "quantity": line.quantity,
                    "restock_type": restock[line.line_item_id],
                    "price": items[line.line_item_id]["price"],
                    "subtotal": str(line.subtotal),
                    "total_discount": str(line.total_discount),
                    "total_tax": str(line.total_tax),
                    "line_item": items[line.line_item_id],
                }
                for line in quoted.lines
            ],
            "transactions": [
                {
                    "kind": "suggested_refund",
                    "amount": str(quoted.amount),
                    "maximum_refundable": str(quoted.refundable),
                    "currency": currency,
                    "gateway": parent.gateway if parent else None,
                    "parent_id": parent.id if parent else None,
                }
            ],
        }
    }
