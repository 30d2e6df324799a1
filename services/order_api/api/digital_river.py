"""The Digital River dialect: `/orders...`, camelCase JSON, cursor pagination.

Choices where the document is silent or does not fit this platform, so clients can rely on them:
- Order ids are the platform's order numbers, the same in every dialect: `1000000123`, not `ord_...`.
  Customer ids are numbers too (no `cus_` prefix).
- Amounts are JSON strings holding exact decimals at the currency's precision (`"1180.26"`), never
  floats; requests may send numbers or strings. `currency` is answered in lower case as the document
  shows it (`usd`); requests and the `currency` filter take either case.
- There is no checkout service here, so creating an order names what it is for: `items`, each a
  catalog variant (`variantId`; name, SKU and price come from the catalog) or a custom item (`name`
  and `price`, optionally `skuId`), plus optional order-level `taxLines` and a `shippingChoice`.
- A create repeated with the same `upstreamId` and the same content answers 200 with the order the
  first one made (nothing new is created or published); with other content, 409 Conflict.
- Lists are newest first (id descending). The cursors are order ids and need not name an existing
  order. `endingBefore` answers the page just before the cursor, still newest first, and `hasMore`
  then says whether there are newer orders still.
- Tax details: an item's tax is the order's tax lines split across the taxable items in proportion
  to their amounts (the last taxable item takes the rounding remainder, so they add up exactly).
- `liveMode` is true: this platform has no test mode. `totalFees` and `totalDuty` are zero (it
  charges neither); `cancelledAmount` is what voided payments released.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from services.order_api.api.fields import IpAddress, Money, Rate
from services.order_api.api.http import IfMatch, Orders, problem_responses, set_etag
from services.order_api.api.security import READS, MayRead
from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError
from services.order_api.domain.limits import MAX_LINE_ITEMS, MAX_METADATA
from services.order_api.domain.money import money
from services.order_api.domain.queries import OrderQuery
from services.order_api.domain.status_views import DigitalRiverState, digital_river_state
from services.order_api.domain.taxes import line_item_taxes
from shared.orders import (
    CancelReason,
    CustomerDraft,
    FraudState,
    LineItemDraft,
    LineItemSnapshot,
    OrderDraft,
    OrderSnapshot,
    ShippingLine,
    TaxLine,
)
from shared.problems import Problem

router = APIRouter(prefix="/orders", tags=["Digital River orders"])

MAX_ID: Final = 2**63 - 1  # Postgres bigint
CustomerType = Literal["individual", "business"]
ChargeType = Literal["customer_initiated", "merchant_initiated"]


def _storable(value: str) -> str:
    # Postgres text holds neither NUL nor (as UTF-8) a lone surrogate: refuse them as bad input.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate, which cannot be stored") from None
    if "\x00" in value:
        raise ValueError("contains a NUL character, which cannot be stored")
    return value


Text = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Metadata = Annotated[
    dict[
        Annotated[str, AfterValidator(_storable), Field(min_length=1, max_length=40)],
        Annotated[Text, Field(max_length=500)],
    ],
    Field(
        max_length=MAX_METADATA,
        description=f"Up to {MAX_METADATA} string pairs (keys up to 40 characters, values up to 500)",
        json_schema_extra={"propertyNames": {"minLength": 1, "maxLength": 40, "pattern": "^[^\\u0000]*$"}},
    ),
]
OrderId = Annotated[
    int,
    Path(alias="id", ge=1, le=MAX_ID, description="The order id: the same number in every dialect (no `ord_` prefix)"),
]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _In(_Camel):
    model_config = ConfigDict(extra="forbid")


# ---- responses: the order as the document shows it, translated from the snapshot in one place ----


class DigitalRiverItem(_Camel):
    id: int
    variant_id: int | None
    product_id: int | None
    sku_id: str | None
    name: str
    quantity: int
    price: Decimal = Field(description="The unit price")
    amount: Decimal = Field(description="price times quantity")
    taxable: bool


class DigitalRiverOrder(_Camel):
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
    available_to_refund_amount: Decimal
    refunded_amount: Decimal
    cancelled_amount: Decimal
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

    def paid(*kinds: str) -> Decimal:
        amounts = (tx.amount for tx in order.transactions if tx.kind in kinds and tx.status == "success")
        return money(sum(amounts, Decimal(0)), currency)

    zero = money(Decimal(0), currency)
    captured = paid("capture", "sale")
    refunded = money(sum((refund.amount for refund in order.refunds), Decimal(0)), currency)
    return DigitalRiverOrder(
        id=order.id,
        checkout_id=order.checkout_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        customer_id=order.customer.id if order.customer else None,
        email=order.email,
        currency=currency.lower(),
        locale=order.locale,
        browser_ip=order.browser_ip,
        application_id=order.application_id,
        source_id=order.source_id,
        invoice_attribute_id=order.invoice_attribute_id,
        subscription_id=order.subscription_id,
        tax_inclusive=order.taxes_included,
        total_amount=order.total_price,
        subtotal=order.subtotal_price,
        total_tax=order.total_tax,
        total_fees=zero,
        total_duty=zero,
        total_discount=order.total_discounts,
        total_shipping=order.total_shipping_price,
        available_to_refund_amount=max(captured - refunded, zero),
        refunded_amount=refunded,
        cancelled_amount=paid("void"),
        captured_amount=captured,
        request_to_be_forgotten=order.request_to_be_forgotten,
        state=digital_river_state(order),
        fraud_state=order.fraud_state,
        cancellation_reason=order.cancel_reason,
        live_mode=True,
        customer_type=order.customer_type,
        charge_type=order.charge_type,
        upstream_id=order.upstream_id,
        items=[_item(item, currency) for item in order.line_items],
        metadata=order.metadata,
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


class DigitalRiverOrderList(_Camel):
    data: list[DigitalRiverOrder]
    has_more: bool = Field(description="Whether more orders follow in the direction of travel")


class DigitalRiverItemTax(_Camel):
    id: int = Field(description="The line item's id")
    sku_id: str | None
    taxable_amount: Decimal
    tax_amount: Decimal
    tax_rate: Decimal


class DigitalRiverTaxDetails(_Camel):
    id: int = Field(description="The order id")
    items: list[DigitalRiverItemTax]


def _json(body: _Camel, status_code: int = 200, *, sequence: int | None = None) -> Response:
    # Serialised once from the validated model (FastAPI would validate it a second time).
    response = Response(body.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json")
    if sequence is not None:
        set_etag(response, sequence)
    return response


# ---- requests -------------------------------------------------------------------------------------


class DigitalRiverItemIn(_In):
    """A catalog variant, or a custom item with its own name and price."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["variantId"]}, {"required": ["name", "price"]}]}
    )

    variant_id: Id | None = Field(default=None, description="A catalog variant; its name, SKU and price fill the item")
    sku_id: Text | None = Field(default=None, min_length=1, max_length=255)
    name: Text | None = Field(default=None, min_length=1, max_length=255, description="Required without variantId")
    price: Money | None = Field(default=None, description="The unit price; required without variantId")
    quantity: int = Field(ge=1, le=10_000)
    taxable: bool | None = Field(default=None, description="Default: the variant's, else true")


