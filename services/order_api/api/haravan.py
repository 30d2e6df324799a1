"""The Haravan (Shopify-style) dialect: `/com/orders...json`.

Choices where the document is silent, so clients can rely on them:
- Lists are newest first (id descending) and paged with `page` (offset); with `since_id` they run
  oldest first from that id, which is the cheap way to walk every order.
- Times without a UTC offset (the documented `2008-12-31 03:00` form) are taken as UTC.
- `DELETE` answers 200 with `{}`, as Shopify does.
- Keys the document shows that this platform has nothing behind are answered honestly: `cart_token`,
  `checkout_token`, `landing_site`, `referring_site` ... are null, `total_price_usd` is the total only
  for USD orders (no exchange rates here), `gateway` is the first transaction's, `processing_method`
  is "" (this platform records payments, it processes none).
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_json

from services.order_api.api.fields import IpAddress, Money, Rate
from services.order_api.api.http import IfMatch, Orders, problem_responses, set_etag
from services.order_api.api.security import READS, WRITES, MayRead
from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError
from services.order_api.domain.limits import MAX_LINE_ITEMS, MAX_METAFIELDS
from services.order_api.domain.queries import OrderQuery
from services.order_api.domain.stored import StoredOrder
from shared.orders import (
    Address,
    ClientDetails,
    CustomerDraft,
    CustomerSnapshot,
    DiscountCode,
    FinancialStatus,
    Fulfillment,
    LineItemSnapshot,
    Metafield,
    NameValue,
    OrderDraft,
    OrderSnapshot,
    Refund,
    ShippingLine,
    TaxLine,
    TransactionDraft,
)
from shared.problems import Problem

router = APIRouter(prefix="/com", tags=["Haravan orders"])

MAX_ID: Final = 2**63 - 1
OrderId = Annotated[int, Path(ge=1, le=MAX_ID, description="The order id")]

# The document writes rates and coordinates as JSON numbers (and money as strings).
JsonNumber = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


# ---- responses: the order as the document shows it, translated from the snapshot in one place ----
# These models are the documented shape (OpenAPI); haravan_order() below builds it, and a unit test
# holds the two together. Nested lists are narrowed to the Haravan shapes; the models are frozen, so
# narrowing is safe even though mypy, not knowing that, sees an incompatible override.


class HaravanTaxLine(TaxLine):
    rate: JsonNumber


class HaravanAddress(Address):
    latitude: JsonNumber | None = None
    longitude: JsonNumber | None = None


class HaravanLineItem(LineItemSnapshot):
    tax_lines: list[HaravanTaxLine] = Field(default=[])  # type: ignore[assignment]
    variant_inventory_management: str | None
    product_exists: bool


class HaravanShippingLine(ShippingLine):
    tax_lines: list[HaravanTaxLine] = Field(default=[])  # type: ignore[assignment]


class HaravanFulfillment(Fulfillment):
    order_id: int
    service: str = "manual"
    # The fulfilled line items, each with the quantity this fulfillment shipped.
    line_items: list[HaravanLineItem]  # type: ignore[assignment]
    tracking_numbers: list[str]
    tracking_urls: list[str]
    receipt: dict[str, str] = Field(default={})


class HaravanCustomer(CustomerSnapshot):
    multipass_identifier: None = None
    verified_email: bool = False  # this platform verifies no email addresses
    default_address: HaravanAddress | None = None  # customers' addresses are not kept here


class HaravanRefund(Refund):
    order_id: int
    user_id: None = None


class HaravanOrder(OrderSnapshot):
    email: str  # "" when the order has none, as the document shows
    line_items: list[HaravanLineItem]  # type: ignore[assignment]
    shipping_lines: list[HaravanShippingLine] = Field(default=[])  # type: ignore[assignment]
    tax_lines: list[HaravanTaxLine] = Field(default=[])  # type: ignore[assignment]
    billing_address: HaravanAddress | None = None
    shipping_address: HaravanAddress | None = None
    customer: HaravanCustomer | None = None
    fulfillments: list[HaravanFulfillment] = Field(default=[])  # type: ignore[assignment]
    refunds: list[HaravanRefund] = Field(default=[])  # type: ignore[assignment]
    confirmed: bool = True
    test: bool = False
    gateway: str
    processing_method: str = ""
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


def _constants(model: type[BaseModel], base: type[BaseModel]) -> dict[str, Any]:
    """The keys `model` adds to `base` with a fixed value: every answer carries them as they are."""
    return {
        name: info.default
        for name, info in model.model_fields.items()
        if name not in base.model_fields and info.default is not PydanticUndefined
    }


_ORDER_CONSTANTS: Final = _constants(HaravanOrder, OrderSnapshot)
_CUSTOMER_CONSTANTS: Final = _constants(HaravanCustomer, CustomerSnapshot)
_FULFILLMENT_CONSTANTS: Final = _constants(HaravanFulfillment, Fulfillment)
_REFUND_CONSTANTS: Final = _constants(HaravanRefund, Refund)


def _rates(tax_lines: list[dict[str, Any]]) -> None:
    for tax in tax_lines:
        tax["rate"] = float(tax["rate"])


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    name = address["name"] or " ".join(part for part in (address["first_name"], address["last_name"]) if part)
    return {
        **address,
        "name": name or None,
        **{key: float(address[key]) for key in ("latitude", "longitude") if address[key] is not None},
    }


def haravan_order(order: OrderSnapshot) -> dict[str, Any]:
    """The order in the Haravan document's shape (the HaravanOrder model), as JSON data. Built from the
    snapshot's own JSON: validating a second model per order would double what a list page costs."""
    data = order.model_dump(mode="json")
    _rates(data["tax_lines"])
    for line in data["shipping_lines"]:
        _rates(line["tax_lines"])
    for item in data["line_items"]:
        _rates(item["tax_lines"])
        item["variant_inventory_management"] = "haravan" if item["variant_id"] is not None else None
        item["product_exists"] = item["product_id"] is not None
    items = {item["id"]: item for item in data["line_items"]}
    if data["customer"] is not None:
        data["customer"] = {**data["customer"], **_CUSTOMER_CONSTANTS}
    data["fulfillments"] = [
        {
            **fulfillment,
            **_FULFILLMENT_CONSTANTS,
            "order_id": order.id,
            # The fulfilled line items, each with the quantity this fulfillment shipped.
            "line_items": [{**items[line["id"]], "quantity": line["quantity"]} for line in fulfillment["line_items"]],
            "tracking_numbers": [fulfillment["tracking_number"]] if fulfillment["tracking_number"] else [],
            "tracking_urls": [fulfillment["tracking_url"]] if fulfillment["tracking_url"] else [],
        }
        for fulfillment in data["fulfillments"]
    ]
    data["refunds"] = [{**refund, **_REFUND_CONSTANTS, "order_id": order.id} for refund in data["refunds"]]
    data.update(
        _ORDER_CONSTANTS,
        email=order.email or "",
        billing_address=_address(data["billing_address"]),
        shipping_address=_address(data["shipping_address"]),
        gateway=next((tx.gateway for tx in order.transactions if tx.gateway), ""),
        total_price_usd=data["total_price"] if order.currency == "USD" else None,
        source=order.source_name,
    )
    return data


