"""The refund ledger's use cases (services/cancellation_worker/service/refunds.py) on in-memory fakes:
order events start payments and settle them, each command named by its ledger entry."""

import uuid
from decimal import Decimal

import pytest

from services.cancellation_worker.domain.ledger import LedgerRefused
from services.cancellation_worker.service.refunds import OrderNotFound, RefundService
from services.cancellation_worker.service.requests import RequestService
from shared.cancellations import LoyaltyCreditedData, RefundData, RestockRequestedData
from shared.consumer import Unprocessable
from shared.events import Event
from shared.order_facts import PaymentFact
from shared.orders import OrderLifecycleData, OrderSnapshot
from shared.topics import CANCELLATIONS_EVENTS, ORDERS_INGEST, PAYMENTS_COMMANDS
from tests.support.cancellation_fakes import CONN, fake_ports
from tests.support.cancellations import IBAN, answered, lifecycle, paid_order, refund, submission, with_refunds

ORDER = 5150
TEA, POT = ORDER * 10 + 1, ORDER * 10 + 2


class Worker:
    """The use cases as the consumer calls them, with the order's events numbered in turn."""

    def __init__(self) -> None:
        self.ports, self.store, self.outbox = fake_ports()
        self.requests = RequestService(self.ports)
        self.refunds = RefundService(self.ports, self.requests)
        self.sequence = 0

    async def order(self, order: OrderSnapshot, event_type: str = "order.updated", *, again: bool = False) -> None:
        self.sequence += 0 if again else 1
        event = lifecycle(order, self.sequence, event_type)
        assert isinstance(event.data, OrderLifecycleData)
        await self.refunds.order_changed(CONN, event, event.data)

    async def submit(self, event: Event) -> None:
        await self.requests.submitted(CONN, event)

    def commands(self) -> list[RefundData]:
        return [data for data in self.outbox.on(PAYMENTS_COMMANDS) if isinstance(data, RefundData)]

    def ledger(self) -> list[tuple[str, int | None, Decimal]]:
        return [(e.entry_type, e.refund_id, e.amount) for e in self.store.entries]


@pytest.fixture
def worker() -> Worker:
    return Worker()


async def test_a_pending_refund_is_asked_of_the_payment_service_once_by_its_ledger_entry(worker: Worker) -> None:
    order = with_refunds(paid_order(ORDER), refund(1, "20.00", lines=[(TEA, 2, "cancel")]))

    await worker.order(order, "order.refund_requested")
    await worker.order(order, again=True)  # a replay of the same sequence
    await worker.order(order.model_copy(update={"note": "later"}))  # a newer event, the refund still pending

    [entry] = worker.store.entries
    [command] = worker.commands()
    assert (entry.entry_type, entry.refund_id, entry.amount, entry.method) == (
        "requested",
        1,
        Decimal("20.00"),
        "original",
    )
    assert (command.ledger_entry_id, command.kind, command.amount, command.bank_account) == (
        entry.idempotency_key,
        "refund",
        Decimal("20.00"),
        None,
    )
    assert worker.outbox.types(CANCELLATIONS_EVENTS) == ["refund.requested", "inventory.restock_requested"]
    [restock] = worker.outbox.on(CANCELLATIONS_EVENTS, "inventory.restock_requested")
    assert restock == RestockRequestedData(
        order_id=ORDER, line_item_id=TEA, variant_id=7001, sku="TEA-1", quantity=2, reason="cancel", source_name="api"
    )


async def test_a_successful_answer_settles_the_entry_emails_once_and_a_failed_one_can_be_retried(
    worker: Worker,
) -> None:
    order = with_refunds(paid_order(ORDER), refund(1, "20.00", notify=True), refund(2, "13.13", notify=True))
    await worker.order(order)
    first, declined = (entry.idempotency_key for entry in worker.store.entries)

    settled = answered(answered(order, 1, first, "20.00"), 2, declined, "13.13", ok=False)
    await worker.order(settled, "order.refunded")
    await worker.order(settled.model_copy(update={"note": "again"}))

    assert worker.ledger() == [
        ("requested", 1, Decimal("20.00")),
        ("requested", 2, Decimal("13.13")),
        ("succeeded", 1, Decimal("20.00")),
        ("failed", 2, Decimal("13.13")),
    ]
    assert [data.status for data in worker.outbox.on(CANCELLATIONS_EVENTS) if isinstance(data, RefundData)] == [
        "requested",
        "requested",
        "succeeded",
        "failed",
    ]
    assert list(worker.store.notifications) == [f"<refund-{ORDER}-1@cancellations.orders.local>"]

    retried = await worker.refunds.retry(ORDER, 2)
    assert retried.idempotency_key not in (first, declined)
    assert [c.ledger_entry_id for c in worker.commands()] == [first, declined, retried.idempotency_key]
    with pytest.raises(LedgerRefused) as refused:
        await worker.refunds.retry(ORDER, 2)
    assert refused.value.code == "refund_not_failed"
    with pytest.raises(LedgerRefused):
        await worker.refunds.retry(ORDER, 1)
    with pytest.raises(OrderNotFound):
        await worker.refunds.retry(ORDER + 1, 1)


