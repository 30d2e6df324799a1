"""The Akinon dialect: a guest's own order by number and email, `POST /users/orders/anonymous/`.

Public (no API key): the order number and the exact email the order was placed with are the proof.
Only guest orders (placed without a customer account) are found. Everything else — a registered
customer's order, a wrong email, a wrong, malformed or missing number — gets the one same answer
(status, body, headers), after the same work (one rate-limit count, one indexed lookup matching
number, email and guest together, no document read), so neither the answer nor its time tells which
it was. Attempts are limited per client IP and per order number from that client
(`ORDER_API_GUEST_LOOKUPS_PER_IP` / `_PER_NUMBER_AND_CLIENT` per `_GUEST_LOOKUP_WINDOW_SECONDS`),
across instances: one client's guesses at a number do not lock anyone else out of it. Behind a proxy,
set uvicorn's `FORWARDED_ALLOW_IPS` to the proxies' addresses, and only theirs, so the client's address
is the one counted (a client trusted there can name any address and so escape the limits).

Choices where the document is silent:
- `number` is the order number (`1001`; Haravan's `#1001` is accepted too).
- Not found is 404 with a problem document (`code` `order_not_found`): the document defines no error
  body for this route (its only error code, `cancellation_request_100_1`, is the cancellations'),
  so the platform's problem shape is kept; a malformed email or body is the usual 422.
- Fields this platform has nothing behind are null (`invoice_*`, `e_archive_url`, `bin_number`,
  `bank`, `has_gift_box`, `gift_box_note`); payments are not split into installments here, so
  `installment_count` is 1 and `installment_interest_amount` 0; refunds here are of line items, so
  `discount_refund_amount` and `shipping_refund_amount` are 0.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.order_api.api.http import Guards, Orders, OrderSettings, problem_responses
from services.order_api.domain.money import money
from shared.orders import OrderSnapshot
from shared.problems import Problem

router = APIRouter(prefix="/users/orders/anonymous", tags=["Akinon guest orders"])

# Order numbers are positive bigints; anything else can match no order.
_MAX_NUMBER: Final = 2**63 - 1
_NO_ORDER: Final = 0


class GuestLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=64, description="The order number, e.g. `1001`")
    email: Annotated[
        str,
        Field(
            min_length=3,
            max_length=254,
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="The email the order was placed with; must match exactly",
        ),
    ]


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


def akinon_order(order: OrderSnapshot) -> AkinonOrder:
    """The one translation from the snapshot to Akinon's fields."""
    zero = money(Decimal(0), order.currency)
    refunded = money(sum((refund.amount for refund in order.refunds), Decimal(0)), order.currency)
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
        refund_amount=refunded,
        discount_refund_amount=zero,
        shipping_refund_amount=zero,
        is_cancelled=order.status == "cancelled",
        is_cancellable=open_order and order.fulfillment_status is None,
        is_refundable=order.financial_status in ("paid", "partially_paid", "partially_refunded"),
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


def _order_number(number: str) -> int:
    """The order number `number` names, or one no order has when it names none."""
    digits = number.strip().removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > _MAX_NUMBER:
        return _NO_ORDER
    return int(digits)


_NOT_FOUND: Final = (
    404,
    "order_not_found",
    "No guest order has this number and email. Check both; orders of registered customers are not found here.",
)

_GUEST_LOOKUP_RESPONSES: Final = problem_responses(404, 422, 429)


@router.post("/", response_model=list[AkinonOrder], responses=_GUEST_LOOKUP_RESPONSES)
async def find_guest_order(
    lookup: GuestLookup, request: Request, orders: Orders, guards: Guards, settings: OrderSettings
) -> list[AkinonOrder]:
    """A guest order by its number and email: a one-item array, or 404 whatever was wrong."""
    number = _order_number(lookup.number)
    client = request.client.host if request.client else "unknown"
    await guards.limit_rate(
        [
            (f"guest-lookup:ip:{client}", settings.guest_lookups_per_ip),
            (
                f"guest-lookup:number:{number or lookup.number.strip()}:ip:{client}",
                settings.guest_lookups_per_number_and_client,
            ),
        ],
        settings.guest_lookup_window_seconds,
    )
    order = await orders.find_guest_order(number, lookup.email)
    if order is None:
        raise Problem(*_NOT_FOUND)
    return [akinon_order(order)]