class OrderEnvelope(BaseModel):
    order: HaravanOrder


ORDER_FIELDS: Final = frozenset(HaravanOrder.model_fields)

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


def _json(body: Any, status_code: int = 200) -> Response:
    # Serialised once, from the translated data (FastAPI would validate it against the model again).
    return Response(to_json(body), status_code=status_code, media_type="application/json")


def _only(order: dict[str, Any], names: set[str] | None) -> dict[str, Any]:
    return order if names is None else {name: order[name] for name in names}


# ---- query parameters -----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "validation_error", f"{field}: {message}", errors=[{"field": field, "message": message}])


_TIME = re.compile(
    r"""^(?P<date>\d{4}-\d{2}-\d{2})
        (?:[T\ ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?
        (?:\ ?(?P<zone>[A-Za-z]{1,5}))?
        (?:\ ?(?P<offset>Z|[+\-\ ]\d{2}:?\d{2}))?$""",
    re.VERBOSE | re.ASCII,
)
_UTC_NAMES: Final = frozenset({"Z", "UTC", "GMT"})


def parse_time(field: str, value: str) -> datetime:
    """A filter time: ISO 8601 with or without an offset, `2008-12-31 03:00`, or the document's
    `2005-07-31 15:57:11 EDT -04:00` (the offset counts, the zone name is decoration). Without an
    offset the time is UTC. A `+` that arrived as a space (unencoded in the URL) is read as `+`."""
    match = _TIME.match(value.strip())
    if match is None:
        raise _invalid(field, f"{value!r} is not a time such as 2008-12-31 03:00 or 2008-12-31T03:00:00-04:00")
    zone, offset = match["zone"], match["offset"]
    if zone is not None and offset is None and zone.upper() not in _UTC_NAMES:
        raise _invalid(field, f"give the UTC offset with the zone name, e.g. '{zone} -04:00'")
    if offset is None or offset == "Z":
        offset = "+00:00"
    elif offset[0] == " ":
        offset = "+" + offset[1:]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time'] or '00:00'}{offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise _invalid(field, f"{value!r} is not a valid time ({error})") from None


