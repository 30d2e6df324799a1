"""What a Haravan order update may change, read against the order as it stands.

Shopify-style clients update an order by sending back the whole order they read, every key of it, with
their changes. As Shopify does, such an update is taken for what it changes: keys the platform keeps
itself (ids, times, totals, statuses, transactions, fulfilments, refunds) are ignored whatever they
say; keys fixed when the order was made (its items, currency, addresses...) are accepted when they are
as the order has them and refused (`immutable_field`) when they differ; the keys an update may set
(`note`, `note_attributes`, `email`, `buyer_accepts_marketing`, `metafields`, `tags`, and `customer`,
whose `null` detaches the customer) change only where they differ. A key no order has is refused
(`unknown_field`); an update that names nothing is refused (`nothing_to_change`), and one whose every
key is as the order has it changes nothing (and publishes nothing).
"""

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from services.order_api.api.haravan.requests import MetafieldIn, NameValueIn, RequestBody
from services.order_api.api.haravan.responses import ORDER_FIELDS, HaravanOrder, OrderFields
from services.order_api.api.haravan.translation import haravan_order
from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.limits import MAX_METAFIELDS
from shared.fields import BigintId
from shared.orders import Metafield, NameValue, OrderSnapshot
from shared.problems import Problem, invalid_field

# What the platform keeps itself: an update may carry them as it read them, or stale; they are ignored.
SERVER_KEPT: Final = frozenset(
    {
        "number",
        "order_number",
        "name",
        "token",
        "created_at",
        "updated_at",
        "transactions",
        "fulfillments",
        "refunds",
        "total_line_items_price",
        "subtotal_price",
        "total_discounts",
        "total_shipping_price",
        "total_tax",
        "total_price",
        "total_weight",
        "status",
        "financial_status",
        "fulfillment_status",
        "fraud_state",
        "cancel_reason",
        "closed_at",
        "cancelled_at",
        "guest",
        "anonymized",
        # The keys the dialect fills itself (constants and computed ones).
        *(set(HaravanOrder.model_fields) - set(OrderFields.model_fields)),
    }
)
# A line item's keys that change as it is shipped or cancelled.
_LINE_ITEM_KEPT: Final = frozenset({"fulfillable_quantity", "fulfillment_status"})
_IMMUTABLE: Final = "{} cannot change after the order is created (the document: not its items or quantities)"

ContractT = TypeVar("ContractT", bound=BaseModel)


class OrderUpdateIn(BaseModel):
    """What an order update may set; the order's other keys may come along as read (module docstring)."""

    # Extra keys are let through validation so that each is judged against the order.
    model_config = ConfigDict(extra="allow", frozen=True)

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
    customer: dict[str, Any] | None = Field(
        default=None, description="`null` detaches the customer; the customer as read changes nothing"
    )

    def check(self, order_id: int) -> None:
        """What can be refused without the order: unknown keys, another id, nothing named."""
        unknown = sorted(name for name in self.model_extra or {} if name not in ORDER_FIELDS)
        if unknown:
            _refuse("unknown_field", "an order has no {}", "unknown field", unknown)
        if self.id is not None and self.id != order_id:
            raise invalid_field("order.id", f"is {self.id}, but the path names order {order_id}")
        if not self.model_fields_set - {"id"}:
            raise Problem(
                422,
                "nothing_to_change",
                "The update names no field to change.",
                errors=[{"field": "order", "message": "name a field to change"}],
            )

    def changes(self, current: OrderSnapshot) -> OrderChanges | None:
        """What the update changes of `current` (None: nothing), or the refusal of a change it may not make."""
        self.check(current.id)
        shown = haravan_order(current)
        declared = (self.model_fields_set & set(OrderUpdateIn.model_fields)) - {"id"}
        sent = self.model_dump(mode="json", include=declared)
        changed = sorted(
            name
            for name, value in (self.model_extra or {}).items()
            if name not in SERVER_KEPT and not _same(_comparable(name, value), _comparable(name, shown[name]))
        )
        if changed:
            _refuse("immutable_field", _IMMUTABLE, "cannot be changed", changed)
        named = {name for name, value in sent.items() if not _same(value, shown[name])}
        if "customer" in named and self.customer is not None:
            _refuse("immutable_field", _IMMUTABLE, "cannot be changed; null detaches it", ["customer"])
        # null means "remove" only for the customer; elsewhere it would be ambiguous (clear? keep?).
        for name in sorted(named - {"customer"}):
            if getattr(self, name) is None:
                raise invalid_field(f"order.{name}", 'cannot be null; send "" or [] to clear it')
        if not named:
            return None
        return OrderChanges(
            note=self.note if "note" in named else None,
            note_attributes=_all(NameValue, self.note_attributes) if "note_attributes" in named else None,
            email=self.email if "email" in named else None,
            buyer_accepts_marketing=self.buyer_accepts_marketing if "buyer_accepts_marketing" in named else None,
            metafields=_all(Metafield, self.metafields) if "metafields" in named else None,
            tags=self.tags if "tags" in named else None,
            remove_customer="customer" in named,
        )


class OrderUpdateBody(RequestBody):
    order: OrderUpdateIn


def _refuse(code: str, detail: str, message: str, names: Sequence[str]) -> None:
    raise Problem(
        422,
        code,
        detail.format(", ".join(names)),
        errors=[{"field": f"order.{name}", "message": message} for name in names],
    )


def _comparable(name: str, value: Any) -> Any:
    """A key's value as an update is judged on: line items without what shipping changes."""
    if name == "line_items" and isinstance(value, list):
        return [
            {key: part for key, part in item.items() if key not in _LINE_ITEM_KEPT} if isinstance(item, dict) else item
            for item in value
        ]
    return value


def _same(sent: Any, shown: Any) -> bool:
    """Whether a value sent is the one shown: objects key by key, lists item by item, and numbers (or
    amounts written as text) by value, so `"199.0"` is `"199.00"`."""
    if isinstance(sent, dict) and isinstance(shown, dict):
        return sent.keys() == shown.keys() and all(_same(sent[key], shown[key]) for key in sent)
    if isinstance(sent, list) and isinstance(shown, list):
        return len(sent) == len(shown) and all(_same(a, b) for a, b in zip(sent, shown, strict=True))
    if sent == shown:
        return True
    if isinstance(sent, bool) or isinstance(shown, bool) or sent is None or shown is None:
        return False
    try:
        return Decimal(str(sent)) == Decimal(str(shown))
    except InvalidOperation:
        return False


def _all(model: type[ContractT], objects: Sequence[BaseModel] | None) -> list[ContractT] | None:
    """The request's objects as the domain's (same keys), or None when the request named none."""
    return None if objects is None else [model.model_validate(one.model_dump()) for one in objects]
