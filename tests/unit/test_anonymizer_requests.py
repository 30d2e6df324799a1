"""Erasure requests on in-memory fakes: a customer's erasure covers the person's orders (by email hash or
customer id), asks order_api to anonymize each through the outbox and shows them waiting until their
`order.anonymized` opens their erasure; it asks for each customer record of the person and completes
only once order_api's `customer.erased` for each is in; requestToBeForgotten shows a waiting `forget`
request; requests are listed newest first by keyset."""

import uuid

import pytest

from services.anonymizer.domain import RequestQuery, request_status
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.orders import OrderCopyService
from services.anonymizer.service.requests import ErasureRequestService, NoSubject, RequestNotFound
from shared.consumer import Unprocessable
from shared.erasure import (
    CUSTOMER_ERASED,
    CustomerErased,
    CustomerEraseRequestedFact,
    ErasureCompleted,
    ErasureRequested,
)
from shared.events import Event
from shared.order_facts import AnonymizeRequestedFact
from shared.orders import OrderLifecycleData
from shared.topics import ANONYMIZATION_EVENTS, ORDERS_INGEST
from tests.support.anonymizer_fakes import fake_ports
from tests.support.cancellation_fakes import CONN
from tests.support.cancellations import paid_order

ADA, BOB = "Ada@Example.com", "bob@example.com"
CUSTOMER = 9000000012
SERVICES = ["order_api", "anonymizer"]


class World:
    def __init__(self) -> None:
        ports, self.store, self.outbox, self.clock = fake_ports(receipt_services=SERVICES)
        self.erasures = ErasureService(ports)
        self.orders = OrderCopyService(ports, self.erasures)
        self.requests = ErasureRequestService(ports)
        self.sequences: dict[int, int] = {}

    async def order(
        self,
        order_id: int,
        email: str | None,
        customer_id: int | None = None,
        *,
        event_type: str = "order.created",
        forget: bool = False,
    ) -> None:
        sequence = self.sequences[order_id] = self.sequences.get(order_id, 0) + 1
        order = paid_order(order_id, email=email, customer_id=customer_id, status="cancelled")
        update: dict[str, object] = {"request_to_be_forgotten": forget}
        if event_type == "order.anonymized":
            update |= {"anonymized": True, "email": "*"}
        data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=order.model_copy(update=update))
        event = Event.new(event_type, "order_api", str(order_id), data, sequence=sequence)
        await self.orders.order_changed(CONN, event, data)

    async def anonymized(self, order_id: int) -> None:
        await self.order(order_id, "*", event_type="order.anonymized")

    async def answer(self, order_id: int) -> None:
        """The order_api receipt (the anonymizer's own is recorded when it opens the erasure)."""
        request = next(
            data
            for data in self.outbox.on(ANONYMIZATION_EVENTS, "erasure.requested")
            if isinstance(data, ErasureRequested) and data.order_id == order_id
        )
        receipt = ErasureCompleted(
            erasure_id=request.erasure_id,
            order_id=order_id,
            service="order_api",
            rows={"outbox": 2},
            attempt=1,
            completed_at=self.clock(),
        )
        await self.erasures.receipt(CONN, Event.new("erasure.completed", "order_api", str(order_id), receipt))

    async def customer_erased(self, customer_id: int, *request_ids: uuid.UUID, customers: int = 1) -> None:
        """order_api's receipt for the customer record, answering `request_ids`."""
        erased = CustomerErased(
            customer_id=customer_id,
            request_ids=list(request_ids),
            rows={"customers": customers},
            erased_at=self.clock(),
        )
        await self.requests.customer_erased(CONN, Event.new(CUSTOMER_ERASED, "order_api", str(customer_id), erased))

    def customer_erasures(self) -> list[CustomerEraseRequestedFact]:
        return [
            d
            for d in self.outbox.on(ORDERS_INGEST, "customer.erase_requested")
            if isinstance(d, CustomerEraseRequestedFact)
        ]

    def anonymize_requests(self) -> list[AnonymizeRequestedFact]:
        return [
            d
            for d in self.outbox.on(ORDERS_INGEST, "order.anonymize_requested")
            if isinstance(d, AnonymizeRequestedFact)
        ]