def _time(field: str, value: str | None) -> datetime | None:
    return None if value is None else parse_time(field, value)


def _ids(value: str) -> list[int]:
    parts = [part.strip() for part in value.split(",")]
    if not all(part.isascii() and part.isdigit() and len(part) <= 19 and 0 < int(part) <= MAX_ID for part in parts):
        raise _invalid("ids", "must be order ids (positive integers) separated by commas")
    if len(parts) > 250:
        raise _invalid("ids", "at most 250 ids at a time")
    return [int(part) for part in parts]


def _fields(value: str | None) -> set[str] | None:
    """`fields` as key names; the document's example writes `total-price`, so dashes count as underscores."""
    if value is None:
        return None
    names = {name.strip().replace("-", "_") for name in value.split(",") if name.strip()}
    unknown = sorted(names - ORDER_FIELDS)
    if unknown or not names:
        raise _invalid(
            "fields", f"unknown field(s) {', '.join(unknown) or '(none given)'}; use order keys such as id,name"
        )
    return names


FinancialFilter = Literal[
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "partiallyrefunded",
    "refunded",
    "voided",
    "any",
]
FulfillmentFilter = Literal["null", "not_fulfilled", "unshipped", "partial", "fulfilled", "shipped", "restocked", "any"]
_FULFILLMENT: Final[Mapping[str, list[str | None]]] = {
    "null": [None],
    "not_fulfilled": [None],
    "unshipped": [None],
    "partial": ["partial"],
    "fulfilled": ["fulfilled"],
    "shipped": ["fulfilled"],
    "restocked": ["restocked"],
}

# The query patterns are documented, not enforced by FastAPI, so a bad value gets the clearer message
# of the parsers above.
_TIME_PATTERN: Final = {
    "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
    r" ?([A-Za-z]{1,5})? ?(Z|[+\- ][0-9]{2}:?[0-9]{2})?\s*$"
}
_FIELD_NAME: Final = "(" + "|".join(sorted(name.replace("_", "[_-]") for name in ORDER_FIELDS)) + ")"
_FIELDS_PATTERN: Final = rf"^\s*{_FIELD_NAME}(\s*,\s*{_FIELD_NAME})*\s*,?\s*$"
_TIME_DOC: Final = (
    " (ISO 8601, e.g. 2008-12-31T03:00:00-04:00, or the document's `2008-12-31 03:00`, which is taken "
    "as UTC, or `2005-07-31 15:57:11 EDT -04:00`)"
)


def _time_query(description: str) -> Any:
    return Query(None, max_length=64, description=description + _TIME_DOC, json_schema_extra=_TIME_PATTERN)


