"""The order as the platform publishes it: the snapshot every `order.*` event carries.

Field names follow the Haravan (Shopify-style) order resource, the richest of the dialects; the other
dialects translate from this one shape. Money is Decimal (a JSON string on the wire), times are
timezone-aware UTC.
"""

from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.fields import empty

FinancialStatus = Literal["pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided"]
FulfillmentStatus = Literal["partial", "fulfilled", "restocked"]  # None: nothing fulfilled yet
OrderStatus = Literal["open", "closed", "cancelled"]
FraudState = Literal["passed", "review_opened", "blocked"]
TransactionKind = Literal["authorization", "capture", "sale", "void", "refund"]
TransactionStatus = Literal["pending", "success", "failure", "error"]
CancelReason = Literal["customer", "inventory", "fraud", "declined", "other"]
CustomerType = Literal["individual", "business"]
ChargeType = Literal["customer_initiated", "merchant_initiated"]


class Snapshot(BaseModel):
    # Consumers tolerate fields they do not know yet, so producers can add fields without a
    # coordinated deployment; removing or retyping a field is a new event type. A validation error's
    # text never quotes the input (an order's email, a holder's name): it lands in logs and DLQ headers.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class NameValue(Snapshot):
    name: str
    value: str


class TaxLine(Snapshot):
    title: str
    price: Decimal
    rate: Decimal


class LineItemSnapshot(Snapshot):
    id: int
    variant_id: int | None = None
    product_id: int | None = None
    sku: str | None = None
    title: str
    variant_title: str | None = None
    name: str
    vendor: str | None = None
    price: Decimal
    quantity: int
    grams: int = 0
    properties: list[NameValue] = empty()
    taxable: bool = True
    requires_shipping: bool = True
    gift_card: bool = False
    fulfillment_service: str = "manual"
    fulfillment_status: FulfillmentStatus | None = None
    fulfillable_quantity: int
    total_discount: Decimal = Decimal("0")
    tax_lines: list[TaxLine] = empty()
    cancelled_quantity: int = 0
    refunded_quantity: int = 0
    returned_quantity: int = 0  # units a warehouse received back (`return.received`)
    active_request: bool = False  # a guest cancellation request waits on this item


class ShippingLine(Snapshot):
    code: str | None = None
    title: str
    price: Decimal
    source: str | None = None
    tax_lines: list[TaxLine] = empty()


class DiscountCode(Snapshot):
    code: str
    amount: Decimal
    type: Literal["fixed_amount", "percentage", "shipping"] = "fixed_amount"


class Address(Snapshot):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


class CustomerSnapshot(Snapshot):
    id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool = False
    orders_count: int = 0
    total_spent: Decimal = Decimal("0")
    last_order_id: int | None = None
    last_order_name: str | None = None
    state: str = "disabled"
    note: str | None = None
    tags: str = ""
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ClientDetails(Snapshot):
    browser_ip: str | None = None
    accept_language: str | None = None
    user_agent: str | None = None
    session_hash: str | None = None
    browser_width: int | None = None
    browser_height: int | None = None


class Transaction(Snapshot):
    id: int
    kind: TransactionKind
    status: TransactionStatus
    amount: Decimal
    currency: str
    gateway: str | None = None
    authorization: str | None = None
    created_at: AwareDatetime


class FulfillmentLine(Snapshot):
    id: int  # the line item's id
    quantity: int


class Fulfillment(Snapshot):
    id: int
    status: Literal["success", "cancelled"]
    line_items: list[FulfillmentLine]
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


RestockType = Literal["no_restock", "cancel", "return"]
RefundStatus = Literal["pending", "success", "failure"]
# How a refund pays back: to the original payment, by bank transfer (an IBAN the guest gave), or as
# loyalty money on the customer's balance.
RefundMethod = Literal["original", "bank_transfer", "loyalty_money"]


class RefundLine(Snapshot):
    line_item_id: int
    quantity: int
    subtotal: Decimal
    total_discount: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    restock_type: RestockType = "no_restock"


class Refund(Snapshot):
    """Money going back: created `pending` by order_api with what it refunds, settled by the payment
    service's answer (each attempt a transaction)."""

    id: int
    note: str | None = None
    restock: bool = False
    notify: bool = False  # tell the customer when it settles
    status: RefundStatus = "success"
    method: RefundMethod = "original"
    amount: Decimal
    refund_line_items: list[RefundLine] = empty()
    shipping: Decimal = Decimal("0")  # the part of `amount` that refunds shipping
    cancellation_request_id: int | None = None  # the guest request it pays back
    transactions: list[Transaction] = empty()
    created_at: AwareDatetime


class Metafield(Snapshot):
    namespace: str
    key: str
    value: str
    value_type: Literal["string", "integer", "json_string"] = "string"


class CheckoutFields(Snapshot):
    """What the checkout that placed an order says about it (Digital River's fields), kept and shown as
    given: the order's draft and the order itself carry them alike, and no rule decides on them."""

    upstream_id: str | None = None
    checkout_id: str | None = None
    application_id: str | None = None
    locale: str | None = None
    customer_type: CustomerType | None = None
    charge_type: ChargeType | None = None
    subscription_id: str | None = None
    source_id: str | None = None  # the payment source a checkout was paid with
    invoice_attribute_id: str | None = None
    metadata: dict[str, str] = empty(dict)

    def checkout_fields(self) -> dict[str, Any]:
        """These fields' values, to pass on to another model that carries them."""
        return {name: getattr(self, name) for name in CheckoutFields.model_fields}


class OrderSnapshot(CheckoutFields):
    """The order after a change, as its owner (order_api) stored it."""

    id: int
    number: int
    order_number: int
    name: str
    token: str
    email: str | None = None
    phone: str | None = None
    currency: str
    line_items: list[LineItemSnapshot]
    shipping_lines: list[ShippingLine] = empty()
    tax_lines: list[TaxLine] = empty()
    discount_codes: list[DiscountCode] = empty()
    note: str | None = None
    note_attributes: list[NameValue] = empty()
    tags: str = ""
    billing_address: Address | None = None
    shipping_address: Address | None = None
    customer: CustomerSnapshot | None = None
    client_details: ClientDetails | None = None
    browser_ip: str | None = None
    buyer_accepts_marketing: bool = False
    transactions: list[Transaction] = empty()
    fulfillments: list[Fulfillment] = empty()
    refunds: list[Refund] = empty()
    metafields: list[Metafield] = empty()
    total_line_items_price: Decimal
    subtotal_price: Decimal
    total_discounts: Decimal
    total_shipping_price: Decimal = Decimal("0")
    total_tax: Decimal
    total_price: Decimal
    total_weight: int
    taxes_included: bool = False
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus | None = None
    fraud_state: FraudState = "passed"
    cancel_reason: CancelReason | None = None
    source_name: str = "api"
    request_to_be_forgotten: bool = False
    anonymized: bool = False
    # When the order last became eligible for anonymization (order_api's rule): None while it is not.
    eligible_since: AwareDatetime | None = None
    guest: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    processed_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None


# The event order_api publishes when it has masked an order (its data: the masked snapshot).
ORDER_ANONYMIZED: Final = "order.anonymized"


class OrderLifecycleData(Snapshot):
    """Data of every `order.*` lifecycle event: the snapshot after the change, and its sequence."""

    order_id: int
    sequence: int
    order: OrderSnapshot
