"""Akinon guest cancellation requests: what a guest sends (the document's fields), the requests as
answered (201), and the domain's request they make."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.order_api.api.akinon.requests import GuestLookup
from services.order_api.domain.guest_requests import MAX_HOLDER_NAME_LENGTH, MAX_IBAN_LENGTH, RequestedItem
from services.order_api.service.guest_requests import GuestRequest
from shared.cancellations import BankAccount, CancellationSubmitted, CancellationType, SubmittedItem
from shared.fields import BigintId

# Checked by the rules, each with its own code (domain/guest_requests.py), and documented here.
_QUANTITY = Field(
    default=None,
    description="Units to cancel, from 1 to what is still cancellable; all of them when absent",
    json_schema_extra={"minimum": 1},
)
_IBAN = Field(
    default=None,
    description="IBAN for the refund (cash on delivery orders); a valid one (mod-97), spaces allowed",
    json_schema_extra={"maxLength": MAX_IBAN_LENGTH},
)
_HOLDER = Field(
    default=None,
    description="The account holder's name; required with an IBAN",
    json_schema_extra={"maxLength": MAX_HOLDER_NAME_LENGTH},
)
_SHIPPING_COMPANY = Field(default=None, description="An active easy-return shipping company; required for a `refund`")
Description = Annotated[str | None, Field(default=None, max_length=2000, description="The guest's own words")]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_item: BigintId = Field(description="The order item (line item) id")
    reason: BigintId = Field(description="A cancellation reason id")
    cancellation_type: CancellationType = Field(
        description="`cancel`: units not shipped; `refund`: units sent back (easy return)"
    )
    description: Description = None
    shipping_company: BigintId | None = _SHIPPING_COMPANY
    quantity: int | None = _QUANTITY

    def requested(self, field: str, pickup_date: str | None = None) -> RequestedItem:
        return RequestedItem(
            field=field,
            line_item_id=self.order_item,
            reason_id=self.reason,
            cancellation_type=self.cancellation_type,
            quantity=self.quantity,
            description=self.description,
            shipping_company_id=self.shipping_company,
            pickup_date=pickup_date,
        )


class _Guest(GuestLookup):
    """The order's number and email, and the bank account a refund may go to."""

    iban: str | None = _IBAN
    holder_name: str | None = _HOLDER

    def _request(self, items: list[RequestedItem], **fields: Any) -> GuestRequest:
        return GuestRequest(
            order_number=self.order_number(),
            email=self.email,
            items=items,
            iban=self.iban,
            holder_name=self.holder_name,
            **fields,
        )


class CancellationRequestIn(_Guest, _Item):
    """One item's request, with the order's number and email."""

    def request(self) -> GuestRequest:
        return self._request([self.requested("")])


class CancelOrderItemIn(_Item):
    pickup_date: str | None = Field(default=None, max_length=32, description="When the return may be picked up")
    cancellation_request_image_set: list[dict[str, Any]] = Field(
        default=[], max_length=10, description="Accepted as the document has it; images are not kept here"
    )


class BulkCancellationIn(_Guest):
    """Requests for several items of one order: all are accepted, or none."""

    cancel_order_items: list[CancelOrderItemIn] = Field(min_length=1, max_length=250)
    pickup_address: BigintId | None = Field(default=None, description="A shared pickup address for returns")
    fully_refund_as_loyalty_money: bool = Field(
        default=False, description="Refund the whole amount as loyalty money instead of paying it back"
    )

    def request(self) -> GuestRequest:
        items = [
            item.requested(f"cancel_order_items[{index}]", item.pickup_date)
            for index, item in enumerate(self.cancel_order_items)
        ]
        return self._request(
            items,
            pickup_address_id=self.pickup_address,
            fully_refund_as_loyalty_money=self.fully_refund_as_loyalty_money,
        )


class CancellationRequestOut(BaseModel):
    """A request as created: the IBAN is never shown, only its last four characters."""

    id: int
    order: int = Field(description="The order's id (`pk`)")
    order_item: int
    quantity: int
    reason: int
    cancellation_type: CancellationType
    status: Literal["waiting", "approved", "rejected", "completed"]
    description: str | None
    shipping_company: int | None
    pickup_date: str | None
    iban_last4: str | None
    created_date: datetime


def requests_created(submitted: CancellationSubmitted) -> list[CancellationRequestOut]:
    """The accepted requests, each `waiting` for the cancellation worker's decision."""
    return [
        _created(item, submitted.order_id, submitted.bank_account, submitted.submitted_at) for item in submitted.items
    ]


def _created(item: SubmittedItem, order_id: int, account: BankAccount | None, at: datetime) -> CancellationRequestOut:
    return CancellationRequestOut(
        id=item.request_id,
        order=order_id,
        order_item=item.line_item_id,
        quantity=item.quantity,
        reason=item.reason_id,
        cancellation_type=item.cancellation_type,
        status="waiting",
        description=item.description,
        shipping_company=item.shipping_company_id,
        pickup_date=item.pickup_date,
        iban_last4=account.iban[-4:] if account is not None else None,
        created_date=at,
    )
