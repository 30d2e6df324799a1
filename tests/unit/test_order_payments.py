"""Payments (services/order_api/domain/payments.py): the financial status transactions make, the status a
new order may state, and payment facts applied to an order. Pure functions, no I/O."""

from decimal import Decimal
from typing import Any

import pytest

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.payments import financial_status
from shared.orders import FinancialStatus, Transaction, TransactionKind
from tests.support.order_rules import (
    LATER,
    NOW,
    build,
    custom,
    in_state,
    order,
    pay,
    rule_error,
)


def _paid_with(*transactions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return order(custom("100.00"), transactions=list(transactions), **fields)


@pytest.mark.parametrize(
    "transactions",
    [
        [{"kind": "refund", "amount": "10.00"}],
        [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.01"}],
        [{"kind": "authorization", "amount": "100.00"}, {"kind": "refund", "amount": "50.00"}],
        [
            {"kind": "sale", "amount": "40.00"},
            {"kind": "refund", "amount": "30.00"},
            {"kind": "refund", "amount": "20.00"},
        ],
    ],
)
def test_refunds_beyond_what_was_captured_are_refused(transactions: list[dict[str, Any]]) -> None:
    error = rule_error(_paid_with(*transactions))

    assert (error.field, error.code) == ("transactions", "refund_exceeds_captured")


@pytest.mark.parametrize(
    ("transactions", "stated", "computed"),
    [
        ([], "refunded", "pending"),
        ([], "partially_refunded", "pending"),
        ([{"kind": "sale", "amount": "100.00"}], "refunded", "paid"),
        (
            [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "10.00"}],
            "refunded",
            "partially_refunded",
        ),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00"}], "paid", "refunded"),
        (
            [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00", "status": "pending"}],
            "refunded",
            "paid",
        ),
    ],
)
def test_a_refund_status_is_only_what_refund_transactions_make(
    transactions: list[dict[str, Any]], stated: str, computed: str
) -> None:
    error = rule_error(_paid_with(*transactions, financial_status=stated))

    assert (error.field, error.code) == ("financial_status", "financial_status_mismatch")
    assert f"make the order {computed}, not {stated}" in error.message


@pytest.mark.parametrize(
    ("transactions", "stated"),
    [
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00"}], "refunded"),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "40.00"}], "partially_refunded"),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "40.00"}], None),
        ([], "paid"),  # Haravan's default for an order created without transactions
        ([{"kind": "authorization", "amount": "50.00"}], "partially_paid"),  # the document's new-customer example
    ],
)
def test_a_stated_status_stands_unless_refunds_say_otherwise(
    transactions: list[dict[str, Any]], stated: FinancialStatus | None
) -> None:
    created = build(_paid_with(*transactions, financial_status=stated))

    assert created.financial_status == (stated or "partially_refunded")


def _tx(kind: TransactionKind, amount: str, status: str = "success") -> Transaction:
    return Transaction.model_validate(
        {"id": 1, "kind": kind, "status": status, "amount": amount, "currency": "USD", "created_at": NOW}
    )


@pytest.mark.parametrize(
    ("transactions", "status"),
    [
        ([], "pending"),
        ([_tx("authorization", "100")], "authorized"),
        ([_tx("authorization", "40")], "authorized"),
        ([_tx("authorization", "100", "failure")], "pending"),
        ([_tx("authorization", "100"), _tx("void", "100")], "voided"),
        ([_tx("sale", "40")], "partially_paid"),
        ([_tx("authorization", "100"), _tx("capture", "60")], "partially_paid"),
        ([_tx("capture", "60"), _tx("capture", "40")], "paid"),
        ([_tx("sale", "100")], "paid"),
        ([_tx("sale", "120")], "paid"),
        ([_tx("sale", "100", "error")], "pending"),
        ([_tx("sale", "100"), _tx("refund", "30")], "partially_refunded"),
        ([_tx("sale", "100"), _tx("refund", "100")], "refunded"),
        ([_tx("sale", "100"), _tx("refund", "30"), _tx("refund", "70")], "refunded"),
        ([_tx("sale", "100"), _tx("refund", "100", "pending")], "paid"),
    ],
)
def test_financial_status_of_transaction_mixes(transactions: list[Transaction], status: FinancialStatus) -> None:
    assert financial_status(Decimal(100), transactions) == status


def test_a_free_order_with_no_transactions_is_paid() -> None:
    assert financial_status(Decimal(0), []) == "paid"


# ---- payments ---------------------------------------------------------------------------------------------


def test_order_paid_is_emitted_only_on_the_transition_to_paid() -> None:
    created = build(order(custom("100.00")))

    authorized, event = pay(created, "authorized", "100.00", tx_id=901)
    assert (authorized.financial_status, event) == ("authorized", "order.updated")

    partly, event = pay(authorized, "captured", "60.00", tx_id=902)
    assert (partly.financial_status, event) == ("partially_paid", "order.updated")

    paid, event = pay(partly, "captured", "40.00", tx_id=903)
    assert (paid.financial_status, event) == ("paid", "order.paid")

    again, event = pay(paid, "captured", "1.00", tx_id=904)
    assert (again.financial_status, event) == ("paid", "order.updated")

    assert [(tx.id, tx.kind, str(tx.amount)) for tx in again.transactions] == [
        (901, "authorization", "100.00"),
        (902, "capture", "60.00"),
        (903, "capture", "40.00"),
        (904, "capture", "1.00"),
    ]
    assert again.transactions[-1].gateway == "stripe"
    assert again.updated_at == LATER


def test_a_void_after_authorization_voids() -> None:
    authorized, _ = pay(build(order(custom("100.00"))), "authorized", "100.00")

    voided, event = pay(authorized, "voided", "100.00")

    assert (voided.financial_status, event) == ("voided", "order.updated")
    with pytest.raises(OrderStateError) as caught:  # another answer voiding it again
        pay(voided, "voided", "100.00")
    assert (caught.value.field, caught.value.code) == ("financial_status", "already_voided")


def test_payment_in_another_currency_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        pay(build(order(custom("100.00"))), "captured", "100.00", currency="EUR")

    assert (caught.value.field, caught.value.code) == ("currency", "currency_mismatch")
    assert not isinstance(caught.value, OrderStateError)


def test_a_cancelled_order_takes_no_payment_but_a_void() -> None:
    cancelled = in_state(status="cancelled", financial_status="authorized")

    with pytest.raises(OrderStateError) as caught:
        pay(cancelled, "captured", "100.00")
    assert (caught.value.field, caught.value.code) == ("status", "order_cancelled")

    voided, _ = pay(cancelled, "voided", "100.00")
    assert voided.financial_status == "voided"


def test_a_too_precise_payment_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        pay(build(order(custom("100"), currency="JPY")), "captured", "99.5", currency="JPY")

    assert (caught.value.field, caught.value.code) == ("amount", "too_precise")