@pytest.fixture
def world() -> World:
    return World()


async def test_a_customer_erasure_by_email_asks_order_api_to_anonymize_each_of_their_orders(world: World) -> None:
    await world.order(7401, ADA)
    await world.order(7402, " ada@example.COM ", CUSTOMER)
    await world.order(7403, BOB)

    view = await world.requests.erase_customer(email="ADA@example.com")

    assert (view.request.kind, view.request.status, view.request.completed_at) == ("customer", "waiting", None)
    assert [(p.erasure.order_id, p.erasure.state, p.missing, p.receipts) for p in view.orders] == [
        (7401, "waiting", [], []),
        (7402, "waiting", [], []),
    ]
    assert [(f.order_id, f.request_id) for f in world.anonymize_requests()] == [
        (7401, view.request.id),
        (7402, view.request.id),
    ]
    assert [event.key for _, event in world.outbox.events] == [b"7401", b"7402", str(CUSTOMER).encode()]
    assert [(f.customer_id, f.request_id) for f in world.customer_erasures()] == [(CUSTOMER, view.request.id)]
    assert view.request.email_hash == world.store.known[7401].email_hash
    assert "ada@" not in repr(view).lower()


async def test_a_customer_erasure_by_customer_id_finds_only_that_customers_orders(world: World) -> None:
    await world.order(7411, ADA, CUSTOMER)
    await world.order(7412, ADA)  # a guest order of the same email: another way to ask

    view = await world.requests.erase_customer(customer_id=CUSTOMER)

    assert [p.erasure.order_id for p in view.orders] == [7411]
    assert view.request.customer_id == CUSTOMER
    assert view.request.email_hash is None


async def test_each_order_goes_from_waiting_to_complete_as_order_api_anonymizes_it(world: World) -> None:
    await world.order(7421, ADA)
    await world.order(7422, ADA)
    view = await world.requests.erase_customer(email=ADA)
    waiting_id = view.orders[0].erasure.erasure_id

    await world.anonymized(7421)  # eligible: anonymized at once
    now = await world.requests.get(view.request.id)
    first = now.orders[0]
    assert (first.erasure.erasure_id, first.erasure.state, first.missing) == (waiting_id, "erasing", ["order_api"])
    assert [r.service for r in first.receipts] == ["anonymizer"]
    assert now.request.status == "erasing"

    await world.answer(7421)
    now = await world.requests.get(view.request.id)
    assert [p.erasure.state for p in now.orders] == ["complete", "waiting"]
    assert now.request.status == "waiting"  # for the order not eligible yet

    world.clock.advance(3600)
    await world.anonymized(7422)  # eligible later (fulfilled, say)
    await world.answer(7422)
    done = await world.requests.get(view.request.id)
    assert done.request.status == "complete"
    assert done.request.completed_at == world.clock()
    assert [r.rows for r in done.orders[1].receipts] == [{"known_orders": 1}, {"outbox": 2}]


async def test_a_customer_with_no_known_order_is_complete_at_once_and_nothing_is_asked(world: World) -> None:
    await world.order(7431, BOB)

    view = await world.requests.erase_customer(email=ADA)

    assert (view.request.status, view.request.completed_at, view.orders, view.customers) == (
        "complete",
        world.clock(),
        [],
        [],
    )
    assert world.outbox.events == []


async def test_an_anonymized_order_is_not_asked_for_again(world: World) -> None:
    await world.order(7441, ADA, CUSTOMER)
    await world.anonymized(7441)

    view = await world.requests.erase_customer(customer_id=CUSTOMER)

    assert (view.orders, world.anonymize_requests()) == ([], [])
    # The customer record is still to be erased: asked for by the id named, and waited for.
    assert [(f.customer_id, f.request_id) for f in world.customer_erasures()] == [(CUSTOMER, view.request.id)]
    assert view.request.status == "waiting"


