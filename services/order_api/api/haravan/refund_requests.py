"""What the Haravan dialect's cancel and refund requests may say (Shopify's fields), and the domain's
requests they make."""

from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from services.order_api.api.fields import Money
from services.order_api.api.haravan.requests import RequestBody, RequestModel
from services.order_api.domain.cancellation import CancelRequest
from services.order_api.domain.limits import MAX_LINE_ITEMS
from services.order_api.domain.refunds import RefundLineRequest, RefundRequest
from shared.fields import BigintId, empty
from shared.orders import CancelReason, RestockType

_AMOUNT = "What to refund (e.g. 21.20), at most what can still be refunded; without it, everything that can be"
_RESTOCK = "Put the items back in stock (an inventory service is asked to)"
_REASON = "customer, inventory, fraud, declined or other (the default)"
_EMAIL = "Email the customer about the cancellation"


class CancelIn(RequestBody):
    """The cancel's parameters, in the body (JSON) or in the query string, as Shopify-style clients send
    them (`order.cancel(reason="customer", amount="10.00")` posts them as query parameters)."""

    amount: Money | None = Field(default=None, description=_AMOUNT)
    restock: bool = Field(default=False, description=_RESTOCK)
    reason: CancelReason = Field(default="other", description=_REASON)
    email: bool = Field(default=False, description=_EMAIL)

    def request(self, **query: Any) -> CancelRequest:
        """The cancel asked for: what the body names, else what the query names (None: not named)."""
        named = {name: value for name, value in query.items() if value is not None}
        return CancelRequest(**{**named, **self.model_dump(exclude_unset=True)})


class RefundLineIn(RequestModel):
    line_item_id: BigintId
    quantity: int = Field(ge=1, le=10_000)
    restock_type: RestockType = Field(
        default="no_restock",
        description="`cancel`: units not shipped, which are cancelled; `return`: shipped units sent back",
    )
    location_id: BigintId | None = Field(default=None, description="Accepted as Shopify has it; not used")


class ShippingIn(RequestModel):
    amount: Money | None = Field(default=None, description="Shipping to refund")
    full_refund: bool = Field(default=False, description="Refund all the shipping not refunded yet")

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.full_refund and self.amount is not None:
            raise ValueError("give either amount or full_refund, not both")
        return self

    def shipping(self) -> Decimal | Literal["full"] | None:
        return "full" if self.full_refund else self.amount


class RefundIn(RequestModel):
    refund_line_items: list[RefundLineIn] = empty(max_length=MAX_LINE_ITEMS)
    shipping: ShippingIn | None = None
    note: str | None = Field(default=None, max_length=5000)
    notify: bool = Field(default=False, description="Email the customer once the refund is paid back")

    def request(self) -> RefundRequest:
        return RefundRequest(
            lines=tuple(
                RefundLineRequest(line.line_item_id, line.quantity, line.restock_type)
                for line in self.refund_line_items
            ),
            shipping=self.shipping.shipping() if self.shipping is not None else None,
            note=self.note,
            notify=self.notify,
        )


class RefundBody(RequestBody):
    refund: RefundIn