class DigitalRiverTaxLineIn(_In):
    name: Text = Field(min_length=1, max_length=255, examples=["State tax"])
    rate: Rate
    amount: Money


class DigitalRiverShippingChoiceIn(_In):
    id: Text | None = Field(default=None, max_length=255)
    description: Text = Field(default="Shipping", min_length=1, max_length=255)
    amount: Money


class DigitalRiverOrderCreate(_In):
    checkout_id: Text | None = Field(default=None, min_length=1, max_length=100, examples=["5823594809"])
    customer_id: Id | None = Field(default=None, description="An existing customer (422 when unknown)")
    email: Text | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    source_id: Text | None = Field(default=None, min_length=1, max_length=255)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217; default the catalog's")
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$", examples=["en_IE"])
    invoice_attribute_id: Text | None = Field(default=None, min_length=1, max_length=255)
    application_id: Text | None = Field(default=None, min_length=1, max_length=255)
    browser_ip: IpAddress | None = None
    tax_inclusive: bool = False
    charge_type: ChargeType | None = None
    customer_type: CustomerType | None = None
    subscription_id: Text | None = Field(default=None, min_length=1, max_length=255)
    upstream_id: Text | None = Field(
        default=None, min_length=1, max_length=255, description="Your id for the order; a repeated create is safe"
    )
    items: list[DigitalRiverItemIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)
    tax_lines: list[DigitalRiverTaxLineIn] = Field(default=[], max_length=50)
    shipping_choice: DigitalRiverShippingChoiceIn | None = None
    metadata: Metadata = {}

    def draft(self) -> OrderDraft:
        return OrderDraft(
            **self.model_dump(include=_SAME_IN_DRAFT),
            currency=self.currency.upper() if self.currency else None,
            line_items=[
                LineItemDraft(
                    variant_id=item.variant_id,
                    title=item.name,
                    price=item.price,
                    quantity=item.quantity,
                    sku=item.sku_id,
                    taxable=item.taxable,
                )
                for item in self.items
            ],
            customer=CustomerDraft(id=self.customer_id) if self.customer_id is not None else None,
            tax_lines=[TaxLine(title=tax.name, price=tax.amount, rate=tax.rate) for tax in self.tax_lines],
            shipping_lines=[
                ShippingLine(code=choice.id, title=choice.description, price=choice.amount)
                for choice in [self.shipping_choice]
                if choice is not None
            ],
            taxes_included=self.tax_inclusive,
        )