async def order_filters(
    *,
    status: Annotated[
        Literal["open", "closed", "cancelled", "any"], Query(description="open (the default), closed, cancelled or any")
    ] = "open",
    ids: Annotated[
        str | None,
        Query(
            max_length=5000,
            description="Comma-separated order ids, at most 250",
            examples=["1073459968"],
            json_schema_extra={"pattern": r"^\s*[1-9][0-9]{0,17}(\s*,\s*[1-9][0-9]{0,17})*\s*$"},
        ),
    ] = None,
    created_at_min: str | None = _time_query("Orders created at or after"),
    created_at_max: str | None = _time_query("Orders created at or before"),
    updated_at_min: str | None = _time_query("Orders last updated at or after"),
    updated_at_max: str | None = _time_query("Orders last updated at or before"),
    processed_at_min: str | None = _time_query("Orders processed (imported) at or after"),
    processed_at_max: str | None = _time_query("Orders processed (imported) at or before"),
    financial_status: Annotated[
        FinancialFilter, Query(description="The payment status; `partiallyrefunded` is `partially_refunded`")
    ] = "any",
    fulfillment_status: Annotated[
        FulfillmentFilter,
        Query(description="`null`/`not_fulfilled`/`unshipped`: nothing fulfilled; `shipped` is `fulfilled`"),
    ] = "any",
) -> OrderQuery:
    financial = "partially_refunded" if financial_status == "partiallyrefunded" else financial_status
    return OrderQuery(
        ids=_ids(ids) if ids is not None else None,
        statuses=None if status == "any" else [status],
        financial_statuses=None if financial == "any" else [financial],
        fulfillment_statuses=_FULFILLMENT.get(fulfillment_status),
        created_at_min=_time("created_at_min", created_at_min),
        created_at_max=_time("created_at_max", created_at_max),
        updated_at_min=_time("updated_at_min", updated_at_min),
        updated_at_max=_time("updated_at_max", updated_at_max),
        processed_at_min=_time("processed_at_min", processed_at_min),
        processed_at_max=_time("processed_at_max", processed_at_max),
    )


Filters = Annotated[OrderQuery, Depends(order_filters)]
FieldsParam = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="Comma-separated keys to include, e.g. `id,name,total_price` (`total-price` works too)",
        json_schema_extra={"pattern": _FIELDS_PATTERN},
    ),
]


# ---- requests -------------------------------------------------------------------------------------


