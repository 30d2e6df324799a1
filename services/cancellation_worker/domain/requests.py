"""Guest cancellation requests: their state machine, what a submission must hold, and how an approved
request pays back.

    waiting --approve--> approved --complete--> completed
       \\--reject--> rejected

A `cancel` request is approved as soon as it arrives; a `refund` request waits for the return (or an
operator). Approved means order_api may cancel the units and refund them; completed means the money
went back (or there was none to send back).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from shared.cancellations import CancellationSubmitted, CancellationType, RefundMethod, RequestStatus
from shared.rules import RuleError

TRANSITIONS: Final[dict[RequestStatus, frozenset[RequestStatus]]] = {
    "waiting": frozenset({"approved", "rejected"}),
    "approved": frozenset({"completed"}),
    "rejected": frozenset(),
    "completed": frozenset(),
}


class RequestRefused(RuleError):
    """A change the request's state does not allow (HTTP 409)."""


class InvalidSubmission(RuleError):
    """A submission that can never be taken (dead-lettered)."""


@dataclass(frozen=True, slots=True)
class CancellationRequest:
    """One item of a guest's request, as the worker keeps it (its bank account is kept apart)."""

    request_id: int
    order_id: int
    line_item_id: int
    quantity: int
    reason_id: int
    cancellation_type: CancellationType
    status: RequestStatus
    description: str | None
    shipping_company_id: int | None
    pickup_date: str | None
    loyalty_money: bool  # the submission asked for the whole amount as loyalty money
    iban_last4: str | None  # set when the submission carried a bank account
    refund_method: RefundMethod | None  # how its approval pays back; None before, or when nothing is
    created_at: datetime
    updated_at: datetime

    def moved_to(self, status: RequestStatus, now: datetime) -> "CancellationRequest":
        """The request in `status`, or RequestRefused when its state machine has no such step."""
        if status not in TRANSITIONS[self.status]:
            code = "request_not_waiting" if self.status != "approved" else "request_already_approved"
            raise RequestRefused("status", code, f"request {self.request_id} is {self.status}; it cannot be {status}")
        return replace(self, status=status, updated_at=now)


def check_submission(submitted: CancellationSubmitted) -> None:
    """What order_api promised about a submission; anything else can never be taken."""
    if not submitted.items:
        raise InvalidSubmission("items", "no_items", "a submission names at least one item")
    ids = [item.request_id for item in submitted.items]
    if len(set(ids)) != len(ids):
        raise InvalidSubmission("items", "duplicate_request_id", "each item has a request id of its own")
    lines = [item.line_item_id for item in submitted.items]
    if len(set(lines)) != len(lines):
        raise InvalidSubmission("items", "duplicate_line_item", "an item may have one active request at a time")
    for item in submitted.items:
        if item.quantity < 1 or item.request_id < 1:
            raise InvalidSubmission("items", "invalid_item", f"request {item.request_id}: quantity {item.quantity}")
    if submitted.bank_account is not None and not submitted.bank_account.iban.strip():
        raise InvalidSubmission("bank_account", "invalid_iban", "a bank account has an IBAN")


def requests_from(submitted: CancellationSubmitted) -> list[CancellationRequest]:
    """The submission's items as waiting requests (checked first)."""
    check_submission(submitted)
    account = submitted.bank_account
    last4 = account.iban.replace(" ", "")[-4:] if account is not None else None
    return [
        CancellationRequest(
            request_id=item.request_id,
            order_id=submitted.order_id,
            line_item_id=item.line_item_id,
            quantity=item.quantity,
            reason_id=item.reason_id,
            cancellation_type=item.cancellation_type,
            status="waiting",
            description=item.description,
            shipping_company_id=item.shipping_company_id,
            pickup_date=item.pickup_date,
            loyalty_money=submitted.fully_refund_as_loyalty_money,
            iban_last4=last4,
            refund_method=None,
            created_at=submitted.submitted_at,
            updated_at=submitted.submitted_at,
        )
        for item in submitted.items
    ]


def refund_method(request: CancellationRequest, captured: Decimal | None, has_customer: bool) -> RefundMethod | None:
    """How an approved request pays back: loyalty money when the guest asked for it (and the order
    has a customer to credit), a bank transfer when they gave an IBAN, else the original payment.
    None when the order (`captured`, None when the worker has no copy of it yet) took no money."""
    if captured is not None and captured <= 0:
        return None
    if request.loyalty_money and has_customer:
        return "loyalty_money"
    if request.iban_last4 is not None:
        return "bank_transfer"
    return "original"
