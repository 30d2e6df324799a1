"""The Digital River dialect's answers: the order as the document shows it, translated from the
snapshot in one place, and the tax details of its items."""

from decimal import Decimal

from pydantic import AwareDatetime, Field

from services.order_api.api.digital_river.fields import Camel
from services.order_api.api.digital_river.state import DigitalRiverState, digital_river_state
from services.order_api.domain.cancellation import cancelled_amount
from services.order_api.domain.money import money
from services.order_api.domain.payments import paid_amount, refunded_amount
from services.order_api.domain.taxes import line_item_taxes
from shared.orders import CancelReason, ChargeType, CustomerType, FraudState, LineItemSnapshot, OrderSnapshot
from shared.refund_math import refundable


class DigitalRiverItem(Camel):
    id: int
    variant_id: int | None
    product_id: int | None
    sku_id: str | None
    name: str
    quantity: int
    price: Decimal = Field(description="The unit price")
    amount: Decimal = Field(description="price times quantity")
    taxable: bool


class DigitalRiverOrder(Camel):
    id: int = Field(description="The order id: the same number in every dialect (no `ord_` prefix)")
    checkout_id: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    customer_id: int | None
    email: str | None
    currency: str = Field(description="ISO 4217, lower case as the document shows it (`usd`)")
    locale: str | None
    browser_ip: str | None
    application_id: str | None
    source_id: str | None
    invoice_attribute_id: str | None
    subscription_id: str | None
    tax_inclusive: bool
    total_amount: Decimal
    subtotal: Decimal = Field(description="The items less discounts, without tax and shipping")
    total_tax: Decimal
    total_fees: Decimal
    total_duty: Decimal
    total_discount: Decimal
    total_shipping: Decimal
    available_to_refund_amount: Decimal = Field(
        description="What can still be refunded: captured, less refunded, less what pending refunds hold"
    )
    refunded_amount: Decimal = Field(description="What refunds paid back (pending ones have not yet)")
    cancelled_amount: Decimal = Field(
        description="The cancelled items' share of the total (with their discounts and tax), and the "
        "shipping once the whole order is cancelled"
    )
    captured_amount: Decimal
    request_to_be_forgotten: bool
    state: DigitalRiverState
    fraud_state: FraudState
    cancellation_reason: CancelReason | None
    live_mode: bool = Field(description="Always true: this platform has no test mode")
    customer_type: CustomerType | None
    charge_type: ChargeType | None
    upstream_id: str | None
    items: list[DigitalRiverItem]
    metadata: dict[str, str]


def digital_river_order(order: OrderSnapshot) -> DigitalRiverOrder:
    """The order in Digital River's shape."""
    currency = order.currency
    zero = money(Decimal(0), currency)
    captured = paid_amount(order, "capture", "sale")
    return DigitalRiverOrder(
        # The checkout's fields as given (this answer declares each of them; a unit test holds it to that).
        **order.checkout_fields(),
        id=order.id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        customer_id=order.customer.id if order.customer else None,
        email=order.email,
        currency=currency.lower(),
        browser_ip=order.browser_ip,
        tax_inclusive=order.taxes_included,
        total_amount=order.total_price,
        subtotal=order.subtotal_price,
        total_tax=order.total_tax,
        total_fees=zero,
        total_duty=zero,
        total_discount=order.total_discounts,
        total_shipping=order.total_shipping_price,
        available_to_refund_amount=max(refundable(order), zero),
        refunded_amount=refunded_amount(order),
        cancelled_amount=cancelled_amount(order),
        captured_amount=captured,
        request_to_be_forgotten=order.request_to_be_forgotten,
        state=digital_river_state(order),
        fraud_state=order.fraud_state,
        cancellation_reason=order.cancel_reason,
        live_mode=True,
        items=[_item(item, currency) for item in order.line_items],
    )


def _item(item: LineItemSnapshot, currency: str) -> DigitalRiverItem:
    return DigitalRiverItem(
        id=item.id,
        variant_id=item.variant_id,
        product_id=item.product_id,
        sku_id=item.sku,
        name=item.name,
        quantity=item.quantity,
        price=item.price,
        amount=money(item.price * item.quantity, currency),
        taxable=item.taxable,
    )


class DigitalRiverOrderList(Camel):
    data: list[DigitalRiverOrder]
    has_more: bool = Field(description="Whether more orders follow in the direction of travel")


class DigitalRiverItemTax(Camel):
    id: int = Field(description="The line item's id")
    sku_id: str | None
    taxable_amount: Decimal
    tax_amount: Decimal
    tax_rate: Decimal


class DigitalRiverTaxDetails(Camel):
    id: int = Field(description="The order id")
    items: list[DigitalRiverItemTax]


def digital_river_tax_details(order: OrderSnapshot) -> DigitalRiverTaxDetails:
    """The tax of each of the order's line items, in Digital River's shape."""
    skus = {item.id: item.sku for item in order.line_items}
    items = [
        DigitalRiverItemTax(
            id=tax.line_item_id,
            sku_id=skus[tax.line_item_id],
            taxable_amount=tax.taxable_amount,
            tax_amount=tax.tax_amount,
            tax_rate=tax.rate,
        )
        for tax in line_item_taxes(order)
    ]
    return DigitalRiverTaxDetails(id=order.id, items=items)