def _check_storable(value: Any, path: str) -> None:
    """Text the store cannot hold (NUL, lone surrogates) is refused up front, naming where it is."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise _invalid(path, "contains a character that cannot be stored (NUL or a lone surrogate)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(key, path)
            _check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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


# Nested request objects refuse unknown keys too (the shared snapshot types ignore them).
class NameValueIn(NameValue, _In):
    name: str = Field(max_length=255)
    value: str = Field(max_length=5000)


class TaxLineIn(TaxLine, _In):
    price: Money
    rate: Rate


class ShippingLineIn(_In):
    code: str | None = Field(default=None, max_length=255)
    title: str = Field(max_length=255)
    price: Money
    source: str | None = Field(default=None, max_length=255)
    tax_lines: list[TaxLineIn] = Field(default=[], max_length=50)


class DiscountCodeIn(DiscountCode, _In):
    amount: Money


class AddressIn(Address, _In):
    latitude: Decimal | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class CustomerIn(CustomerDraft, _In):
    id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ClientDetailsIn(ClientDetails, _In):
    browser_ip: IpAddress | None = None
    browser_width: int | None = Field(default=None, ge=0, le=100_000)
    browser_height: int | None = Field(default=None, ge=0, le=100_000)


class MetafieldIn(Metafield, _In):
    namespace: str = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=100)
    value: str = Field(max_length=10_000)


class TransactionIn(TransactionDraft, _In):
    amount: Money


class LineItemIn(_In):
    variant_id: int | None = Field(default=None, ge=1, le=MAX_ID)
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
                raise _invalid("order.processed_at", "give the UTC offset, e.g. 2008-01-10T11:00:00-05:00")
            try:
                fields["processed_at"] = self.processed_at.astimezone(UTC)
            except OverflowError:
                raise _invalid("order.processed_at", "is outside the years 1 to 9999 in UTC") from None
        return OrderDraft.model_validate(fields)


class OrderCreateBody(_Body):
    order: OrderCreateIn


_IMMUTABLE: Final = "{} cannot change after the order is created (the document: not its items or quantities)"


class OrderUpdateIn(BaseModel):
    """What an order update may set (the document: not its items or quantities). Any other key of the
    order is refused as `immutable_field`, a key the order does not have as `unknown_field`."""

    # Extra keys are let through validation so the route can say which rule they break.
    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra={"additionalProperties": False})

    id: int | None = Field(default=None, ge=1, le=MAX_ID, description="If given, must be the path's id")
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
            raise _invalid("order.id", f"is {self.id}, but the path names order {order_id}")
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
                raise _invalid(f"order.{name}", 'cannot be null; send "" or [] to clear it')
        return OrderChanges(
            note=self.note,
            note_attributes=list(self.note_attributes) if self.note_attributes is not None else None,
            email=self.email,
            buyer_accepts_marketing=self.buyer_accepts_marketing,
            metafields=list(self.metafields) if self.metafields is not None else None,
            tags=self.tags,
            remove_customer="customer" in self.model_fields_set,
        )


class OrderUpdateBody(_Body):
    order: OrderUpdateIn


# The document's request examples, shown in /docs.
_IPOD: Final = {"variant_id": 447654529, "quantity": 1}
CREATE_EXAMPLES: Final[dict[str, Any]] = {
    "variant_only": {
        "summary": "A simple order with only a product variant id",
        "value": {"order": {"line_items": [_IPOD]}},
    },
    "fulfilled": {
        "summary": "A simple fulfilled order (receipts are accepted; this platform sends no email)",
        "value": {"order": {"email": "foo@example.com", "fulfillment_status": "fulfilled", "line_items": [_IPOD]}},
    },
    "comprehensive": {
        "summary": "A more comprehensive order",
        "value": {
            "order": {
                "line_items": [{"title": "Big Brown Bear Boots", "price": 74.99, "grams": "1300", "quantity": 3}],
                "tax_lines": [{"price": 13.5, "rate": 0.06, "title": "State tax"}],
                "transactions": [{"kind": "sale", "status": "success", "amount": 238.47}],
                "total_tax": 13.5,
                "currency": "EUR",
            }
        },
    },
    "existing_customer": {
        "summary": "A pending order with an existing customer",
        "value": {"order": {"line_items": [_IPOD], "customer": {"id": 207119551}, "financial_status": "pending"}},
    },
    "new_customer": {
        "summary": "A partially paid order with a new customer",
        "value": {
            "order": {
                "line_items": [_IPOD],
                "customer": {"first_name": "Paul", "last_name": "Norman", "email": "paul.norman@example.com"},
                "email": "jane@example.com",
                "transactions": [{"kind": "authorization", "status": "success", "amount": 50.0}],
                "financial_status": "partially_paid",
            }
        },
    },
}
UPDATE_EXAMPLES: Final[dict[str, Any]] = {
    "note": {"summary": "Add a note", "value": {"order": {"note": "Customer contacted us about a custom engraving"}}},
    "note_attributes": {
        "summary": "Set note attributes",
        "value": {"order": {"note_attributes": [{"name": "colour", "value": "red"}]}},
    },
    "email": {"summary": "Change the email", "value": {"order": {"email": "a-different@email.com"}}},
    "marketing": {"summary": "The buyer accepts marketing", "value": {"order": {"buyer_accepts_marketing": True}}},
    "metafield": {
        "summary": "Add a metafield",
        "value": {"order": {"metafields": [{"key": "new", "value": "newvalue", "namespace": "global"}]}},
    },
    "remove_customer": {"summary": "Remove the customer", "value": {"order": {"customer": None}}},
}


# ---- routes ---------------------------------------------------------------------------------------


@contextmanager
def _fields_in_body() -> Iterator[None]:
    """A broken order rule names the order's field; in this dialect's bodies it sits under `order`."""
    try:
        yield
    except OrderRuleError as error:
        field = "order" if error.field == WHOLE_ORDER else f"order.{error.field}"
        raise type(error)(field, error.code, error.message) from error


_ETAG: Final = {"ETag": {"description": "The order's version, to send back in If-Match", "schema": {"type": "string"}}}
_LOCATION: Final = {"Location": {"description": "The new order's URL", "schema": {"type": "string"}}}


@router.get("/orders.json", response_model=OrderListEnvelope, responses=problem_responses(422), dependencies=READS)
async def list_orders(
    *,
    orders: Orders,
    query: Filters,
    limit: Annotated[int, Query(ge=1, le=250, description="Orders per page, 1 to 250")] = 50,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page to show, from 1")] = 1,
    since_id: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Only orders with a greater id, oldest first")
    ] = None,
    fields: FieldsParam = None,
) -> Response:
    """Orders matching every filter given: open ones unless `status` says otherwise. Newest first,
    `limit` a page; with `since_id`, oldest first from that id."""
    names = _fields(fields)
    found = await orders.list_orders(
        query,
        limit=limit,
        direction="desc" if since_id is None else "asc",
        after_id=since_id,
        offset=(page - 1) * limit,
    )
    return _json({"orders": [_only(haravan_order(order), names) for order in found]})


@router.get("/orders/count.json", response_model=OrderCount, responses=problem_responses(422), dependencies=READS)
async def count_orders(orders: Orders, query: Filters) -> OrderCount:
    """How many orders match the same filters as the list."""
    return OrderCount(count=await orders.count_orders(query))


@router.post(
    "/orders.json",
    status_code=201,
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 413, 422), 201: {"headers": {**_ETAG, **_LOCATION}}},
)
async def create_order(
    body: Annotated[OrderCreateBody, Body(openapi_examples=CREATE_EXAMPLES)],
    orders: Orders,
    may_read: MayRead,
) -> Response:
    """Create an order; `order.created` is published once it is stored. Without transactions or a
    `financial_status` the order is taken as paid, as Haravan does. An existing customer is named by
    `customer.id` (this needs orders:read too); an email finds or records a checkout record, never an
    account. A key without orders:read is answered without the order's `customer`."""
    with _fields_in_body():
        placed = await orders.create_order(body.order.draft(), may_read=may_read)
    response = _order_response(placed.stored, status_code=201)
    response.headers["Location"] = f"/com/orders/{placed.stored.order.id}.json"
    return response


