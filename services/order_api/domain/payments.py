"""Payments: the financial status transactions add up to, and payment facts applied to an order."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.limits import MAX_TRANSACTIONS, check_count
from services.order_api.domain.money import check_money, money
from shared.order_facts import PaymentFact
from shared.orders import FinancialStatus, OrderSnapshot, Transaction, TransactionKind

PaymentKind = Literal["authorized", "captured", "voided"]
_TRANSACTION_KIND: Final[dict[PaymentKind, TransactionKind]] = {
    "authorized": "authorization",
    "captured": "capture",
    "voided": "void",
}
_REFUND_STATUSES: Final[frozenset[FinancialStatus]] = frozenset({"refunded", "partially_refunded"})


def succeeded(transactions: Sequence[Transaction], *kinds: TransactionKind) -> Decimal:
    """What the successful transactions of these kinds add up to."""
    return sum((tx.amount for tx in transactions if tx.kind in kinds and tx.status == "success"), Decimal(0))


def paid_amount(order: OrderSnapshot, *kinds: TransactionKind) -> Decimal:
    """What the order's successful transactions of these kinds add up to, at its currency's precision."""
    return money(succeeded(order.transactions, *kinds), order.currency)


def refunded_amount(order: OrderSnapshot) -> Decimal:
    """The money that went back: the order's successful refund transactions (a refund still pending
    or failed has paid nothing back yet), at its currency's precision."""
    return paid_amount(order, "refund")


def ledger_entry(fact: PaymentFact) -> str | None:
    """What a payment answer's transaction records as its authorization: the cancellation worker's
    ledger entry it settles (the command's idempotency key), else the gateway's own reference."""
    return str(fact.ledger_entry_id) if fact.ledger_entry_id is not None else fact.authorization


def is_recorded(order: OrderSnapshot, fact: PaymentFact) -> bool:
    """Whether the answer to this ledger entry is on the order already (a payment service that answered
    twice): it is recorded once."""
    return fact.ledger_entry_id is not None and any(
        tx.authorization == str(fact.ledger_entry_id) for tx in order.transactions
    )


def financial_status(total: Decimal, transactions: Sequence[Transaction]) -> FinancialStatus:
    """The payment status the successful transactions add up to."""
    captured = succeeded(transactions, "sale", "capture")
    refunded = succeeded(transactions, "refund")
    if refunded > 0:
        return "refunded" if refunded >= captured else "partially_refunded"
    if captured > 0:
        return "paid" if captured >= total else "partially_paid"
    if succeeded(transactions, "void") > 0:
        return "voided"
    if succeeded(transactions, "authorization") > 0:
        return "authorized"
    return "paid" if total == 0 else "pending"


def stated_financial_status(
    stated: FinancialStatus | None, total: Decimal, transactions: Sequence[Transaction]
) -> FinancialStatus:
    """A new order's payment status: the one stated (an import knows its history better than its
    transactions may tell), else what the transactions make it. Money never goes back that did not
    come in, though: refunds may not exceed what was captured, and an order is refunded exactly when
    its refund transactions make it so."""
    captured, refunded = succeeded(transactions, "sale", "capture"), succeeded(transactions, "refund")
    if refunded > captured:
        raise OrderRuleError(
            "transactions",
            "refund_exceeds_captured",
            f"refunds add up to {refunded}, more than the {captured} captured",
        )
    computed = financial_status(total, transactions)
    if stated is None:
        return computed
    if (stated in _REFUND_STATUSES or computed in _REFUND_STATUSES) and stated != computed:
        raise OrderRuleError(
            "financial_status",
            "financial_status_mismatch",
            f"the transactions make the order {computed}, not {stated}: refunds are what refund transactions make",
        )
    return stated


def apply_payment(
    order: OrderSnapshot, kind: PaymentKind, fact: PaymentFact, transaction_id: int, now: datetime
) -> tuple[OrderSnapshot, str]:
    """Record a payment fact; returns the order and the event it warrants (`order.paid` when it becomes paid)."""
    if fact.currency != order.currency:
        raise OrderRuleError("currency", "currency_mismatch", f"payment in {fact.currency}, order in {order.currency}")
    if order.status == "cancelled" and kind != "voided":
        raise OrderStateError("status", "order_cancelled", "a cancelled order takes no payment")
    if kind == "voided" and order.financial_status == "voided":
        # Another answer (another key) voiding what is voided already would record a second void.
        raise OrderStateError("financial_status", "already_voided", "the order's authorization is voided already")
    transaction = Transaction(
        id=transaction_id,
        kind=_TRANSACTION_KIND[kind],
        status="success",
        amount=check_money(fact.amount, order.currency, "amount"),
        currency=order.currency,
        gateway=fact.gateway,
        authorization=ledger_entry(fact),
        created_at=now,
    )
    transactions = [*order.transactions, transaction]
    check_count("transactions", len(transactions), MAX_TRANSACTIONS)
    status = financial_status(order.total_price, transactions)
    updated = order.model_copy(update={"transactions": transactions, "financial_status": status, "updated_at": now})
    became_paid = status == "paid" and order.financial_status != "paid"
    return updated, "order.paid" if became_paid else "order.updated"
