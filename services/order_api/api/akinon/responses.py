"""The order in the Akinon document's field names, translated from the snapshot in one place."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from services.order_api.domain.guest_requests import cancellable_units
from services.order_api.domain.money import money, total
from services.order_api.domain.payments import refunded_amount
from shared.cancellations import CancellationType
from shared.orders import OrderSnapshot
from shared.refund_math import refundable


class AkinonOrder(BaseModel):
    """An order in the Akinon document's field names."""

    pk: int
    number: str
    amount: Decimal
    discount_amount: Decimal
    amount_without_discount: Decimal
    shipping_amount: Decimal
    shipping_tax_rate: Decimal | None
    refund_amount: Decimal
    discount_refund_amount: Decimal
    shipping_refund_amount: Decimal
    is_cancelled: bool
    is_cancellable: bool
    is_refundable: bool
    is_payable: bool
    tracking_url: str | None
    tracking_number: str | None
    invoice_number: str | None
    invoice_date: str | None
    e_archive_url: str | None
    order_type: Literal["regular", "addon", "replacement"] | None
    user_email: str | None
    has_gift_box: bool | None
    gift_box_note: str | None
    notes: str | None
    installment_count: int
    installment_interest_amount: Decimal
    bin_number: str | None
    created_date: datetime
    modified_date: datetime
    shipping_company: str | None
    bank: dict[str, Any] | None
    extra_field: dict[str, str] | None


def _may_ask(order: OrderSnapshot, cancellation_type: CancellationType) -> bool:
    """Whether a guest could ask to cancel (or send back) some unit of the order now."""
    return order.status != "cancelled" and any(
        not item.active_request and cancellable_units(order, item, cancellation_type) > 0 for item in order.line_items
    )


def akinon_order(order: OrderSnapshot) -> AkinonOrder:
    """The one translation from the snapshot to Akinon's fields."""
    zero = money(Decimal(0), order.currency)
    settled = [refund for refund in order.refunds if refund.status == "success"]
    shipped = [fulfillment for fulfillment in order.fulfillments if fulfillment.status == "success"]
    last_shipment = shipped[-1] if shipped else None
    shipping_taxes = [tax for line in order.shipping_lines for tax in line.tax_lines]
    open_order = order.status == "open"
    return AkinonOrder(
        pk=order.id,
        number=str(order.order_number),
        amount=order.total_price,
        discount_amount=order.total_discounts,
        amount_without_discount=money(order.total_price + order.total_discounts, order.currency),
        shipping_amount=order.total_shipping_price,
        shipping_tax_rate=shipping_taxes[0].rate if shipping_taxes else None,
        refund_amount=refunded_amount(order),
        discount_refund_amount=total(
            (line.total_discount for refund in settled for line in refund.refund_line_items), order.currency
        ),
        shipping_refund_amount=total((refund.shipping for refund in settled), order.currency),
        is_cancelled=order.status == "cancelled",
        is_cancellable=_may_ask(order, "cancel"),
        is_refundable=refundable(order) > 0 and _may_ask(order, "refund"),
        is_payable=open_order and order.financial_status in ("pending", "partially_paid"),
        tracking_url=last_shipment.tracking_url if last_shipment else None,
        tracking_number=last_shipment.tracking_number if last_shipment else None,
        invoice_number=None,
        invoice_date=None,
        e_archive_url=None,
        order_type="regular",
        user_email=order.email,
        has_gift_box=None,
        gift_box_note=None,
        notes=order.note,
        installment_count=1,
        installment_interest_amount=zero,
        bin_number=None,
        created_date=order.created_at,
        modified_date=order.updated_at,
        shipping_company=last_shipment.tracking_company if last_shipment else None,
        bank=None,
        extra_field={attribute.name: attribute.value for attribute in order.note_attributes} or None,
    )
