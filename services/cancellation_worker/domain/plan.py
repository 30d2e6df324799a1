"""What an order event asks of the ledger: which attempts it settles (a refund or void transaction
naming an attempt's key), which payments to start (each pending refund the ledger has no attempt for,
the void of a cancelled order that was only authorized) and which units go back to stock."""

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from services.cancellation_worker.domain.ledger import (
    Attempt,
    LedgerEntry,
    LedgerRefused,
    PaymentKind,
    authorized_uncaptured,
    check_refund,
    needs_void,
    of_refund,
)
from services.cancellation_worker.domain.requests import CancellationRequest
from shared.cancellations import RefundMethod
from shared.orders import OrderSnapshot, Refund, Transaction

DECLINED = "declined by the payment service"


class UnknownRequest(LookupError):
    """A refund pays back a guest request the worker never received."""


@dataclass(frozen=True, slots=True)
class Settlement:
    attempt: Attempt
    outcome: Literal["succeeded", "failed"]
    error: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    """An attempt to start: a refund of one of the order's refunds, or the void of its authorization.
    `refusal` is set when the ledger may not make it: it is recorded as failed at once."""

    kind: PaymentKind
    refund: Refund | None
    method: RefundMethod
    amount: Decimal
    request: CancellationRequest | None
    refusal: LedgerRefused | None = None


@dataclass(frozen=True, slots=True)
class Restock:
    line_item_id: int
    variant_id: int | None
    sku: str | None
    quantity: int
    reason: Literal["cancel", "return"]


@dataclass
class OrderPlan:
    settlements: list[Settlement] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    restocks: list[Restock] = field(default_factory=list)


def _payment_transactions(order: OrderSnapshot) -> Iterator[Transaction]:
    yield from order.transactions
    for refund in order.refunds:
        yield from refund.transactions


def _key(authorization: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(authorization) if authorization else None
    except ValueError:
        return None


def settlements(order: OrderSnapshot, history: Sequence[Attempt]) -> list[Settlement]:
    """The outstanding attempts the order's refund and void transactions answer (their
    `authorization` is the attempt's key), each once."""
    waiting = {attempt.key: attempt for attempt in history if attempt.outstanding}
    found: dict[uuid.UUID, Settlement] = {}
    for tx in _payment_transactions(order):
        key = _key(tx.authorization)
        if key is None or key not in waiting or key in found or tx.kind not in ("refund", "void"):
            continue
        if tx.status == "success":
            found[key] = Settlement(waiting[key], "succeeded", None)
        elif tx.status in ("failure", "error"):
            found[key] = Settlement(waiting[key], "failed", DECLINED)
    return list(found.values())


def restocks(order: OrderSnapshot, refund: Refund) -> list[Restock]:
    """The units a refund puts back: each line whose `restock_type` says so, every line when the cancel
    asked to restock (all of the order's cancelled units when the refund names no lines)."""
    items = {item.id: item for item in order.line_items}
    found: list[Restock] = []
    for line in refund.refund_line_items:
        reason = line.restock_type if line.restock_type != "no_restock" else ("cancel" if refund.restock else None)
        item = items.get(line.line_item_id)
        if reason is not None and line.quantity > 0:
            found.append(
                Restock(
                    line.line_item_id,
                    item.variant_id if item else None,
                    item.sku if item else None,
                    line.quantity,
                    reason,
                )
            )
    if refund.restock and not refund.refund_line_items:
        for item in order.line_items:
            units = item.cancelled_quantity or item.quantity
            if units > 0:
                found.append(Restock(item.id, item.variant_id, item.sku, units, "cancel"))
    return found


def plan_order(
    order: OrderSnapshot, history: Sequence[Attempt], requests: Mapping[int, CancellationRequest]
) -> OrderPlan:
    """What the ledger does about `order` as this event shows it. Settlements come first, so the money
    they release counts before new payments are capped."""
    plan = OrderPlan(settlements=settlements(order, history))
    settled = {settlement.attempt.key: settlement for settlement in plan.settlements}
    after = [
        Attempt(attempt.requested, replace(attempt.requested, entry_type=settled[attempt.key].outcome))
        if attempt.key in settled
        else attempt
        for attempt in history
    ]
    pending = [refund for refund in order.refunds if refund.status == "pending" and not of_refund(after, refund.id)]
    if needs_void(order, after):
        refund = pending.pop(0) if pending else None
        plan.payments.append(Payment("void", refund, "original", authorized_uncaptured(order), None))
        if refund is not None:
            plan.restocks.extend(restocks(order, refund))
    held: list[Attempt] = list(after)
    for refund in pending:
        request = None
        if refund.cancellation_request_id is not None:
            request = requests.get(refund.cancellation_request_id)
            if request is None:
                raise UnknownRequest(f"refund {refund.id} pays back request {refund.cancellation_request_id}, unknown")
        method = (request.refund_method if request else None) or "original"
        plan.restocks.extend(restocks(order, refund))  # the units were cancelled, whatever the money does
        try:
            check_refund(order, held, refund.id, refund.amount)
        except LedgerRefused as refusal:
            plan.payments.append(Payment("refund", refund, method, refund.amount, request, refusal))
            continue
        plan.payments.append(Payment("refund", refund, method, refund.amount, request))
        held.append(_placeholder(order, refund))
    return plan


def asks_nothing(order: OrderSnapshot) -> bool:
    """Whether an order the ledger holds no entry of asks nothing of it: no payment to start, no units
    to restock, no refund paying back a request (the worker's copy of it is all its event changes)."""
    try:
        plan = plan_order(order, [], {})
    except UnknownRequest:
        return False
    return not (plan.settlements or plan.payments or plan.restocks)


def _placeholder(order: OrderSnapshot, refund: Refund) -> Attempt:
    """An outstanding attempt standing for a payment just planned, so the next one is capped with it."""
    entry = LedgerEntry(
        uuid.uuid4(), uuid.uuid4(), "requested", order.id, refund.id, "refund", "original",
        refund.amount, order.currency, None, order.updated_at,
    )  # fmt: skip
    return Attempt(entry, None)
