"""Guest requests, reference data and the mail sender's use cases (services/cancellation_worker/service/)
on in-memory fakes."""

from datetime import UTC, datetime

import pytest

from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import RequestRefused
from services.cancellation_worker.mail import message_of
from services.cancellation_worker.service.mail import MailRefused, MailService
from services.cancellation_worker.service.reference import ReferenceService
from services.cancellation_worker.service.requests import RequestNotFound, RequestService
from services.cancellation_worker.store import RequestQuery
from shared.cancellations import CancellationDecision, CancellationReason, CancellationRequestData, ShippingCompany
from shared.consumer import Unprocessable
from shared.events import Event, decode_envelope
from shared.topics import CANCELLATIONS_EVENTS, ORDERS_INGEST
from tests.support.cancellation_fakes import CONN, FakeOutbox, FakeStore, fake_ports
from tests.support.cancellations import paid_order, submission

ORDER = 6160
TEA, POT = ORDER * 10 + 1, ORDER * 10 + 2


def decisions(outbox: FakeOutbox) -> list[tuple[int, str, str | None]]:
    facts = outbox.on(ORDERS_INGEST, "cancellation.decided")
    return [(d.request_id, d.decision, d.refund_method) for d in facts if isinstance(d, CancellationDecision)]


def statuses(outbox: FakeOutbox) -> list[tuple[int, str]]:
    events = outbox.on(CANCELLATIONS_EVENTS)
    return [(e.request_id, e.status) for e in events if isinstance(e, CancellationRequestData)]


@pytest.fixture
def setup() -> tuple[RequestService, FakeStore, FakeOutbox]:
    ports, store, outbox = fake_ports()
    store.orders[ORDER] = (1, paid_order(ORDER))
    return RequestService(ports), store, outbox


async def test_a_cancel_is_approved_at_once_and_a_refund_waits(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, store, outbox = setup

    await service.submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), (POT, 1, "refund"), first_request_id=10))

    assert statuses(outbox) == [(10, "waiting"), (10, "approved"), (11, "waiting")]
    assert decisions(outbox) == [(10, "approved", "original")]
    assert (store.requests[10].status, store.requests[11].status) == ("approved", "waiting")
    assert list(store.notifications) == ["<request-10-approved@cancellations.orders.local>"]


async def test_a_cancel_taken_before_the_orders_copy_waits_for_it_then_pays_back_as_asked(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, store, outbox = setup
    del store.orders[ORDER]  # the submission came on its own topic before the order's events

    await service.submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), loyalty=True, first_request_id=15))
    waited = store.requests[15].status
    await service.order_known(CONN, paid_order(ORDER, customer_id=7))
    await service.order_known(CONN, paid_order(ORDER, customer_id=7))  # decided once

    assert waited == "waiting"
    assert decisions(outbox) == [(15, "approved", "loyalty_money")]
    assert store.requests[15].status == "approved"


async def test_a_request_taken_before_the_orders_copy_carries_the_channel_the_submission_names(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, store, outbox = setup
    del store.orders[ORDER]  # the submission came on its own topic before the order's events

    await service.submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), first_request_id=30, source_name="pos"))
    await service.submitted(CONN, submission(ORDER, (POT, 1, "cancel"), first_request_id=40))  # an older order_api's

    requested = [
        (event.data.request_id, event.channels)
        for _, event in outbox.events
        if event.type == "cancellation.requested" and isinstance(event.data, CancellationRequestData)
    ]
    assert requested == [(30, ("source:pos",)), (40, ())]


async def test_a_return_approves_the_refund_requests_waiting_for_it(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, store, outbox = setup
    await service.submitted(CONN, submission(ORDER, (POT, 1, "refund"), first_request_id=20))

    await service.return_received(CONN, paid_order(ORDER))
    await service.return_received(CONN, paid_order(ORDER))  # nothing waits any more

    assert decisions(outbox) == [(20, "approved", "original")]
    assert store.requests[20].status == "approved"


async def test_a_submission_naming_known_requests_is_unprocessable(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, _, _ = setup
    await service.submitted(CONN, submission(ORDER, (POT, 1, "refund"), first_request_id=30))
    with pytest.raises(Unprocessable, match="exist already"):
        await service.submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), first_request_id=30))
    with pytest.raises(Unprocessable, match="no_items"):
        await service.submitted(CONN, submission(ORDER))


async def test_an_operator_approves_rejects_or_marks_returned_only_waiting_requests(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, _, outbox = setup
    await service.submitted(CONN, submission(ORDER, (TEA, 1, "refund"), (POT, 1, "refund"), first_request_id=40))
    await service.submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), first_request_id=50))

    assert (await service.reject(40)).status == "rejected"
    assert (await service.mark_returned(41)).status == "approved"
    for act, request_id, code in (
        (service.approve, 40, "request_not_waiting"),
        (service.reject, 41, "request_already_approved"),
        (service.mark_returned, 50, "not_a_return"),
    ):
        with pytest.raises(RequestRefused) as refused:
            await act(request_id)
        assert refused.value.code == code
    with pytest.raises(RequestNotFound):
        await service.approve(99)
    assert decisions(outbox) == [(50, "approved", "original"), (40, "rejected", None), (41, "approved", "original")]


