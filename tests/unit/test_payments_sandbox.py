"""The payments sandbox's rules without a broker: how it answers a command, and that a key is
answered once however often it comes."""

import uuid
from collections.abc import Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from deploy.sandbox.payments import Sandbox, SandboxSettings, answer
from shared.cancellations import RefundData
from shared.events import Event
from shared.kafka import OutgoingRecord
from shared.order_facts import PaymentFact
from shared.topics import ORDERS_INGEST


def command(
    amount: str, *, kind: str = "refund", currency: str = "USD", key: uuid.UUID | None = None, refund_id: int = 5
) -> Event:
    data = RefundData(
        order_id=77,
        refund_id=refund_id if kind == "refund" else None,
        ledger_entry_id=key or uuid.uuid4(),
        kind="void" if kind == "void" else "refund",
        method="original",
        amount=Decimal(amount),
        currency=currency,
        status="requested",
    )
    return Event.new(f"{kind}.requested", "cancellation_worker", "77", data)


@pytest.mark.parametrize(
    ("amount", "currency", "kind", "expected"),
    [
        ("20.00", "USD", "refund", "payment.refunded"),
        ("0.13", "USD", "refund", "payment.refund_failed"),
        ("113.13", "USD", "refund", "payment.refund_failed"),
        ("13.10", "USD", "refund", "payment.refunded"),
        ("1213", "JPY", "refund", "payment.refund_failed"),
        ("1.013", "KWD", "refund", "payment.refund_failed"),
        ("50.13", "USD", "void", "payment.voided"),
    ],
)
def test_amounts_whose_minor_units_end_in_13_are_declined(amount: str, currency: str, kind: str, expected: str) -> None:
    sent = command(amount, currency=currency, kind=kind)
    fact = answer(sent, "bogus")

    assert fact.type == expected
    assert isinstance(fact.data, PaymentFact)
    assert isinstance(sent.data, RefundData)
    assert (fact.data.ledger_entry_id, fact.data.authorization, fact.data.refund_id, fact.subject) == (
        sent.data.ledger_entry_id,
        str(sent.data.ledger_entry_id),
        sent.data.refund_id,
        "77",
    )
    assert (fact.data.error is not None) == (expected == "payment.refund_failed")
    assert answer(sent, "bogus", retry=True).type == ("payment.voided" if kind == "void" else "payment.refunded")


class Producer:
    def __init__(self) -> None:
        self.sent: list[OutgoingRecord] = []

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        self.sent.extend(records)


def record(event: Event, offset: int) -> Any:
    return SimpleNamespace(headers=event.headers(), value=event.body(), offset=offset)


async def test_a_key_is_answered_once_however_often_it_comes_and_a_retry_of_a_decline_goes_through() -> None:
    producer = Producer()
    sandbox = Sandbox(SandboxSettings(delay_seconds=0), producer)
    key = uuid.uuid4()
    first = command("20.00", key=key)

    await sandbox.handle([record(first, 1), record(command("20.00", key=key), 2), record(first, 3)])
    await sandbox.handle([SimpleNamespace(headers=[], value=b"{}", offset=4), record(command("0.13", refund_id=6), 5)])

    retried = command("0.13", refund_id=6)  # the same refund as the declined one, under a new key
    await sandbox.handle([record(retried, 6)])

    assert [record.topic for record in producer.sent] == [ORDERS_INGEST] * 3
    assert [header for record in producer.sent for name, header in record.headers if name == "ce_type"] == [
        b"payment.refunded",
        b"payment.refund_failed",
        b"payment.refunded",
    ]
    report = sandbox.report(key)
    assert (report.count, report.answered, report.answer) == (3, True, "payment.refunded")
    assert sandbox.report(uuid.uuid4()).count == 0
