"""Orders, refunds and guest submissions as order_api publishes them, for the cancellation worker's
tests (unit, integration and end to end): a paid order of two lines, its pending refunds, the
payment service's answers as the order shows them once order_api applied them."""

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from shared.cancellations import BankAccount, CancellationSubmitted, CancellationType, SubmittedItem
from shared.events import Event
from shared.orders import (
    CustomerSnapshot,
    LineItemSnapshot,
    OrderLifecycleData,
    OrderSnapshot,
    OrderStatus,
    Refund,
    RefundLine,
    RestockType,
    Transaction,
    TransactionKind,
    TransactionStatus,
)

IBAN = "DE89370400440532013000"  # a valid example IBAN (mod 97)


def new_order_id() -> int:
    """An order id no other test uses."""
    return random.randrange(10**12, 10**13)


def transaction(
    kind: TransactionKind,
    amount: Decimal | str,
    *,
    status: TransactionStatus = "success",
    authorization: str | None = None,
) -> Transaction:
    return Transaction(
        id=random.randrange(1, 2**62),
        kind=kind,
        status=status,
        amount=Decimal(amount),
        currency="USD",
        gateway="bogus",
        authorization=authorization,
        created_at=datetime.now(UTC),
    )


def paid_order(
    order_id: int,
    *,
    email: str | None = "guest@example.com",
    customer_id: int | None = None,
    captured: bool = True,
    status: OrderStatus = "open",
) -> OrderSnapshot:
    """Two lines (2 x 10.00 and 1 x 30.00), 50.00 USD, captured (or only authorized)."""
    now = datetime.now(UTC)
    lines = [
        LineItemSnapshot(id=order_id * 10 + 1, variant_id=7001, sku="TEA-1", title="Tea", name="Tea",
                         price=Decimal("10.00"), quantity=2, fulfillable_quantity=2),
        LineItemSnapshot(id=order_id * 10 + 2, variant_id=7002, sku="POT-1", title="Pot", name="Pot",
                         price=Decimal("30.00"), quantity=1, fulfillable_quantity=1),
    ]  # fmt: skip
    customer = CustomerSnapshot(id=customer_id, email=email, created_at=now, updated_at=now) if customer_id else None
    transactions = [transaction("authorization", "50.00")] + ([transaction("capture", "50.00")] if captured else [])
    return OrderSnapshot(
        id=order_id,
        number=order_id,
        order_number=1000 + order_id % 1000,
        name=f"#{order_id}",
        token=f"token-{order_id}",
        email=email,
        currency="USD",
        line_items=lines,
        customer=customer,
        transactions=transactions,
        total_line_items_price=Decimal("50.00"),
        subtotal_price=Decimal("50.00"),
        total_discounts=Decimal("0.00"),
        total_tax=Decimal("0.00"),
        total_price=Decimal("50.00"),
        total_weight=0,
        status=status,
        financial_status="paid" if captured else "authorized",
        guest=customer_id is None,
        created_at=now,
        updated_at=now,
        processed_at=now,
        cancelled_at=now if status == "cancelled" else None,
    )


def refund(
    refund_id: int,
    amount: Decimal | str,
    *,
    lines: Sequence[tuple[int, int, RestockType]] = (),
    notify: bool = False,
    restock: bool = False,
    request_id: int | None = None,
) -> Refund:
    """A pending refund as order_api creates it: `lines` are (line item id, quantity, restock type)."""
    return Refund(
        id=refund_id,
        amount=Decimal(amount),
        status="pending",
        notify=notify,
        restock=restock,
        cancellation_request_id=request_id,
        refund_line_items=[
            RefundLine(line_item_id=line, quantity=quantity, subtotal=Decimal("0"), restock_type=restock_type)
            for line, quantity, restock_type in lines
        ],
        created_at=datetime.now(UTC),
    )


def with_refunds(order: OrderSnapshot, *refunds: Refund, **changes: object) -> OrderSnapshot:
    """The order with these refunds added (and other fields changed)."""
    return order.model_copy(update={"refunds": [*order.refunds, *refunds], **changes})


def answered(order: OrderSnapshot, refund_id: int | None, key: uuid.UUID, amount: Decimal | str, *, ok: bool = True,
             kind: TransactionKind = "refund") -> OrderSnapshot:  # fmt: skip
    """The order once order_api applied the payment service's answer to the attempt `key`: a
    transaction naming the key, on the order and on its refund, and the refund settled."""
    tx = transaction(kind, amount, status="success" if ok else "failure", authorization=str(key))
    refunds = [
        r.model_copy(update={"status": "success" if ok else "failure", "transactions": [*r.transactions, tx]})
        if r.id == refund_id
        else r
        for r in order.refunds
    ]
    return order.model_copy(update={"transactions": [*order.transactions, tx], "refunds": refunds})


def lifecycle(order: OrderSnapshot, sequence: int, event_type: str = "order.updated") -> Event:
    data = OrderLifecycleData(order_id=order.id, sequence=sequence, order=order)
    return Event.new(event_type, "order_api", str(order.id), data, sequence=sequence)


def submission(
    order_id: int,
    *items: tuple[int, int, CancellationType],
    iban: str | None = None,
    loyalty: bool = False,
    first_request_id: int | None = None,
    source_name: str | None = None,
) -> Event:
    """`cancellation.submitted` of (line item id, quantity, type) items, with new request ids, of an
    order from `source_name` (None: as an order_api from before it named it)."""
    first = first_request_id or random.randrange(10**12, 10**13)
    data = CancellationSubmitted(
        order_id=order_id,
        items=[
            SubmittedItem(
                request_id=first + index,
                line_item_id=line,
                quantity=quantity,
                reason_id=1,
                cancellation_type=kind,
                shipping_company_id=1 if kind == "refund" else None,
            )
            for index, (line, quantity, kind) in enumerate(items)
        ],
        bank_account=BankAccount(iban=iban, holder_name="Jane Doe") if iban else None,
        fully_refund_as_loyalty_money=loyalty,
        submitted_at=datetime.now(UTC),
        source_name=source_name,
    )
    return Event.new("cancellation.submitted", "order_api", str(order_id), data)
