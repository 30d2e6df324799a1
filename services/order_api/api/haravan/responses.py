"""The Haravan dialect's answers: the order as the document shows it.

These models are the documented shape (OpenAPI), the dialect's own: translation.py fills them from the
snapshot, and a unit test holds the two together. Each splits in two: the order's own fields as the
document names them (`...Fields`), filled from the snapshot, and the document's keys this platform
fills itself (fixed values for what it has nothing behind, and keys it computes).
"""

from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, create_model
from pydantic.fields import FieldInfo

from shared.orders import (
    CancelReason,
    ChargeType,
    CustomerType,
    FinancialStatus,
    FraudState,
    FulfillmentStatus,
    OrderStatus,
    RefundStatus,
    RestockType,
    TransactionKind,
    TransactionStatus,
)

# The document writes rates and coordinates as JSON numbers (and money as strings).
JsonNumber = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class HaravanTaxLine(BaseModel):
    title: str
    price: Decimal
    rate: JsonNumber


class NameValue(BaseModel):
    name: str
    value: str


class AddressLines(BaseModel):
    """An address's text, as requests send it and answers show it."""

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


class HaravanAddress(AddressLines):
    latitude: JsonNumber | None = None
    longitude: JsonNumber | None = None


class LineItemFields(BaseModel):
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
    properties: list[NameValue] = Field(default=[])
    taxable: bool = True
    requires_shipping: bool = True
    gift_card: bool = False
    fulfillment_service: str = "manual"
    fulfillment_status: FulfillmentStatus | None = None
    fulfillable_quantity: int
    total_discount: Decimal = Decimal("0")
    tax_lines: list[HaravanTaxLine] = Field(default=[])


class HaravanLineItem(LineItemFields):
    variant_inventory_management: str | None
    product_exists: bool


class HaravanShippingLine(BaseModel):
    code: str | None = None
    title: str
    price: Decimal
    source: str | None = None
    tax_lines: list[HaravanTaxLine] = Field(default=[])


class DiscountCode(BaseModel):
    code: str
    amount: Decimal
    type: Literal["fixed_amount", "percentage", "shipping"] = "fixed_amount"


class CustomerFields(BaseModel):
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


class HaravanCustomer(CustomerFields):
    multipass_identifier: None = None
    verified_email: bool = False  # this platform verifies no email addresses
    default_address: HaravanAddress | None = None  # customers' addresses are not kept here


class ClientDetails(BaseModel):
    browser_ip: str | None = None
    accept_language: str | None = None
    user_agent: str | None = None
    session_hash: str | None = None
    browser_width: int | None = None
    browser_height: int | None = None


class Transaction(BaseModel):
    id: int
    kind: TransactionKind
    status: TransactionStatus
    amount: Decimal
    currency: str
    gateway: str | None = None
    authorization: str | None = None
    created_at: AwareDatetime


class FulfillmentFields(BaseModel):
    id: int
    status: Literal["success", "cancelled"]
    # The fulfilled line items, each with the quantity this fulfillment shipped.
    line_items: list[HaravanLineItem]
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class HaravanFulfillment(FulfillmentFields):
    order_id: int
    service: str = "manual"
    tracking_numbers: list[str]
    tracking_urls: list[str]
    receipt: dict[str, str] = Field(default={})


class RefundLineFields(BaseModel):
    line_item_id: int
    quantity: int
    restock_type: RestockType = "no_restock"
    subtotal: Decimal = Field(description="The units' price, before discounts")
    total_discount: Decimal = Field(default=Decimal("0"), description="The units' share of the order's discounts")
    total_tax: Decimal = Field(default=Decimal("0"), description="The units' share of the order's tax")


class RefundLine(RefundLineFields):
    line_item: HaravanLineItem


class OrderAdjustment(BaseModel):
    """Money a refund returns that is not the items': shipping (negative, as Shopify shows it)."""

    order_id: int
    refund_id: int
    kind: Literal["shipping_refund"] = "shipping_refund"
    reason: str = "Shipping refund"
    amount: Decimal
    tax_amount: Decimal


