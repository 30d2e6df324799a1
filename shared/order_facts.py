"""Commands and facts other services publish on orders.ingest for order_api to apply: the order to
place, payments, fulfilments, catalog variants, customer accounts, anonymization requests.

Money is Decimal (a JSON string on the wire), like the snapshot in `shared.orders` whose parts they reuse.
"""

import uuid
from decimal import Decimal
from typing import Final, Literal

from pydantic import AwareDatetime

from shared.fields import empty
from shared.orders import (
    Address,
    CheckoutFields,
    ClientDetails,
    DiscountCode,
    FinancialStatus,
    Metafield,
    NameValue,
    ShippingLine,
    Snapshot,
    TaxLine,
    TransactionKind,
    TransactionStatus,
)


class LineItemDraft(Snapshot):
    """A line item to order: a catalog variant (its fields filled from the catalog), or a custom
    item with its own title and price."""

    variant_id: int | None = None
    title: str | None = None
    price: Decimal | None = None
    quantity: int
    sku: str | None = None
    grams: int | None = None
    vendor: str | None = None
    properties: list[NameValue] = empty()
    taxable: bool | None = None
    requires_shipping: bool | None = None


class CustomerDraft(Snapshot):
    """An existing customer (`id` only) or a new one (no `id`)."""

    id: int | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool | None = None


class TransactionDraft(Snapshot):
    kind: TransactionKind
    status: TransactionStatus = "success"
    amount: Decimal
    gateway: str | None = None
    authorization: str | None = None


class OrderDraft(CheckoutFields):
    """What it takes to place an order, in any dialect: `order.placed` carries one."""

    email: str | None = None
    phone: str | None = None
    currency: str | None = None  # the catalog's (the shop's) currency when absent
    line_items: list[LineItemDraft]
    customer: CustomerDraft | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping_lines: list[ShippingLine] = empty()
    tax_lines: list[TaxLine] = empty()
    total_tax: Decimal | None = None  # when given, must equal what the tax lines add up to
    discount_codes: list[DiscountCode] = empty()
    taxes_included: bool = False
    note: str | None = None
    note_attributes: list[NameValue] = empty()
    tags: str = ""
    buyer_accepts_marketing: bool = False
    transactions: list[TransactionDraft] = empty()
    financial_status: FinancialStatus | None = None
    fulfillment_status: Literal["fulfilled"] | None = None
    processed_at: AwareDatetime | None = None
    source_name: str = "api"
    browser_ip: str | None = None
    client_details: ClientDetails | None = None
    metafields: list[Metafield] = empty()
    request_to_be_forgotten: bool = False  # anonymized as soon as it is eligible (at once if created so)

    def customer_from_email(self) -> CustomerDraft:
        """The customer an order with only an email implies (found by that email, or recorded)."""
        return CustomerDraft(email=self.email, phone=self.phone)


class PaymentFact(Snapshot):
    """`payment.authorized`, `payment.captured`, `payment.voided`, `payment.refunded`,
    `payment.refund_failed` from the payment service. An answer to the cancellation worker's command
    names the ledger entry it settles (the command's idempotency key) and, for a refund, the order's
    refund."""

    order_id: int
    amount: Decimal
    currency: str
    gateway: str | None = None
    authorization: str | None = None
    refund_id: int | None = None
    ledger_entry_id: uuid.UUID | None = None
    error: str | None = None


class FulfillmentLineFact(Snapshot):
    line_item_id: int
    quantity: int


class FulfillmentCreatedFact(Snapshot):
    """`fulfillment.created`: items shipped; no line items means everything still unfulfilled."""

    order_id: int
    fulfillment_id: int
    line_items: list[FulfillmentLineFact] = empty()
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None


class FulfillmentCancelledFact(Snapshot):
    order_id: int
    fulfillment_id: int


class VariantFact(Snapshot):
    """`catalog.variant.upserted`: a product variant as the catalog service knows it."""

    id: int
    product_id: int
    title: str
    variant_title: str | None = None
    sku: str | None = None
    vendor: str | None = None
    price: Decimal
    currency: str
    grams: int = 0
    requires_shipping: bool = True
    taxable: bool = True


class CustomerFact(Snapshot):
    """`customer.upserted`: a customer account as the customer service knows it."""

    id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool = False
    note: str | None = None
    tags: str = ""


class OrderPlacedData(Snapshot):
    """`order.placed` on orders.ingest: another service (checkout) places an order."""

    order: OrderDraft


ANONYMIZE_REQUESTED: Final = "order.anonymize_requested"


class AnonymizeRequestedFact(Snapshot):
    """`order.anonymize_requested` on orders.ingest (key: the order id): the anonymizer asks order_api to
    anonymize the order now if it is eligible, else as soon as it becomes so."""

    order_id: int
    request_id: uuid.UUID | None = None  # the anonymizer's erasure request, for its record