async def test_a_customer_erasure_by_id_with_no_order_known_waits_for_the_customer_records_receipt(
    world: World,
) -> None:
    view = await world.requests.erase_customer(customer_id=CUSTOMER)

    assert (view.request.status, view.request.completed_at, world.anonymize_requests()) == ("waiting", None, [])
    assert [event.key for _, event in world.outbox.events] == [str(CUSTOMER).encode()]
    assert [(c.customer_id, c.state, c.rows, c.erased_at) for c in view.customers] == [
        (CUSTOMER, "waiting", None, None)
    ]

    world.clock.advance(2)
    await world.customer_erased(CUSTOMER, view.request.id, customers=0)  # order_api knew no such customer

    done = await world.requests.get(view.request.id)
    assert (done.request.status, done.request.completed_at) == ("complete", world.clock())
    assert [(c.state, c.rows, c.erased_at) for c in done.customers] == [("erased", {"customers": 0}, world.clock())]


async def test_a_request_completes_only_when_its_orders_and_its_customer_record_are_erased(world: World) -> None:
    await world.order(7481, ADA, CUSTOMER)
    view = await world.requests.erase_customer(customer_id=CUSTOMER)

    await world.anonymized(7481)
    await world.answer(7481)
    orders_done = await world.requests.get(view.request.id)
    assert [p.erasure.state for p in orders_done.orders] == ["complete"]
    assert (orders_done.request.status, [c.state for c in orders_done.customers]) == ("waiting", ["waiting"])

    world.clock.advance(1)
    await world.customer_erased(CUSTOMER, view.request.id, customers=2)
    done = await world.requests.get(view.request.id)
    assert (done.request.status, done.request.completed_at) == ("complete", world.clock())
    assert [(c.customer_id, c.state, c.rows) for c in done.customers] == [(CUSTOMER, "erased", {"customers": 2})]


async def test_one_customer_receipt_answers_every_request_it_names_and_a_repeat_keeps_the_first(world: World) -> None:
    first = (await world.requests.erase_customer(customer_id=CUSTOMER)).request.id
    second = (await world.requests.erase_customer(customer_id=CUSTOMER)).request.id
    erased_at = world.clock()

    await world.customer_erased(CUSTOMER, first, second)
    world.clock.advance(60)
    await world.customer_erased(CUSTOMER, second, customers=0)  # a re-sent answer

    for request_id in (first, second):
        view = await world.requests.get(request_id)
        assert view.request.status == "complete"
        assert [(c.rows, c.erased_at) for c in view.customers] == [({"customers": 1}, erased_at)]


async def test_a_customer_receipt_for_no_request_that_asked_is_unprocessable(world: World) -> None:
    asked = (await world.requests.erase_customer(customer_id=CUSTOMER)).request.id

    with pytest.raises(Unprocessable, match=str(CUSTOMER + 1)):
        await world.customer_erased(CUSTOMER + 1, asked)  # that request did not ask for this record
    with pytest.raises(Unprocessable):
        await world.customer_erased(CUSTOMER, uuid.uuid4())
    assert (await world.requests.get(asked)).request.status == "waiting"

    await world.customer_erased(CUSTOMER, uuid.uuid4(), asked)  # one request unknown: the others answered
    assert (await world.requests.get(asked)).request.status == "complete"


async def test_a_customer_erasure_by_email_asks_for_each_customer_record_of_the_persons_orders(world: World) -> None:
    await world.order(7451, ADA, CUSTOMER)
    await world.order(7452, ADA, CUSTOMER + 1)  # a checkout record of a guest order, say
    await world.order(7453, ADA)
    await world.order(7454, BOB, CUSTOMER + 2)

    await world.requests.erase_customer(email=ADA)

    assert [f.customer_id for f in world.customer_erasures()] == [CUSTOMER, CUSTOMER + 1]