class RefundFields(BaseModel):
    id: int
    note: str | None = None
    restock: bool = False
    status: RefundStatus = Field(
        default="success", description="pending until the payment service answers; success or failure then"
    )
    amount: Decimal = Field(description="What the refund pays back: its lines and its shipping")
    created_at: AwareDatetime


class HaravanRefund(RefundFields):
    order_id: int
    user_id: None = None
    refund_line_items: list[RefundLine] = Field(default=[])
    transactions: list[Transaction] = Field(default=[], description="Each attempt to pay the refund back")
    order_adjustments: list[OrderAdjustment] = Field(default=[])


class RefundEnvelope(BaseModel):
    refund: HaravanRefund


class RefundListEnvelope(BaseModel):
    refunds: list[HaravanRefund]


class Metafield(BaseModel):
    namespace: str
    key: str
    value: str
    value_type: Literal["string", "integer", "json_string"] = "string"


class OrderFields(BaseModel):
    id: int
    number: int
    order_number: int
    name: str
    token: str
    email: str  # "" when the order has none, as the document shows
    phone: str | None = None
    currency: str
    line_items: list[HaravanLineItem]
    shipping_lines: list[HaravanShippingLine] = Field(default=[])
    tax_lines: list[HaravanTaxLine] = Field(default=[])
    discount_codes: list[DiscountCode] = Field(default=[])
    note: str | None = None
    note_attributes: list[NameValue] = Field(default=[])
    tags: str = ""
    billing_address: HaravanAddress | None = None
    shipping_address: HaravanAddress | None = None
    customer: HaravanCustomer | None = None
    client_details: ClientDetails | None = None
    browser_ip: str | None = None
    buyer_accepts_marketing: bool = False
    transactions: list[Transaction] = Field(default=[])
    fulfillments: list[HaravanFulfillment] = Field(default=[])
    refunds: list[HaravanRefund] = Field(default=[])
    metafields: list[Metafield] = Field(default=[])
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
    upstream_id: str | None = None
    checkout_id: str | None = None
    application_id: str | None = None
    locale: str | None = None
    customer_type: CustomerType | None = None
    charge_type: ChargeType | None = None
    subscription_id: str | None = None
    source_id: str | None = None
    invoice_attribute_id: str | None = None
    metadata: dict[str, str] = Field(default={})
    request_to_be_forgotten: bool = False
    anonymized: bool = False
    guest: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    processed_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None


class HaravanOrder(OrderFields):
    confirmed: bool = True
    test: bool = False
    gateway: str
    processing_method: str = ""  # this platform records payments, it processes none
    total_price_usd: Decimal | None
    source: str
    cart_token: None = None
    checkout_token: None = None
    device_id: None = None
    landing_site: None = None
    landing_site_ref: None = None
    location_id: None = None
    reference: None = None
    referring_site: None = None
    source_identifier: None = None
    source_url: None = None
    user_id: None = None


class OrderEnvelope(BaseModel):
    order: HaravanOrder


# With `fields`, an order carries only the keys asked for: the schema of a list or get answer marks
# no key as required.
_optional_fields: dict[str, Any] = {
    name: (info.annotation, FieldInfo.merge_field_infos(info, default=None))
    for name, info in HaravanOrder.model_fields.items()
}
HaravanOrderFields = create_model(
    "HaravanOrderFields",
    __doc__="An order in the Haravan shape; with `fields`, only the keys asked for.",
    **_optional_fields,
)


class OrderFieldsEnvelope(BaseModel):
    order: HaravanOrderFields


class OrderListEnvelope(BaseModel):
    orders: list[HaravanOrderFields]


class OrderCount(BaseModel):
    count: int


class Deleted(BaseModel):
    """An empty object, as Shopify answers a delete."""

    model_config = ConfigDict(extra="forbid")


# Every key an order answers with; `fields` names some of them, an update may name only a few.
ORDER_FIELDS: Final = frozenset(HaravanOrder.model_fields)
