"""What the Digital River dialect's requests may say: a new order, and the changes an update may make."""

from typing import Any, Final

from pydantic import ConfigDict, Field, field_validator

from services.order_api.api.digital_river.fields import Camel, CamelIn, Metadata
from services.order_api.api.digital_river.responses import DigitalRiverOrder
from services.order_api.api.fields import IpAddress, Money, Rate
from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.limits import MAX_LINE_ITEMS
from shared.fields import BigintId, StorableText, empty
from shared.order_facts import CustomerDraft, LineItemDraft, OrderDraft
from shared.orders import ChargeType, CheckoutFields, CustomerType, ShippingLine, TaxLine
from shared.problems import Problem


class DigitalRiverItemIn(CamelIn):
    """A catalog variant, or a custom item with its own name and price."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["variantId"]}, {"required": ["name", "price"]}]}
    )

    variant_id: BigintId | None = Field(
        default=None, description="A catalog variant; its name, SKU and price fill the item"
    )
    sku_id: StorableText | None = Field(default=None, min_length=1, max_length=255)
    name: StorableText | None = Field(
        default=None, min_length=1, max_length=255, description="Required without variantId"
    )
    price: Money | None = Field(default=None, description="The unit price; required without variantId")
    quantity: int = Field(ge=1, le=10_000)
    taxable: bool | None = Field(default=None, description="Default: the variant's, else true")


class DigitalRiverTaxLineIn(CamelIn):
    name: StorableText = Field(min_length=1, max_length=255, examples=["State tax"])
    rate: Rate
    amount: Money


class DigitalRiverShippingChoiceIn(CamelIn):
    id: StorableText | None = Field(default=None, max_length=255)
    description: StorableText = Field(default="Shipping", min_length=1, max_length=255)
    amount: Money


class DigitalRiverOrderCreate(CamelIn):
    checkout_id: StorableText | None = Field(default=None, min_length=1, max_length=100, examples=["5823594809"])
    customer_id: BigintId | None = Field(default=None, description="An existing customer (422 when unknown)")
    email: StorableText | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    source_id: StorableText | None = Field(default=None, min_length=1, max_length=255)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217; default the catalog's")
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$", examples=["en_IE"])
    invoice_attribute_id: StorableText | None = Field(default=None, min_length=1, max_length=255)
    application_id: StorableText | None = Field(default=None, min_length=1, max_length=255)
    browser_ip: IpAddress | None = None
    tax_inclusive: bool = False
    charge_type: ChargeType | None = None
    customer_type: CustomerType | None = None
    subscription_id: StorableText | None = Field(default=None, min_length=1, max_length=255)
    upstream_id: StorableText | None = Field(
        default=None, min_length=1, max_length=255, description="Your id for the order; a repeated create is safe"
    )
    items: list[DigitalRiverItemIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)
    tax_lines: list[DigitalRiverTaxLineIn] = empty(max_length=50)
    shipping_choice: DigitalRiverShippingChoiceIn | None = None
    metadata: Metadata = empty(dict)
    request_to_be_forgotten: bool = Field(
        default=False, description="True when the customer asks for their data to be erased once the order is done"
    )

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


# Request fields the draft takes as they are, under their snake_case names: the checkout's fields (all
# of which this request declares; a unit test holds it to that), the buyer's address and email, and
# whether the buyer asked to be forgotten.
_SAME_IN_DRAFT: Final = {*CheckoutFields.model_fields, "browser_ip", "email", "request_to_be_forgotten"}


def _not_null_schema(schema: dict[str, Any]) -> None:
    """A field's schema without its `null` alternative: the field may be left out, not sent as null."""
    alternatives = [alternative for alternative in schema.pop("anyOf") if alternative.get("type") != "null"]
    schema.update({**alternatives[0], **schema})


class DigitalRiverOrderUpdate(Camel):
    """What an order update may set. Other fields of the order are refused as `immutable_field`,
    fields an order does not have as `unknown_field`."""

    # Extra keys pass validation so the route can say which rule they break.
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False, "minProperties": 1})

    # Absent leaves a field as it is; null is refused (it would change nothing yet count as a change).
    request_to_be_forgotten: bool | None = Field(
        default=None,
        description="True when the customer asks for their data to be erased; a request made cannot be "
        "withdrawn (false is then 409 `forget_request_final`)",
        json_schema_extra=_not_null_schema,
    )
    upstream_id: StorableText | None = Field(
        default=None, min_length=1, max_length=255, json_schema_extra=_not_null_schema
    )
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