async def test_a_bank_transfer_command_carries_the_account_and_no_event_does(worker: Worker) -> None:
    await worker.order(paid_order(ORDER), "order.created")
    await worker.submit(submission(ORDER, (POT, 1, "cancel"), iban=IBAN, first_request_id=300))
    [decided] = worker.outbox.on(ORDERS_INGEST, "cancellation.decided")
    assert decided.model_dump()["refund_method"] == "bank_transfer"

    await worker.order(with_refunds(paid_order(ORDER), refund(1, "30.00", request_id=300)))

    [command] = worker.commands()
    assert command.method == "bank_transfer"
    assert command.bank_account is not None
    assert command.bank_account.iban == IBAN
    published = [event.body() for topic, event in worker.outbox.events if topic != PAYMENTS_COMMANDS]
    assert not [body for body in published if IBAN.encode() in body or b"Jane Doe" in body]


async def test_loyalty_money_is_credited_and_answered_to_order_api_without_a_payment_command(worker: Worker) -> None:
    order = paid_order(ORDER, customer_id=88)
    await worker.order(order, "order.created")
    await worker.submit(submission(ORDER, (TEA, 2, "cancel"), loyalty=True, first_request_id=400))

    await worker.order(with_refunds(order, refund(1, "20.00", request_id=400)))

    assert worker.commands() == []
    [credited] = worker.outbox.on(CANCELLATIONS_EVENTS, "loyalty.credited")
    assert isinstance(credited, LoyaltyCreditedData)
    assert (credited.customer_id, credited.amount, credited.balance) == (88, Decimal("20.00"), Decimal("20.00"))
    [fact] = worker.outbox.on(ORDERS_INGEST, "payment.refunded")
    assert isinstance(fact, PaymentFact)
    [entry] = worker.store.entries
    assert (fact.gateway, fact.refund_id, fact.ledger_entry_id, fact.authorization) == (
        "loyalty_money",
        1,
        entry.idempotency_key,
        str(entry.idempotency_key),
    )


async def test_every_event_about_an_order_carries_the_orders_channel(worker: Worker) -> None:
    pos = paid_order(ORDER, customer_id=88).model_copy(update={"source_name": "pos"})
    await worker.order(pos, "order.created")
    await worker.submit(submission(ORDER, (TEA, 2, "cancel"), loyalty=True, first_request_id=500))
    await worker.order(with_refunds(pos, refund(1, "20.00", request_id=500)))  # credited at once
    returned = with_refunds(pos, refund(2, "30.00", lines=[(POT, 1, "return")]))
    await worker.order(returned)  # a command and a restock, then the command's answer
    [command] = worker.commands()
    await worker.order(answered(returned, 2, command.ledger_entry_id, "30.00"))

    published = [(event.type, event.channels) for topic, event in worker.outbox.events if topic == CANCELLATIONS_EVENTS]
    assert {event_type for event_type, _ in published} == {
        "cancellation.requested", "cancellation.approved", "refund.requested",
        "refund.succeeded", "loyalty.credited", "inventory.restock_requested",
    }  # fmt: skip
    assert {channels for _, channels in published} == {("source:pos",)}
    assert command.source_name == "pos"


async def test_a_cancelled_order_only_authorized_is_voided_and_its_customer_told(worker: Worker) -> None:
    order = with_refunds(paid_order(ORDER, captured=False, status="cancelled"), refund(7, "0.00", notify=True))

    await worker.order(order, "order.cancelled")
    [command] = worker.commands()
    await worker.order(answered(order, 7, command.ledger_entry_id, "50.00", kind="void"))

    assert (command.kind, command.refund_id, command.amount) == ("void", 7, Decimal("50.00"))
    assert worker.outbox.types(PAYMENTS_COMMANDS) == ["void.requested"]
    assert list(worker.store.notifications) == [f"<void-{ORDER}@cancellations.orders.local>"]


async def test_a_refund_the_ledger_may_not_make_is_failed_at_once_and_order_api_told(worker: Worker) -> None:
    await worker.order(with_refunds(paid_order(ORDER), refund(1, "50.00"), refund(2, "0.01")))

    assert worker.ledger() == [
        ("requested", 1, Decimal("50.00")),
        ("requested", 2, Decimal("0.01")),
        ("failed", 2, Decimal("0.01")),
    ]
    [fact] = worker.outbox.on(ORDERS_INGEST, "payment.refund_failed")
    assert isinstance(fact, PaymentFact)
    assert fact.refund_id == 2
    assert "captured" in (fact.error or "")
    assert len(worker.commands()) == 1


async def test_a_refund_paying_back_an_unknown_request_is_unprocessable(worker: Worker) -> None:
    with pytest.raises(Unprocessable, match="unknown"):
        await worker.order(with_refunds(paid_order(ORDER), refund(1, "10.00", request_id=999)))


async def test_the_ledger_of_an_unknown_order_is_not_found(worker: Worker) -> None:
    with pytest.raises(OrderNotFound):
        await worker.refunds.ledger(uuid.uuid4().int % 10**9)
    await worker.order(paid_order(ORDER))
    assert await worker.refunds.ledger(ORDER) == []
