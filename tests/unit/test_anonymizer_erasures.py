"""The anonymizer's erasure saga on in-memory fakes: `order.anonymized` opens one erasure per order,
erases the anonymizer's own copy and asks every configured service for a receipt through the outbox;
receipts close it (idempotently, late ones too); past the deadline it is reported and asked again."""

import uuid

import pytest

from services.anonymizer.domain import email_hash
from services.anonymizer.service.erasures import OVERDUE, ErasureService
from services.anonymizer.service.orders import OrderCopyService
from shared.consumer import Unprocessable
from shared.erasure import ErasureCompleted, ErasureOverdue, ErasureRequested
from shared.events import Event
from shared.orders import OrderLifecycleData
from shared.topics import ANONYMIZATION_EVENTS
from tests.support.anonymizer_fakes import fake_ports
from tests.support.cancellation_fakes import CONN
from tests.support.cancellations import paid_order

ORDER = 7310
CUSTOMER = 9000000012
SERVICES = ["order_api", "cancellation_worker", "webhook_dispatcher", "anonymizer"]


def lifecycle(event_type: str, sequence: int, *, anonymized: bool = False) -> Event:
    order = paid_order(ORDER, email="Ada@Example.com", customer_id=CUSTOMER, status="cancelled")
    if anonymized:
        order = order.model_copy(update={"anonymized": True, "email": "*"})
    data = OrderLifecycleData(order_id=ORDER, sequence=sequence, order=order)
    return Event.new(event_type, "order_api", str(ORDER), data, sequence=sequence)


def receipt(request: ErasureRequested, service: str, attempt: int = 1, **rows: int) -> Event:
    data = ErasureCompleted(
        erasure_id=request.erasure_id,
        order_id=request.order_id,
        service=service,
        rows=rows,
        attempt=attempt,
        completed_at=request.requested_at,
    )
    return Event.new("erasure.completed", service, str(request.order_id), data)


class Saga:
    def __init__(self, **settings: object) -> None:
        ports, self.store, self.outbox, self.clock = fake_ports(**settings)
        self.erasures = ErasureService(ports)
        self.orders = OrderCopyService(ports, self.erasures)

    async def apply(self, event: Event) -> None:
        assert isinstance(event.data, OrderLifecycleData)
        await self.orders.order_changed(CONN, event, event.data)

    def requests(self) -> list[ErasureRequested]:
        return [d for d in self.outbox.on(ANONYMIZATION_EVENTS, "erasure.requested") if isinstance(d, ErasureRequested)]

    def overdue(self) -> list[ErasureOverdue]:
        return [d for d in self.outbox.on(ANONYMIZATION_EVENTS, "erasure.overdue") if isinstance(d, ErasureOverdue)]

    async def answer(self, *services: str, attempt: int = 1) -> None:
        for service in services:
            await self.erasures.receipt(CONN, receipt(self.requests()[0], service, attempt))


@pytest.fixture
def saga() -> Saga:
    return Saga()


async def test_the_copy_keeps_a_keyed_hash_of_the_email_never_the_email(saga: Saga) -> None:
    await saga.apply(lifecycle("order.created", 1))

    kept = saga.store.known[ORDER]
    assert kept.email_hash == email_hash(b"local-email-hash-key", " ada@example.COM ")
    assert kept.customer_id == CUSTOMER
    assert "Ada@Example.com" not in repr(saga.store.known)
    assert saga.outbox.events == []


async def test_order_anonymized_opens_the_erasure_and_asks_every_configured_service(saga: Saga) -> None:
    await saga.apply(lifecycle("order.created", 1))
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))

    [request] = saga.requests()
    assert request.order_id == ORDER
    assert request.customer_id == CUSTOMER
    assert request.anonymized_sequence == 2
    assert request.services == SERVICES
    assert request.attempt == 1
    assert request.requested_at == saga.clock.now
    erasure = saga.store.erasures[ORDER]
    assert (erasure.erasure_id, erasure.state) == (request.erasure_id, "erasing")
    # Its own copy is erased in the same transaction, with its own receipt.
    assert saga.store.known[ORDER].email_hash is None
    assert saga.store.known[ORDER].customer_id is None
    own = saga.store.receipts[request.erasure_id, "anonymizer"]
    assert own.rows == {"known_orders": 1}
    assert saga.store.requests[request.erasure_id].kind == "order"
    assert saga.store.requests[request.erasure_id].status == "erasing"


