"""The refund ledger's rules. The ledger is append-only: a `requested` entry is an attempt to send
money back (its id is the idempotency key the payment service sees), and a `succeeded` or `failed`
entry with the same key settles it. An attempt is outstanding until settled.

- A refund gets a new attempt only when it has none outstanding and none succeeded (a retry follows a
  failure, with a new key).
- The money requested never exceeds what the order captured, less what it refunded, less what the
  ledger's outstanding attempts hold (shared/refund_math.room).
- An order is voided at most once (a void that failed may be tried again).
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from shared.cancellations import LedgerStatus, RefundMethod
from shared.orders import OrderSnapshot
from shared.refund_math import room
from shared.rules import RuleError

PaymentKind = Literal["refund", "void"]


class LedgerRefused(RuleError):
    """An attempt the ledger may not make; `code` says why."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    entry_id: uuid.UUID
    idempotency_key: uuid.UUID  # the requested entry's id: the key the payment service sees
    entry_type: LedgerStatus
    order_id: int
    refund_id: int | None  # None for a void of an order without a refund
    kind: PaymentKind
    method: RefundMethod
    amount: Decimal
    currency: str
    error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LoyaltyCredit:
    """Money credited to a customer's loyalty balance by a refund attempt, and the balance after it."""

    order_id: int
    ledger_entry_id: uuid.UUID
    amount: Decimal
    currency: str
    balance: Decimal
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """A `requested` entry and, once answered, the entry that settled it."""

    requested: LedgerEntry
    settled: LedgerEntry | None

    @property
    def key(self) -> uuid.UUID:
        return self.requested.idempotency_key

    @property
    def status(self) -> LedgerStatus:
        return self.settled.entry_type if self.settled is not None else "requested"

    @property
    def outstanding(self) -> bool:
        return self.settled is None


def attempts(entries: Iterable[LedgerEntry]) -> list[Attempt]:
    """The ledger's entries folded into attempts, in the order they were requested."""
    settlements = {entry.idempotency_key: entry for entry in entries if entry.entry_type != "requested"}
    return [
        Attempt(entry, settlements.get(entry.idempotency_key)) for entry in entries if entry.entry_type == "requested"
    ]


def of_refund(history: Sequence[Attempt], refund_id: int) -> list[Attempt]:
    return [
        attempt
        for attempt in history
        if attempt.requested.kind == "refund" and attempt.requested.refund_id == refund_id
    ]


def outstanding_refunds(history: Sequence[Attempt]) -> Decimal:
    """The money the ledger's unanswered refund attempts hold."""
    return sum(
        (attempt.requested.amount for attempt in history if attempt.outstanding and attempt.requested.kind == "refund"),
        Decimal(0),
    )


def check_refund(order: OrderSnapshot, history: Sequence[Attempt], refund_id: int, amount: Decimal) -> None:
    """May the ledger ask the payment service to refund `amount` for the order's refund `refund_id`?"""
    mine = of_refund(history, refund_id)
    if any(attempt.status == "succeeded" for attempt in mine):
        raise LedgerRefused("refund_id", "refund_already_succeeded", f"refund {refund_id} was paid already")
    if any(attempt.outstanding for attempt in mine):
        raise LedgerRefused("refund_id", "refund_in_progress", f"refund {refund_id} awaits the payment service")
    if amount < 0:
        raise LedgerRefused("amount", "invalid_amount", f"a refund of {amount} {order.currency}")
    left = room(order, outstanding_refunds(history))
    if amount > left:
        raise LedgerRefused(
            "amount",
            "refund_exceeds_captured",
            f"refund {refund_id} of {amount} {order.currency} is more than the {left} left of what was captured",
        )


def check_retry(history: Sequence[Attempt], refund_id: int) -> Attempt:
    """The failed attempt an operator's retry repeats: the refund's last one, which must have failed."""
    mine = of_refund(history, refund_id)
    if not mine:
        raise LedgerRefused("refund_id", "refund_not_found", f"the ledger has no attempt for refund {refund_id}")
    last = mine[-1]
    if last.status != "failed":
        raise LedgerRefused("refund_id", "refund_not_failed", f"refund {refund_id} is {last.status}, not failed")
    return last


def authorized_uncaptured(order: OrderSnapshot) -> Decimal:
    """What an authorization holds and no capture took: what a void releases (0 when nothing)."""
    captures = [tx for tx in order.transactions if tx.kind in ("sale", "capture") and tx.status == "success"]
    voided = any(tx.kind == "void" and tx.status == "success" for tx in order.transactions)
    if captures or voided:
        return Decimal(0)
    return sum(
        (tx.amount for tx in order.transactions if tx.kind == "authorization" and tx.status == "success"), Decimal(0)
    )


def needs_void(order: OrderSnapshot, history: Sequence[Attempt]) -> bool:
    """A cancelled order whose authorization was never captured is voided, once."""
    if order.status != "cancelled" or authorized_uncaptured(order) <= 0:
        return False
    return not any(attempt.requested.kind == "void" and attempt.status != "failed" for attempt in history)
