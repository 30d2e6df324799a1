"""The cancellation worker's rules without I/O: the guest requests' state machine, the refund
ledger's rules, and what an order event asks of the ledger."""

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.cancellation_worker.domain.ledger import (
    LedgerEntry,
    LedgerRefused,
    PaymentKind,
    attempts,
    check_refund,
    check_retry,
    needs_void,
)
from services.cancellation_worker.domain.plan import DECLINED, UnknownRequest, plan_order
from services.cancellation_worker.domain.requests import (
    CancellationRequest,
    InvalidSubmission,
    RequestRefused,
    refund_method,
    requests_from,
)
from shared.cancellations import CancellationSubmitted, LedgerStatus, RequestStatus
from tests.support.cancellations import IBAN, answered, paid_order, refund, submission, with_refunds

NOW = datetime.now(UTC)
ORDER = 4242
TEA, POT = ORDER * 10 + 1, ORDER * 10 + 2


def entry(
    key: uuid.UUID,
    entry_type: LedgerStatus = "requested",
    *,
    refund_id: int | None = 1,
    amount: str = "20.00",
    kind: PaymentKind = "refund",
) -> LedgerEntry:
    entry_id = key if entry_type == "requested" else uuid.uuid4()
    return LedgerEntry(entry_id, key, entry_type, ORDER, refund_id, kind, "original", Decimal(amount), "USD", None, NOW)


def waiting(data: object) -> list[CancellationRequest]:
    assert isinstance(data, CancellationSubmitted)
    return requests_from(data)


# ---- the requests' state machine --------------------------------------------------------------


def test_a_submission_gives_one_waiting_request_per_item_and_keeps_only_the_ibans_last_four() -> None:
    requests = waiting(submission(ORDER, (TEA, 1, "cancel"), (POT, 1, "refund"), iban=IBAN).data)

    assert [(r.line_item_id, r.quantity, r.cancellation_type, r.status) for r in requests] == [
        (TEA, 1, "cancel", "waiting"),
        (POT, 1, "refund", "waiting"),
    ]
    assert {r.iban_last4 for r in requests} == {IBAN[-4:]}
    assert IBAN not in repr(requests)


@pytest.mark.parametrize(
    ("path", "to", "allowed"),
    [
        ((), "approved", True),
        ((), "rejected", True),
        (("approved",), "completed", True),
        ((), "completed", False),
        (("approved",), "rejected", False),
        (("approved",), "approved", False),
        (("rejected",), "approved", False),
        (("approved", "completed"), "approved", False),
    ],
)
def test_the_state_machine_allows_only_its_steps(
    path: tuple[RequestStatus, ...], to: RequestStatus, allowed: bool
) -> None:
    [request] = waiting(submission(ORDER, (TEA, 1, "refund")).data)
    for step in path:
        request = request.moved_to(step, NOW)
    if allowed:
        assert request.moved_to(to, NOW).status == to
    else:
        with pytest.raises(RequestRefused):
            request.moved_to(to, NOW)


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([], "no_items"),
        ([(TEA, 1, "cancel"), (TEA, 1, "refund")], "duplicate_line_item"),
        ([(TEA, 0, "cancel")], "invalid_item"),
    ],
)
def test_a_submission_that_can_never_be_taken_is_refused(items: list[tuple[int, int, str]], code: str) -> None:
    event = submission(ORDER, *((line, quantity, "cancel") for line, quantity, _ in items))
    with pytest.raises(InvalidSubmission) as refused:
        waiting(event.data)
    assert refused.value.code == code


def test_an_approval_pays_back_as_loyalty_money_a_bank_transfer_or_the_original_payment() -> None:
    [plain] = waiting(submission(ORDER, (TEA, 1, "cancel")).data)
    [with_iban] = waiting(submission(ORDER, (TEA, 1, "cancel"), iban=IBAN).data)
    [loyal] = waiting(submission(ORDER, (TEA, 1, "cancel"), iban=IBAN, loyalty=True).data)

    assert refund_method(plain, Decimal("50.00"), True) == "original"
    assert refund_method(with_iban, Decimal("50.00"), True) == "bank_transfer"
    assert refund_method(loyal, Decimal("50.00"), True) == "loyalty_money"
    assert refund_method(loyal, Decimal("50.00"), False) == "bank_transfer", "no customer to credit"
    assert refund_method(loyal, None, True) == "loyalty_money", "the order not seen yet: as asked"
    assert refund_method(plain, Decimal(0), True) is None, "nothing was captured: nothing to pay back"


# ---- the ledger's rules ------------------------------------------------------------------------


def test_entries_fold_into_attempts_each_settled_by_the_entry_with_its_key() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    history = attempts([entry(first), entry(first, "failed"), entry(second)])

    assert [(attempt.key, attempt.status) for attempt in history] == [(first, "failed"), (second, "requested")]


def test_a_refund_gets_no_second_attempt_while_one_is_outstanding_or_after_one_succeeded() -> None:
    order = paid_order(ORDER)
    key = uuid.uuid4()
    for history, code in (
        ([entry(key)], "refund_in_progress"),
        ([entry(key), entry(key, "succeeded")], "refund_already_succeeded"),
    ):
        with pytest.raises(LedgerRefused) as refused:
            check_refund(order, attempts(history), 1, Decimal("20.00"))
        assert refused.value.code == code
    check_refund(order, attempts([entry(key), entry(key, "failed")]), 1, Decimal("20.00"))  # a retry may