@router.get(
    "/orders/{order_id}.json",
    response_model=OrderFieldsEnvelope,
    responses={**problem_responses(404, 422), 200: {"headers": _ETAG}},
    dependencies=READS,
)
async def get_order(order_id: OrderId, orders: Orders, fields: FieldsParam = None) -> Response:
    """One order; its ETag is the version to send back in `If-Match`."""
    names = _fields(fields)
    return _order_response(await orders.get_order(order_id), names=names)


def _order_response(stored: StoredOrder, *, names: set[str] | None = None, status_code: int = 200) -> Response:
    response = _json({"order": _only(haravan_order(stored.order), names)}, status_code)
    set_etag(response, stored.sequence)
    return response


@router.put(
    "/orders/{order_id}.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 412, 413, 422), 200: {"headers": _ETAG}},
)
async def update_order(
    *,
    order_id: OrderId,
    body: Annotated[OrderUpdateBody, Body(openapi_examples=UPDATE_EXAMPLES)],
    orders: Orders,
    may_read: MayRead,
    if_match: IfMatch,
) -> Response:
    """Change note, note_attributes, email, buyer_accepts_marketing, metafields or tags, or detach the
    customer (`"customer": null`). Items and quantities cannot change."""
    changes = body.order.changes(order_id)
    with _fields_in_body():
        stored = await orders.update_order(order_id, changes, may_read=may_read, if_match=if_match)
    return _order_response(stored)


@router.post(
    "/orders/{order_id}/close.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 409, 412, 422), 200: {"headers": _ETAG}},
)
async def close_order(order_id: OrderId, orders: Orders, may_read: MayRead, if_match: IfMatch) -> Response:
    """Close an open order (409 `order_not_open` otherwise)."""
    return _order_response(await orders.close_order(order_id, may_read=may_read, if_match=if_match))


@router.post(
    "/orders/{order_id}/open.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 409, 412, 422), 200: {"headers": _ETAG}},
)
async def open_order(order_id: OrderId, orders: Orders, may_read: MayRead, if_match: IfMatch) -> Response:
    """Re-open a closed order (409 `order_not_closed` when it is open or cancelled)."""
    return _order_response(await orders.reopen_order(order_id, may_read=may_read, if_match=if_match))


class Deleted(BaseModel):
    """An empty object, as Shopify answers a delete."""

    model_config = ConfigDict(extra="forbid")


@router.delete(
    "/orders/{order_id}.json",
    response_model=Deleted,
    responses=problem_responses(400, 404, 409, 412, 422),
    dependencies=WRITES,
)
async def delete_order(order_id: OrderId, orders: Orders, if_match: IfMatch) -> Deleted:
    """Delete an order that is closed, cancelled or unpaid (409 `order_not_deletable` otherwise);
    `order.deleted` carries its last state."""
    await orders.delete_order(order_id, if_match=if_match)
    return Deleted()
