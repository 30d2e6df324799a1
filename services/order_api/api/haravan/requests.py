"""What the Haravan dialect's requests may say: a new order (an update's rules are in updates.py). The
dialect's own models: every object refuses keys it does not know, and text the store cannot hold is
refused up front, naming where it is."""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.order_api.api.fields import IpAddress, Money, Rate
from services.order_api.api.haravan.responses import AddressLines
from services.order_api.domain.limits import MAX_LINE_ITEMS, MAX_METAFIELDS
from shared.fields import BigintId, empty, storable
from shared.order_facts import OrderDraft
from shared.orders import FinancialStatus, TransactionKind, TransactionStatus
from shared.problems import invalid_field


def _check_storable(value: Any, path: str) -> None:
    """Text the store cannot hold (NUL, lone surrogates) is refused, naming where it is."""
    if isinstance(value, str):
        try:
            storable(value)
        except ValueError as error:
            raise invalid_field(path, str(error)) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(key, path)
            _check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]")


class RequestModel(BaseModel):
    """A request object of this dialect: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestBody(RequestModel):
    """A request's body: text the store cannot hold is refused anywhere in it, naming where."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key, value in data.items():
                _check_storable(value, str(key))
        return data


class NameValueIn(RequestModel):
    name: str = Field(max_length=255)
    value: str = Field(max_length=5000)


class TaxLineIn(RequestModel):
    title: str
    price: Money
    rate: Rate


class ShippingLineIn(RequestModel):
    code: str | None = Field(default=None, max_length=255)
    title: str = Field(max_length=255)
    price: Money
    source: str | None = Field(default=None, max_length=255)
    tax_lines: list[TaxLineIn] = empty(max_length=50)


class DiscountCodeIn(RequestModel):
    code: str
    amount: Money
    type: Literal["fixed_amount", "percentage", "shipping"] = "fixed_amount"


class AddressIn(AddressLines, RequestModel):
    latitude: Decimal | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


# An existing customer (`id` only) or a new one (no `id`).
class CustomerIn(RequestModel):
    id: BigintId | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool | None = None


class ClientDetailsIn(RequestModel):
    browser_ip: IpAddress | None = None
    accept_language: str | None = None
    user_agent: str | None = None
    session_hash: str | None = None
    browser_width: int | None = Field(default=None, ge=0, le=100_000)
    browser_height: int | None = Field(default=None, ge=0, le=100_000)


class MetafieldIn(RequestModel):
    namespace: str = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=100)
    value: str = Field(max_length=10_000)
    value_type: Literal["string", "integer", "json_string"] = "string"


class TransactionIn(RequestModel):
    kind: TransactionKind
    status: TransactionStatus = "success"
    amount: Money
    gateway: str | None = None
    authorization: str | None = None


class LineItemIn(RequestModel):
    variant_id: BigintId | None = None
    title: str | None = Field(default=None, min_length=1, max_length=255)
    price: Money | None = None
    quantity: int = Field(ge=1, le=10_000)
    sku: str | None = Field(default=None, max_length=255)
    grams: int | None = Field(default=None, ge=0, le=10_000_000)
    vendor: str | None = Field(default=None, max_length=255)
    properties: list[NameValueIn] = empty(max_length=50)
    taxable: bool | None = None
    requires_shipping: bool | None = None


class OrderCreateIn(RequestModel):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    line_items: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)
    customer: CustomerIn | None = None
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    shipping_lines: list[ShippingLineIn] = empty(max_length=20)
    tax_lines: list[TaxLineIn] = empty(max_length=50)
    total_tax: Money | None = None
    discount_codes: list[DiscountCodeIn] = empty(max_length=20)
    taxes_included: bool = False
    note: str | None = Field(default=None, max_length=5000)
    note_attributes: list[NameValueIn] = empty(max_length=100)
    tags: str = Field(default="", max_length=2000)
    buyer_accepts_marketing: bool = False
    transactions: list[TransactionIn] = empty(max_length=50)
    financial_status: FinancialStatus | None = None
    fulfillment_status: Literal["fulfilled"] | None = None
    processed_at: datetime | None = Field(
        default=None, description="When the order was placed, for imports; now when absent"
    )
    send_receipt: bool = False  # accepted as the document shows; this platform sends no email
    send_fulfillment_receipt: bool = False
    source_name: str = Field(default="api", max_length=100)
    browser_ip: IpAddress | None = None
    client_details: ClientDetailsIn | None = None
    metafields: list[MetafieldIn] = empty(max_length=MAX_METAFIELDS)

    def draft(self) -> OrderDraft:
        fields: dict[str, Any] = self.model_dump(
            exclude={"send_receipt", "send_fulfillment_receipt"}, exclude_unset=True
        )
        # Haravan's default: an order created without transactions or a status is taken as paid.
        if self.financial_status is None and not self.transactions:
            fields["financial_status"] = "paid"
        if self.processed_at is not None:
            if self.processed_at.tzinfo is None:
                raise invalid_field("order.processed_at", "give the UTC offset, e.g. 2008-01-10T11:00:00-05:00")
            try:
                fields["processed_at"] = self.processed_at.astimezone(UTC)
            except OverflowError:
                raise invalid_field("order.processed_at", "is outside the years 1 to 9999 in UTC") from None
        return OrderDraft.model_validate(fields)


class OrderCreateBody(RequestBody):
    order: OrderCreateIn