async def test_with_nothing_captured_an_approved_request_is_complete_at_once() -> None:
    ports, store, outbox = fake_ports()
    store.orders[ORDER] = (1, paid_order(ORDER, captured=False))

    await RequestService(ports).submitted(CONN, submission(ORDER, (TEA, 1, "cancel"), first_request_id=60))

    assert statuses(outbox) == [(60, "waiting"), (60, "approved"), (60, "completed")]
    assert decisions(outbox) == [(60, "approved", None)]


async def test_requests_are_listed_newest_first_a_page_at_a_time(
    setup: tuple[RequestService, FakeStore, FakeOutbox],
) -> None:
    service, _store, _ = setup
    for offset in range(3):
        event = submission(ORDER, (TEA, 1, "refund"), first_request_id=70 + offset)
        await service.submitted(CONN, event)

    first = await service.list(RequestQuery(order_id=ORDER, limit=2))
    rest = await service.list(
        RequestQuery(order_id=ORDER, limit=2, before=(first[-1].created_at, first[-1].request_id))
    )

    assert [r.request_id for r in first + rest] == [72, 71, 70]
    assert await service.list(RequestQuery(status="approved")) == []


# ---- reference data ------------------------------------------------------------------------------


async def test_reference_changes_are_kept_and_published_and_others_facts_applied() -> None:
    ports, _store, outbox = fake_ports()
    service = ReferenceService(ports)

    await service.upsert_reason(CancellationReason(id=1, name="Changed my mind"))
    await service.upsert_company(ShippingCompany(id=5, name="Yurtici Kargo"))
    for event in (
        Event.new("shipping_company.upserted", "demo-catalog", "6", ShippingCompany(id=6, name="Aras")),
        Event.new("cancellation.reason.upserted", "cancellation_worker", "1", CancellationReason(id=1, name="stale")),
    ):
        await service.fact(CONN, decode_envelope(event.headers(), event.body()))

    assert outbox.types(ORDERS_INGEST) == ["cancellation.reason.upserted", "shipping_company.upserted"]
    assert [r.name for r in await service.reasons()] == ["Changed my mind"], "its own facts are in its tables already"
    assert [c.id for c in await service.companies()] == [5, 6]
    bad = Event.new("shipping_company.upserted", "demo-catalog", "7", ShippingCompany(id=7, name="x"))
    with pytest.raises(Unprocessable):
        await service.fact(CONN, decode_envelope(bad.headers(), b'{"id": "seven"}'))


# ---- the mail sender -----------------------------------------------------------------------------


class Mailer:
    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.sent.append(notice)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


async def test_an_email_is_sent_at_most_once_and_retried_only_when_the_server_refused_it() -> None:
    ports, store, _ = fake_ports(mail_retry_schedule_seconds=[5])
    notice = Notice("<n-1@x>", "refund.succeeded", ORDER, "guest@example.com", "Your refund", "Hello")
    await store.insert_notification(CONN, notice)
    row = store.notifications["<n-1@x>"]
    mailer = Mailer(MailRefused("450 try later"), None)
    mail = MailService(ports, mailer)

    refused = await mail.send({**row, "attempts": 1})
    assert (refused.status, row["last_error"], row["sending_since"]) == ("pending", "450 try later", None)
    sent = await mail.send({**row, "attempts": 2})
    assert sent.status == "done"
    await mail.settled(CONN, row, sent)
    assert row["sent_at"] is not None

    unknown = MailService(ports, Mailer(ConnectionResetError("lost mid-DATA")))
    assert (await unknown.send({**row, "attempts": 1, "sending_since": None})).status == "failed"
    again = Mailer()
    assert (await MailService(ports, again).send({**row, "sending_since": datetime.now(UTC)})).status == "failed"
    assert again.sent == [], "an earlier send with no recorded outcome is never repeated"
    spent = MailService(ports, Mailer(MailRefused("550 no such user")))
    assert (await spent.send({**row, "attempts": 2, "sending_since": None})).status == "failed"


def test_the_email_carries_its_notifications_message_id() -> None:
    notice = Notice("<refund-1-2@x.example>", "refund.succeeded", 1, "guest@example.com", "Your refund", "Hello")

    message = message_of(notice, "orders@example.com")

    assert (message["Message-ID"], message["To"], message["From"]) == (
        "<refund-1-2@x.example>",
        "guest@example.com",
        "orders@example.com",
    )
    assert message.get_content().strip() == "Hello"