# Request fields the draft (or the query) takes as they are, under their snake_case names.
_SAME_IN_DRAFT: Final = {
    "browser_ip",
    "email",
    "upstream_id",
    "checkout_id",
    "application_id",
    "locale",
    "customer_type",
    "charge_type",
    "subscription_id",
    "source_id",
    "invoice_attribute_id",
    "metadata",
}
_SAME_IN_QUERY: Final = {
    "browser_ip",
    "customer_id",
    "checkout_id",
    "application_id",
    "email",
    "sku",
    "fraud_state",
    "charge_type",
    "subscription_id",
    "refunded_amount",
    "locale",
    "customer_type",
}


# The domain names fields as the snapshot does; the errors name them as this dialect's request does.
_REQUEST_FIELDS: Final = (
    (re.compile(r"^customer\.id$"), "customerId"),
    (re.compile(r"^line_items\[(\d+)\]\.title$"), r"items[\1].name"),
    (re.compile(r"^line_items\[(\d+)\]\.variant_id$"), r"items[\1].variantId"),
    (re.compile(r"^line_items"), "items"),
    (re.compile(r"^tax_lines\[(\d+)\]\.price$"), r"taxLines[\1].amount"),
    (re.compile(r"^shipping_lines\[0\]\.price$"), "shippingChoice.amount"),
)


def request_field(field: str) -> str:
    """A domain rule's field as this dialect's request names it (`line_items[0].title` -> `items[0].name`)."""
    if field == WHOLE_ORDER:
        return "<body>"
    for pattern, replacement in _REQUEST_FIELDS:
        if pattern.search(field):
            return pattern.sub(replacement, field)
    return to_camel(field)


@contextmanager
def _request_fields() -> Iterator[None]:
    """A broken order rule names the field as this dialect's request does."""
    try:
        yield
    except OrderRuleError as error:
        raise type(error)(request_field(error.field), error.code, error.message) from error


def _not_null_schema(schema: dict[str, Any]) -> None:
    """A field's schema without its `null` alternative: the field may be left out, not sent as null."""
    alternatives = [alternative for alternative in schema.pop("anyOf") if alternative.get("type") != "null"]
    schema.update({**alternatives[0], **schema})


