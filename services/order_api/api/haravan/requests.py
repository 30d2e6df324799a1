"""What the Haravan dialect's requests may say: a new order, and what an update may change. The
dialect's own models: every object refuses keys it does not know, and text the store cannot hold is
refused up front, naming where it is."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.order_api.api.fields import IpAddress, Money, Rate
from services.order_api.api.haravan.responses import ORDER_FIELDS, AddressLines
from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.limits import MAX_LINE_ITEMS, MAX_METAFIELDS
from shared.fields import BigintId, storable
from shared.orders import FinancialStatus, Metafield, NameValue, OrderDraft, TransactionKind, TransactionStatus
from shared.problems import Problem, invalid_field


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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Body(_In):
    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key, value in data.items():
                _check_storable(value, str(key))
        return data


class NameValueIn(_In):
    name: str = Field(max_length=255)
    value: str = Field(max_length=5000)


class TaxLineIn(_In):
    title: str
    price: Money
    rate: Rate


class ShippingLineIn(_In):
    code: str | None = Field(default=None, max_length=255)
    title: str = Field(max_length=255)
    price: Money
    source: str | None = Field(default=None, max_length=255)
    tax_lines: list[TaxLineIn] = Field(default=[], max_length=50)


class DiscountCodeIn(_In):
    code: str
    amount: Money
    type: Literal["fixed_amount", "percentage", "shipping"] = "fixed_amount"


class AddressIn(AddressLines, _In):
    latitude: Decimal | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


# An existing customer (`id` only) or a new one (no `id`).
class CustomerIn(_In):
    id: BigintId | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool | None = None


class ClientDetailsIn(_In):
    browser_ip: IpAddress | None = None
    accept_language: str | None = None
    user_agent: str | None = None
    session_hash: str | None = None
    browser_width: int | None = Field(default=None, ge=0, le=100_000)
    browser_height: int | None = Field(default=None, ge=0, le=100_000)


class MetafieldIn(_In):
    namespace: str = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=100)
    value: str = Field(max_length=10_000)
    value_type: Literal["string", "integer", "json_string"] = "string"


class TransactionIn(_In):
    kind: TransactionKind
    status: TransactionStatus = "success"
    amount: Money
    gateway: str | None = None
    authorization: str | None = None


class LineItemIn(_In):
    variant_id: BigintId | None = None
    title: str | None = Field(default=None, min_length=1, max_length=255)
    price: Money | None = None
    quantity: int = Field(ge=1, le=10_000)
    sku: str | None = Field(default=None, max_length=255)
    grams: int | None = Field(default=None, ge=0, le=10_000_000)
    vendor: str | None = Field(default=None, max_length=255)
    properties: list[NameValueIn] = Field(default=[], max_length=50)
    taxable: bool | None = None
    requires_shipping: bool | None = None


class OrderCreateIn(_In):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    line_items: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)
    customer: CustomerIn | None = None
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    shipping_lines: list[ShippingLineIn] = Field(default=[], max_length=20)
    tax_lines: list[TaxLineIn] = Field(default=[], max_length=50)
    total_tax: Money | None = None
    discount_codes: list[DiscountCodeIn] = Field(default=[], max_length=20)
    taxes_included: bool = False
    note: str | None = Field(default=None, max_length=5000)
    note_attributes: list[NameValueIn] = Field(default=[], max_length=100)
    tags: str = Field(default="", max_length=2000)
    buyer_accepts_marketing: bool = False
    transactions: list[TransactionIn] = Field(default=[], max_length=50)
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
    metafields: list[MetafieldIn] = Field(default=[], max_length=MAX_METAFIELDS)

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


class OrderCreateBody(_Body):
    order: OrderCreateIn


_IMMUTABLE: Final = "{} cannot change after the order is created (the document: not its items or quantities)"


class OrderUpdateIn(BaseModel):
    """What an order update may set (the document: not its items or quantities). Any other key of the
    order is refused as `immutable_field`, a key the order does not have as `unknown_field`."""

    # Extra keys are let through validation so the route can say which rule they break.
    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra={"additionalProperties": False})

    id: BigintId | None = Field(default=None, description="If given, must be the path's id")
    note: str | None = Field(default=None, max_length=5000)
    note_attributes: list[NameValueIn] | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    buyer_accepts_marketing: bool | None = None
    metafields: list[MetafieldIn] | None = Field(
        default=None,
        max_length=MAX_METAFIELDS,
        description=f"Added or replaced by namespace and key; an order holds at most {MAX_METAFIELDS}",
    )
    tags: str | None = Field(default=None, max_length=2000)
    customer: None = Field(default=None, description="`null` detaches the customer from the order")

    def changes(self, order_id: int) -> OrderChanges:
        extra = sorted(self.model_extra or {})
        for code, names, detail, message in (
            ("immutable_field", [name for name in extra if name in ORDER_FIELDS], _IMMUTABLE, "cannot be changed"),
            ("unknown_field", extra, "an order has no {}", "unknown field"),
        ):
            if names:
                raise Problem(
                    422,
                    code,
                    detail.format(", ".join(names)),
                    errors=[{"field": f"order.{name}", "message": message} for name in names],
                )
        if self.id is not None and self.id != order_id:
            raise invalid_field("order.id", f"is {self.id}, but the path names order {order_id}")
        if not self.model_fields_set - {"id"}:
            raise Problem(
                422,
                "nothing_to_change",
                "The update names no field to change.",
                errors=[{"field": "order", "message": "name a field to change"}],
            )
        # null means "remove" only for the customer; elsewhere it would be ambiguous (clear? keep?).
        for name in sorted(self.model_fields_set - {"id", "customer"}):
            if getattr(self, name) is None:
                raise invalid_field(f"order.{name}", 'cannot be null; send "" or [] to clear it')
        return OrderChanges(
            note=self.note,
            note_attributes=_all(NameValue, self.note_attributes),
            email=self.email,
            buyer_accepts_marketing=self.buyer_accepts_marketing,
            metafields=_all(Metafield, self.metafields),
            tags=self.tags,
            remove_customer="customer" in self.model_fields_set,
        )


class OrderUpdateBody(_Body):
    order: OrderUpdateIn


ContractT = TypeVar("ContractT", bound=BaseModel)


def _all(model: type[ContractT], objects: Sequence[BaseModel] | None) -> list[ContractT] | None:
    """The request's objects as the domain's (same keys), or None when the request named none."""
    return None if objects is None else [model.model_validate(one.model_dump()) for one in objects]