async def test_the_expected_services_are_configuration(saga: Saga) -> None:
    configured = Saga(receipt_services=["order_api", "anonymizer"])
    await configured.apply(lifecycle("order.anonymized", 2, anonymized=True))
    assert configured.requests()[0].services == ["order_api", "anonymizer"]
    await configured.answer("order_api")
    assert configured.store.erasures[ORDER].state == "complete"


async def test_a_repeated_or_second_anonymized_event_opens_nothing_more(saga: Saga) -> None:
    first = lifecycle("order.anonymized", 2, anonymized=True)
    await saga.apply(first)
    await saga.apply(lifecycle("order.anonymized", 3, anonymized=True))
    assert len(saga.requests()) == 1
    assert len(saga.store.erasures) == 1


async def test_the_erasure_completes_when_every_receipt_is_in_and_repeats_change_nothing(saga: Saga) -> None:
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))
    request = saga.requests()[0]

    await saga.answer("order_api", "cancellation_worker")
    assert saga.store.erasures[ORDER].state == "erasing"
    await saga.answer("order_api")  # a repeat
    assert saga.store.receipts[request.erasure_id, "order_api"].attempt == 1
    await saga.answer("webhook_dispatcher")

    erasure = saga.store.erasures[ORDER]
    assert erasure.state == "complete"
    assert erasure.completed_at == saga.clock.now
    assert saga.store.requests[request.erasure_id].status == "complete"
    await saga.answer("webhook_dispatcher")
    assert saga.store.erasures[ORDER] == erasure
    assert len(saga.requests()) == 1


async def test_a_receipt_for_no_known_erasure_is_unprocessable(saga: Saga) -> None:
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))
    stray = saga.requests()[0].model_copy(update={"erasure_id": uuid.uuid4()})
    with pytest.raises(Unprocessable, match="no erasure"):
        await saga.erasures.receipt(CONN, receipt(stray, "order_api"))
    wrong_order = saga.requests()[0].model_copy(update={"order_id": ORDER + 1})
    with pytest.raises(Unprocessable, match="no erasure"):
        await saga.erasures.receipt(CONN, receipt(wrong_order, "order_api"))


async def test_past_the_deadline_it_is_reported_and_asked_again_until_late_receipts_close_it(saga: Saga) -> None:
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))
    first = saga.requests()[0]
    await saga.answer("order_api", "webhook_dispatcher")
    before = OVERDUE.labels("cancellation_worker")._value.get()

    saga.clock.advance(59)
    assert await saga.erasures.report_overdue() == 0
    saga.clock.advance(1)
    assert await saga.erasures.report_overdue() == 1

    [report] = saga.overdue()
    assert report.erasure_id == first.erasure_id
    assert report.missing == ["cancellation_worker"]
    assert (report.attempt, report.requested_at, report.deadline_at) == (1, first.requested_at, saga.clock.now)
    again = saga.requests()[1]
    assert (again.erasure_id, again.attempt, again.requested_at) == (first.erasure_id, 2, saga.clock.now)
    assert saga.store.erasures[ORDER].state == "overdue"
    assert saga.store.requests[first.erasure_id].status == "overdue"
    assert OVERDUE.labels("cancellation_worker")._value.get() == before + 1
    assert await saga.erasures.report_overdue() == 0  # the new deadline is a minute away

    await saga.answer("cancellation_worker", attempt=2)
    assert saga.store.erasures[ORDER].state == "complete"
    assert saga.store.requests[first.erasure_id].status == "complete"
    saga.clock.advance(120)
    assert await saga.erasures.report_overdue() == 0


async def test_the_deadline_is_a_setting() -> None:
    saga = Saga(receipt_deadline_seconds=5)
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))
    saga.clock.advance(5)
    assert await saga.erasures.report_overdue() == 1
    assert saga.overdue()[0].missing == ["order_api", "cancellation_worker", "webhook_dispatcher"]


async def test_a_copy_event_after_anonymization_keeps_no_subject(saga: Saga) -> None:
    await saga.apply(lifecycle("order.anonymized", 2, anonymized=True))
    await saga.apply(lifecycle("order.updated", 3, anonymized=True))
    kept = saga.store.known[ORDER]
    assert (kept.email_hash, kept.customer_id, kept.anonymized, kept.sequence) == (None, None, True, 3)


async def test_with_only_the_anonymizer_configured_the_erasure_is_complete_at_once() -> None:
    alone = Saga(receipt_services=["anonymizer"])
    await alone.apply(lifecycle("order.anonymized", 2, anonymized=True))
    assert alone.store.erasures[ORDER].state == "complete"
    assert alone.requests() == []