class DigitalRiverOrderUpdate(_Camel):
    """What an order update may set. Other fields of the order are refused as `immutable_field`,
    fields an order does not have as `unknown_field`."""

    # Extra keys pass validation so the route can say which rule they break.
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False, "minProperties": 1})

    # Absent leaves a field as it is; null is refused (it would change nothing yet count as a change).
    request_to_be_forgotten: bool | None = Field(
        default=None,
        description="True when the customer asks for their data to be erased",
        json_schema_extra=_not_null_schema,
    )
    upstream_id: Text | None = Field(default=None, min_length=1, max_length=255, json_schema_extra=_not_null_schema)
    metadata: Metadata | None = Field(
        default=None, description="Merged into the order's metadata, key by key", json_schema_extra=_not_null_schema
    )

    @field_validator("request_to_be_forgotten", "upstream_id", "metadata", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it as it is")
        return value

    def changes(self) -> OrderChanges:
        order_fields = {name for field, info in DigitalRiverOrder.model_fields.items() for name in (field, info.alias)}
        extra = sorted(self.model_extra or {})
        if extra:
            immutable = [name for name in extra if name in order_fields]
            raise Problem(
                422,
                "immutable_field" if immutable else "unknown_field",
                "Only requestToBeForgotten, upstreamId and metadata can change after an order is created.",
                errors=[
                    {"field": name, "message": "cannot be changed" if name in immutable else "unknown field"}
                    for name in extra
                ],
            )
        if not self.model_fields_set:
            raise Problem(
                422,
                "nothing_to_change",
                "The update names no field to change.",
                errors=[{"field": "<body>", "message": "name requestToBeForgotten, upstreamId or metadata"}],
            )
        return OrderChanges(
            request_to_be_forgotten=self.request_to_be_forgotten,
            upstream_id=self.upstream_id,
            metadata=dict(self.metadata) if self.metadata is not None else None,
        )


# ---- list parameters ------------------------------------------------------------------------------


def _comma_list(value: str, field: str) -> list[str]:
    parts = value.split(",")
    if len(parts) > 100 or not all(parts):
        raise Problem(
            422,
            "validation_error",
            f"{field}: give 1 to 100 values separated by commas",
            errors=[{"field": field, "message": "1 to 100 comma-separated values"}],
        )
    return parts


class ListParams(_Camel):
    starting_after: Id | None = Field(default=None, description="An order id: the page after it")
    ending_before: Id | None = Field(default=None, description="An order id: the page before it")
    limit: int = Field(default=10, ge=1, le=100, description="Orders per page, 1 to 100")
    ids: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^[1-9][0-9]{0,18}(,[1-9][0-9]{0,18})*$",
        description="Comma-separated order ids",
    )
    upstream_ids: Text | None = Field(default=None, max_length=30_000, description="Comma-separated upstream ids")
    state: DigitalRiverState | None = None
    customer_id: Id | None = None
    checkout_id: Text | None = Field(default=None, max_length=100)
    application_id: Text | None = Field(default=None, max_length=255)
    email: Text | None = Field(default=None, max_length=254)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    sku: Text | None = Field(default=None, max_length=255)
    fraud_state: FraudState | None = None
    browser_ip: IpAddress | None = None
    charge_type: ChargeType | None = None
    subscription_id: Text | None = Field(default=None, max_length=255)
    refunded_amount: Money | None = None
    locale: Text | None = Field(default=None, max_length=20)
    customer_type: CustomerType | None = None

    def query(self) -> OrderQuery:
        ids = None
        if self.ids is not None:
            ids = [int(part) for part in _comma_list(self.ids, "ids")]
            if max(ids) > MAX_ID:
                raise Problem(
                    422,
                    "validation_error",
                    f"ids: order ids run from 1 to {MAX_ID}",
                    errors=[{"field": "ids", "message": "not an order id"}],
                )
        return OrderQuery(
            **self.model_dump(include=_SAME_IN_QUERY),
            ids=ids,
            upstream_ids=_comma_list(self.upstream_ids, "upstreamIds") if self.upstream_ids is not None else None,
            states=[self.state] if self.state is not None else None,
            currency=self.currency.upper() if self.currency else None,
        )


# ---- routes ---------------------------------------------------------------------------------------


@router.get(
    "",
    operation_id="listOrders",
    response_model=DigitalRiverOrderList,
    responses=problem_responses(400, 422),
    dependencies=READS,
)
async def list_orders(orders: Orders, params: Annotated[ListParams, Query()]) -> Response:
    """Get all orders, newest first, that match every filter given. Page forward with
    `startingAfter=<last id of this page>` and back with `endingBefore=<first id of this page>`;
    both at once is a 400."""
    if params.starting_after is not None and params.ending_before is not None:
        raise Problem(
            400,
            "conflicting_cursors",
            "Give startingAfter or endingBefore, not both.",
            errors=[
                {"field": name, "message": "only one cursor at a time"} for name in ("startingAfter", "endingBefore")
            ],
        )
    query, limit = params.query(), params.limit
    if params.ending_before is None:
        found = await orders.list_orders(query, limit=limit + 1, before_id=params.starting_after)
    else:  # walk towards newer orders from the cursor, then show that page newest first
        found = await orders.list_orders(query, limit=limit + 1, direction="asc", after_id=params.ending_before)
    page = found[:limit] if params.ending_before is None else found[:limit][::-1]
    return _json(
        DigitalRiverOrderList(data=[digital_river_order(order) for order in page], has_more=len(found) > limit)
    )