async def test_a_customer_erasure_by_email_covers_the_orders_of_the_account_it_leads_to(world: World) -> None:
    await world.order(7461, ADA, CUSTOMER)
    await world.order(7462, "ada.new@example.com", CUSTOMER)  # the same account, under another email
    await world.order(7463, BOB, CUSTOMER + 2)

    view = await world.requests.erase_customer(email=ADA)

    assert [p.erasure.order_id for p in view.orders] == [7461, 7462]
    assert [f.order_id for f in world.anonymize_requests()] == [7461, 7462]
    assert [f.customer_id for f in world.customer_erasures()] == [CUSTOMER]


@pytest.mark.parametrize("email", ["*", "   ", None])
async def test_a_request_naming_nobody_is_refused(world: World, email: str | None) -> None:
    with pytest.raises(NoSubject):
        await world.requests.erase_customer(email=email)
    assert world.store.requests == {}


async def test_an_unknown_request_is_not_found(world: World) -> None:
    with pytest.raises(RequestNotFound):
        await world.requests.get(uuid.uuid4())


async def test_request_to_be_forgotten_shows_a_waiting_forget_request_until_the_order_is_anonymized(
    world: World,
) -> None:
    await world.order(7451, ADA, forget=True)
    await world.order(7451, ADA, event_type="order.updated", forget=True)  # still waiting: one request

    (request,) = await world.requests.list(RequestQuery())
    assert (request.kind, request.status) == ("forget", "waiting")
    (progress,) = (await world.requests.get(request.id)).orders
    assert (progress.erasure.order_id, progress.erasure.state) == (7451, "waiting")
    assert world.outbox.events == []  # order_api anonymizes it by itself when it is eligible

    await world.anonymized(7451)
    await world.answer(7451)
    done = await world.requests.get(request.id)
    assert (done.request.status, done.orders[0].erasure.erasure_id) == ("complete", progress.erasure.erasure_id)


async def test_a_forgotten_order_under_a_customer_erasure_has_no_second_request(world: World) -> None:
    await world.order(7461, ADA)
    view = await world.requests.erase_customer(email=ADA)
    await world.order(7461, ADA, event_type="order.updated", forget=True)  # order_api's answer: it waits

    assert list(world.store.requests) == [view.request.id]


async def test_requests_are_listed_newest_first_by_keyset_and_by_status(world: World) -> None:
    await world.order(7471, ADA)
    made = []
    for email in (ADA, BOB, "cy@example.com"):
        made.append((await world.requests.erase_customer(email=email)).request)
        world.clock.advance(1)

    newest = await world.requests.list(RequestQuery(limit=2))
    assert [r.id for r in newest] == [made[2].id, made[1].id]
    last = newest[-1]
    rest = await world.requests.list(RequestQuery(before=(last.created_at, last.id), limit=2))
    assert [r.id for r in rest] == [made[0].id]
    assert [r.id for r in await world.requests.list(RequestQuery(status="waiting"))] == [made[0].id]


def test_a_requests_status_follows_its_orders_and_its_customer_records() -> None:
    assert request_status([]) == "complete"
    assert request_status(["complete", "complete"]) == "complete"
    assert request_status(["complete", "waiting"]) == "waiting"
    assert request_status(["waiting", "erasing", "complete"]) == "erasing"
    assert request_status(["erasing", "overdue"]) == "overdue"
    assert request_status([], ["erased"]) == "complete"
    assert request_status(["complete"], ["erased", "erased"]) == "complete"
    assert request_status(["complete"], ["erased", "waiting"]) == "waiting"
    assert request_status([], ["waiting"]) == "waiting"
    assert request_status(["erasing"], ["waiting"]) == "erasing"