def test_the_ledger_never_requests_more_than_captured_less_refunded_less_outstanding() -> None:
    key = uuid.uuid4()
    order = answered(with_refunds(paid_order(ORDER), refund(1, "10.00")), 1, key, "10.00")  # 10 of 50 refunded
    outstanding = attempts([entry(key), entry(key, "succeeded"), entry(uuid.uuid4(), refund_id=2, amount="25.00")])

    check_refund(order, outstanding, 3, Decimal("15.00"))
    with pytest.raises(LedgerRefused) as refused:
        check_refund(order, outstanding, 3, Decimal("15.01"))
    assert refused.value.code == "refund_exceeds_captured"
    with pytest.raises(LedgerRefused):
        check_refund(paid_order(ORDER, captured=False), [], 1, Decimal("0.01"))


def test_only_a_refund_whose_last_attempt_failed_may_be_retried() -> None:
    key, again = uuid.uuid4(), uuid.uuid4()
    assert check_retry(attempts([entry(key), entry(key, "failed")]), 1).key == key
    for history, code in (
        ([], "refund_not_found"),
        ([entry(key)], "refund_not_failed"),
        ([entry(key), entry(key, "failed"), entry(again), entry(again, "succeeded")], "refund_not_failed"),
    ):
        with pytest.raises(LedgerRefused) as refused:
            check_retry(attempts(history), 1)
        assert refused.value.code == code


def test_a_cancelled_order_only_authorized_is_voided_once() -> None:
    authorized = paid_order(ORDER, captured=False, status="cancelled")
    key = uuid.uuid4()

    assert needs_void(authorized, [])
    assert not needs_void(paid_order(ORDER, captured=False), []), "not cancelled"
    assert not needs_void(paid_order(ORDER, status="cancelled"), []), "captured: refunded instead"
    assert not needs_void(authorized, attempts([entry(key, kind="void", refund_id=None)]))
    assert needs_void(authorized, attempts([entry(key, kind="void"), entry(key, "failed", kind="void")]))


# ---- what an order event asks ------------------------------------------------------------------


def test_each_pending_refund_without_an_attempt_is_paid_and_its_lines_restocked() -> None:
    order = with_refunds(
        paid_order(ORDER),
        refund(1, "20.00", lines=[(TEA, 2, "cancel")]),
        refund(2, "30.00", lines=[(POT, 1, "no_restock")], restock=True),
    )

    plan = plan_order(order, [], {})

    assert [(p.kind, p.refund and p.refund.id, p.amount, p.refusal) for p in plan.payments] == [
        ("refund", 1, Decimal("20.00"), None),
        ("refund", 2, Decimal("30.00"), None),
    ]
    assert [(r.line_item_id, r.quantity, r.reason, r.sku) for r in plan.restocks] == [
        (TEA, 2, "cancel", "TEA-1"),
        (POT, 1, "cancel", "POT-1"),
    ]


def test_refunds_beyond_what_was_captured_are_refused_together_not_one_by_one() -> None:
    order = with_refunds(paid_order(ORDER), refund(1, "40.00"), refund(2, "40.00"))

    plan = plan_order(order, [], {})

    assert [p.refusal.code if p.refusal else None for p in plan.payments] == [None, "refund_exceeds_captured"]


def test_an_answer_naming_an_attempt_settles_it_and_a_refund_with_an_attempt_is_not_paid_again() -> None:
    ok, declined = uuid.uuid4(), uuid.uuid4()
    order = with_refunds(paid_order(ORDER), refund(1, "20.00"), refund(2, "13.13"))
    order = answered(answered(order, 1, ok, "20.00"), 2, declined, "13.13", ok=False)
    history = attempts([entry(ok), entry(declined, refund_id=2, amount="13.13")])

    plan = plan_order(order, history, {})

    assert [(s.attempt.key, s.outcome, s.error) for s in plan.settlements] == [
        (ok, "succeeded", None),
        (declined, "failed", DECLINED),
    ]
    assert plan.payments == []
    assert plan_order(order, attempts([entry(ok), entry(ok, "succeeded")]), {}).settlements == []


def test_a_cancelled_authorized_order_is_voided_with_its_zero_refund_not_refunded() -> None:
    order = with_refunds(paid_order(ORDER, captured=False, status="cancelled"), refund(9, "0.00", restock=True))

    plan = plan_order(order, [], {})

    assert [(p.kind, p.refund and p.refund.id, p.amount) for p in plan.payments] == [("void", 9, Decimal("50.00"))]
    assert [(r.line_item_id, r.quantity) for r in plan.restocks] == [(TEA, 2), (POT, 1)]


def test_a_refund_paying_back_a_request_uses_the_requests_method_and_an_unknown_request_is_refused() -> None:
    [request] = waiting(submission(ORDER, (TEA, 1, "cancel"), iban=IBAN, first_request_id=77).data)
    approved = request.moved_to("approved", NOW)
    order = with_refunds(paid_order(ORDER), refund(1, "10.00", request_id=77))

    assert [p.method for p in plan_order(order, [], {77: approved}).payments] == ["original"]  # none decided
    decided = dataclasses.replace(approved, refund_method="bank_transfer")
    assert [(p.method, p.request) for p in plan_order(order, [], {77: decided}).payments] == [
        ("bank_transfer", decided)
    ]

    with pytest.raises(UnknownRequest):
        plan_order(order, [], {})