_VERSIONED: Final = {
    "headers": {"ETag": {"description": "The order's version, to send in If-Match", "schema": {"type": "string"}}}
}
_LOCATED: Final = {"Location": {"description": "The order's URL", "schema": {"type": "string"}}}

# The created order's id leads to the operations on it (OpenAPI links, which API fuzzers follow too).
_ORDER_LINKS: Final = {
    operation: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
    for operation in ("retrieveOrder", "updateOrder", "refreshOrder", "retrieveOrderTaxDetails")
}


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    response_model=DigitalRiverOrder,
    responses={
        201: {
            "description": "The order, created",
            "links": _ORDER_LINKS,
            "headers": {**_VERSIONED["headers"], **_LOCATED},
        },
        200: {
            "model": DigitalRiverOrder,
            "description": "The same create again (same upstreamId and content): the first order",
            "links": _ORDER_LINKS,
            "headers": {**_VERSIONED["headers"], **_LOCATED},
        },
        **problem_responses(400, 409, 413, 422),
    },
)
async def create_order(body: DigitalRiverOrderCreate, orders: Orders, may_read: MayRead) -> Response:
    """Creates a new order from `items` (this platform has no checkouts to convert; see the
    description of each field). 409 when `upstreamId` already names an order made from other content.
    `customerId` needs orders:read too; `email` never attaches the order to an account. A key without
    orders:read is answered with `customerId` null."""
    with _request_fields():
        placed = await orders.create_order(body.draft(), may_read=may_read)
    order = placed.stored.order
    response = _json(digital_river_order(order), 201 if placed.created else 200, sequence=placed.stored.sequence)
    response.headers["Location"] = f"/orders/{order.id}"
    return response


@router.get(
    "/{id}",
    operation_id="retrieveOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(404, 422), 200: _VERSIONED},
    dependencies=READS,
)
async def get_order(order_id: OrderId, orders: Orders) -> Response:
    """Retrieves the details of an order; its ETag is the version to send in `If-Match`."""
    stored = await orders.get_order(order_id)
    return _json(digital_river_order(stored.order), sequence=stored.sequence)


# Refreshing re-reads the order: its state is always current here, so it answers as retrieve does,
# and needs what retrieving needs (orders:read), though it is a POST.
router.add_api_route(
    "/{id}/refresh",
    get_order,
    methods=["POST"],
    operation_id="refreshOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(404, 422), 200: _VERSIONED},
    dependencies=READS,
    summary="Refresh Order",
    description="Refreshes an order so its `state` can be checked: answers the order as it is now (payments "
    "and fulfilments reported since are in it); changes nothing and publishes nothing.",
)


@router.post(
    "/{id}",
    operation_id="updateOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(400, 404, 409, 412, 413, 422), 200: _VERSIONED},
)
async def update_order(
    *,
    order_id: OrderId,
    body: DigitalRiverOrderUpdate,
    orders: Orders,
    may_read: MayRead,
    if_match: IfMatch,
) -> Response:
    """Updates an existing order: `requestToBeForgotten`, `upstreamId` and `metadata` only (other
    fields: 422 `immutable_field`); metadata is merged key by key, and an order holds at most 50 keys
    (422 `too_many_entries`). 409 when the new `upstreamId` names another order; 412 when `If-Match`
    names an older version."""
    changes = body.changes()
    with _request_fields():
        stored = await orders.update_order(order_id, changes, may_read=may_read, if_match=if_match)
    return _json(digital_river_order(stored.order), sequence=stored.sequence)


@router.get(
    "/{id}/tax-details",
    operation_id="retrieveOrderTaxDetails",
    response_model=DigitalRiverTaxDetails,
    responses=problem_responses(404, 422),
    dependencies=READS,
)
async def tax_details(order_id: OrderId, orders: Orders) -> Response:
    """Retrieves the tax details of each line item in an order."""
    order = (await orders.get_order(order_id)).order
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
    return _json(DigitalRiverTaxDetails(id=order.id, items=items))
