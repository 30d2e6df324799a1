"""The contract of cancellations and refunds: the payment service's commands, the guest requests
order_api hands the cancellation worker, the worker's decisions, and what it publishes.

What goes on cancellations.events is fanned out to webhook subscribers, so it carries no IBAN and no
account holder's name: those travel only on cancellations.requests (order_api -> worker) and in a
bank-transfer refund command on payments.commands (worker -> payment service).
"""

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime

from shared import orders
from shared.channels import OrderSourced
from shared.order_facts import PaymentFact
from shared.orders import Snapshot

# Defined with the order's refunds (each carries its method), and named here for the requests' contract.
RefundMethod = orders.RefundMethod
CancellationType = Literal["cancel", "refund"]
RequestStatus = Literal["waiting", "approved", "rejected", "completed"]
LedgerStatus = Literal["requested", "succeeded", "failed"]
RestockType = Literal["no_restock", "cancel", "return"]


class BankAccount(Snapshot):
    iban: str
    holder_name: str


# ---- cancellations.requests: accepted guest requests, order_api -> cancellation worker ----------


class SubmittedItem(Snapshot):
    request_id: int
    line_item_id: int
    quantity: int
    reason_id: int
    cancellation_type: CancellationType
    description: str | None = None
    shipping_company_id: int | None = None
    pickup_date: str | None = None


class CancellationSubmitted(OrderSourced):
    """`cancellation.submitted`: one guest request or a bulk one, accepted by order_api; the only
    event that carries the refund's bank account. Its `source_name` is the order's, so that the
    worker's `cancellation.requested` carries the order's channel even before the worker has a copy of
    the order (the two arrive on different topics)."""

    order_id: int
    items: list[SubmittedItem]
    bank_account: BankAccount | None = None
    pickup_address_id: int | None = None
    fully_refund_as_loyalty_money: bool = False
    submitted_at: AwareDatetime


# ---- orders.ingest: the worker's decisions and a warehouse's returns, for order_api -------------


class CancellationDecision(Snapshot):
    """`cancellation.decided`: the worker approved a guest request (order_api cancels the units and,
    when money was captured, opens a pending refund of them by `refund_method`) or rejected it (order_api
    clears the item's active-request flag)."""

    order_id: int
    request_id: int
    line_item_id: int
    quantity: int
    decision: Literal["approved", "rejected"]
    refund_method: RefundMethod | None = None  # approved requests; None when nothing is paid back


class ReturnReceived(Snapshot):
    """`return.received`: a warehouse received units of a line item back."""

    order_id: int
    line_item_id: int
    quantity: int


class CancellationReason(Snapshot):
    """`cancellation.reason.upserted`: a reason a guest may give."""

    id: int
    name: str
    active: bool = True


class ShippingCompany(Snapshot):
    """`shipping_company.upserted`: a carrier; only active easy-return ones take guest returns."""

    id: int
    name: str
    easy_return: bool = True
    active: bool = True


# ---- cancellations.events: what the worker did, for anyone (webhooks too) ------------------------


class CancellationRequestData(OrderSourced):
    """`cancellation.requested`, `.approved`, `.rejected`, `.completed`: a guest request and its status."""

    request_id: int
    order_id: int
    line_item_id: int
    quantity: int
    reason_id: int
    cancellation_type: CancellationType
    status: RequestStatus
    description: str | None = None
    shipping_company_id: int | None = None
    iban_last4: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class RefundData(OrderSourced):
    """One ledger entry of a refund (or a void): `refund.requested`, `refund.succeeded`, `refund.failed`
    on cancellations.events, and, as a command to the payment service on payments.commands,
    `refund.requested` / `void.requested`, where `ledger_entry_id` is the idempotency key (a retry of a
    failed refund is a new entry, so a new key). Only a bank-transfer command carries `bank_account`;
    what goes on cancellations.events never does."""

    order_id: int
    refund_id: int | None  # the order's refund; None for a void
    ledger_entry_id: uuid.UUID
    kind: Literal["refund", "void"]
    method: RefundMethod
    amount: Decimal
    currency: str
    status: LedgerStatus
    error: str | None = None
    bank_account: BankAccount | None = None


def payment_answer(command: RefundData, gateway: str | None, error: str | None = None) -> PaymentFact:
    """The payment service's answer to a command, as a `payment.*` fact for order_api: it names the
    order's refund and the ledger entry (the idempotency key, also the transaction's `authorization`,
    which is how the worker finds its entry in the order)."""
    return PaymentFact(
        order_id=command.order_id,
        amount=command.amount,
        currency=command.currency,
        gateway=gateway,
        authorization=str(command.ledger_entry_id),
        refund_id=command.refund_id,
        ledger_entry_id=command.ledger_entry_id,
        error=error,
    )


class LoyaltyCreditedData(OrderSourced):
    """`loyalty.credited`: money credited to a customer's loyalty balance instead of paid back."""

    order_id: int
    customer_id: int
    ledger_entry_id: uuid.UUID
    amount: Decimal
    currency: str
    balance: Decimal


class RestockRequestedData(OrderSourced):
    """`inventory.restock_requested`: units an inventory service may sell again."""

    order_id: int
    line_item_id: int
    variant_id: int | None
    sku: str | None
    quantity: int
    reason: Literal["cancel", "return"]
