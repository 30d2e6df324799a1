"""`customer.erase_requested` (services/order_api/service/customer_erasure.py) on the store in memory:
the customer's record and the checkout records with its email are masked in one transaction, at once
when none of its orders is left to anonymize, else when its last one is anonymized, and every request
that asked is answered then (`customer.erased`); an unknown or already masked customer is answered at
once with nothing erased. A guest's checkout record goes with its last order anonymized, asked or not,
with no answer; a registered account stays until its own erasure."""

import uuid
from typing import Any

from shared.consumer import EventHandler
from shared.erasure import CUSTOMER_ERASED, MASK, CustomerErased, CustomerEraseRequestedFact
from shared.events import Event
from shared.order_facts import AnonymizeRequestedFact, CustomerFact, FulfillmentCreatedFact, OrderDraft
from shared.orders import CustomerSnapshot
from shared.topics import ANONYMIZATION_EVENTS
from tests.support.fake_store import NO_CONNECTION, FakeDatabase, anonymization_service, order_service
from tests.support.order_api_facts import fact
from tests.support.order_rules import custom, order

CUSTOMER = 207119551
EMAIL = "Erase.Me@example.com"
ACCOUNT = CustomerFact(id=CUSTOMER, email=EMAIL, first_name="Ada", last_name="Byron", phone="+15550100", note="VIP")


def erase_requested(customer_id: int = CUSTOMER, request_id: uuid.UUID | None = None) -> Event:
    return fact(
        "customer.erase_requested",
        CustomerEraseRequestedFact(customer_id=customer_id, request_id=request_id or uuid.uuid4()),
        customer_id,
    )


def answers(database: FakeDatabase) -> list[CustomerErased]:
    """The `customer.erased` receipts order_api published, oldest first (each keyed by its customer)."""
    outbox = database.tables.outbox
    found = [event for event in outbox.events if event.type == CUSTOMER_ERASED]
    for event in found:
        assert outbox.topics[event.id] == ANONYMIZATION_EVENTS
        assert isinstance(event.data, CustomerErased)
        assert event.subject == str(event.data.customer_id)
    return [event.data for event in found if isinstance(event.data, CustomerErased)]


async def placed(database: FakeDatabase, customer: dict[str, Any], **fields: Any) -> int:
    body = order(custom("25.00", 1), customer=customer, **fields)
    body["transactions"] = [{"kind": "sale", "amount": "25.00"}]
    created = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return created.stored.order.id


def record(database: FakeDatabase, customer_id: int) -> CustomerSnapshot:
    return database.tables.customers.customers[customer_id]


def personal(customer: CustomerSnapshot) -> tuple[str | None, ...]:
    return (customer.email, customer.first_name, customer.last_name, customer.phone, customer.note)


async def checkout_record(database: FakeDatabase, email: str) -> int:
    """A guest order's checkout record (`disabled`) with `email`; its id."""
    order_id = await placed(database, {"email": email, "first_name": "Ada", "last_name": "Guest"}, email=email)
    stored = await database.tables.orders.fetch(order_id)
    assert stored is not None
    assert stored.order.customer is not None
    return stored.order.customer.id


async def test_a_customer_with_no_order_left_to_anonymize_is_masked_at_once_with_its_checkout_records(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("customer.upserted", ACCOUNT, CUSTOMER))
    checkout = await checkout_record(database, EMAIL.lower())
    other = await checkout_record(database, "someone.else@example.com")

    request_id = uuid.uuid4()

    await apply(NO_CONNECTION, erase_requested(request_id=request_id))

    assert personal(record(database, CUSTOMER)) == (MASK,) * 5
    assert personal(record(database, checkout))[:3] == (MASK, MASK, MASK)
    assert record(database, CUSTOMER).state == "enabled"
    assert record(database, other).email == "someone.else@example.com"
    assert database.tables.customer_erasures.waiting_for == {}
    [answer] = answers(database)
    assert (answer.customer_id, answer.request_ids, answer.rows) == (CUSTOMER, [request_id], {"customers": 2})


async def test_the_erasure_waits_for_the_customers_orders_and_the_last_anonymized_one_masks_it(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("customer.upserted", ACCOUNT, CUSTOMER))
    shipped = await placed(database, {"id": CUSTOMER}, fulfillment_status="fulfilled")
    open_order = await placed(database, {"id": CUSTOMER})

    first, second = uuid.uuid4(), uuid.uuid4()
    await apply(NO_CONNECTION, erase_requested(request_id=first))  # before the anonymizer's facts: they travel apart
    await apply(NO_CONNECTION, erase_requested(request_id=second))  # a second request while the first waits
    assert record(database, CUSTOMER).email == EMAIL
    assert database.tables.customer_erasures.waiting_for == {CUSTOMER: [first, second]}

    for order_id in (shipped, open_order):
        await apply(
            NO_CONNECTION, fact("order.anonymize_requested", AnonymizeRequestedFact(order_id=order_id), order_id)
        )
    assert record(database, CUSTOMER).email == EMAIL  # the open order still waits to become eligible
    assert answers(database) == []

    await apply(
        NO_CONNECTION,
        fact("fulfillment.created", FulfillmentCreatedFact(order_id=open_order, fulfillment_id=8), open_order),
    )

    assert personal(record(database, CUSTOMER)) == (MASK,) * 5
    assert database.tables.customer_erasures.waiting_for == {}
    [answer] = answers(database)  # both requests answered in the last order's transaction
    assert (answer.customer_id, answer.request_ids, answer.rows) == (CUSTOMER, [first, second], {"customers": 1})


async def test_erasing_a_masked_customer_again_masks_no_other_record(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("customer.upserted", ACCOUNT, CUSTOMER))
    await apply(NO_CONNECTION, erase_requested())
    masked_elsewhere = await checkout_record(database, "x@example.com")
    database.tables.customers.customers[masked_elsewhere] = record(database, masked_elsewhere).model_copy(
        update={"email": MASK}
    )
    before = record(database, masked_elsewhere)
    again = uuid.uuid4()

    await apply(NO_CONNECTION, erase_requested(request_id=again))

    assert personal(record(database, CUSTOMER)) == (MASK,) * 5
    assert record(database, masked_elsewhere) == before  # `*` is no email to match
    assert (answers(database)[-1].request_ids, answers(database)[-1].rows) == ([again], {"customers": 0})


async def test_a_masked_customer_with_a_new_order_is_answered_at_once_with_nothing_erased(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("customer.upserted", ACCOUNT, CUSTOMER))
    await apply(NO_CONNECTION, erase_requested())
    await placed(database, {"id": CUSTOMER})  # an open order placed after the erasure
    again = uuid.uuid4()

    await apply(NO_CONNECTION, erase_requested(request_id=again))

    assert database.tables.customer_erasures.waiting_for == {}
    assert (answers(database)[-1].request_ids, answers(database)[-1].rows) == ([again], {"customers": 0})


async def test_an_unknown_customer_is_answered_with_nothing_erased(database: FakeDatabase, apply: EventHandler) -> None:
    request_id = uuid.uuid4()

    await apply(NO_CONNECTION, erase_requested(404, request_id))

    [answer] = answers(database)
    assert (answer.customer_id, answer.request_ids, answer.rows) == (404, [request_id], {"customers": 0})


async def test_a_checkout_record_is_masked_with_the_last_of_its_orders_anonymized(database: FakeDatabase) -> None:
    guest = {"email": "guest@example.com", "first_name": "Ada", "last_name": "Guest", "phone": "+15550101"}
    first = await placed(database, guest, email=guest["email"], fulfillment_status="fulfilled")
    second = await placed(database, guest, email=guest["email"], fulfillment_status="fulfilled")
    stored = await database.tables.orders.fetch(first)
    assert stored is not None
    assert stored.order.customer is not None
    checkout = stored.order.customer.id
    anonymizer = anonymization_service(database)

    await anonymizer.anonymize_orders([str(first)])
    assert personal(record(database, checkout))[:4] == ("guest@example.com", "Ada", "Guest", "+15550101")

    await anonymizer.anonymize_orders([str(second)])

    assert personal(record(database, checkout))[:4] == (MASK,) * 4
    assert record(database, checkout).orders_count == 2  # what the support desk still sees
    assert answers(database) == []  # nobody asked: no receipt


async def test_a_registered_account_stays_when_its_only_order_is_anonymized(
    database: FakeDatabase, apply: EventHandler
) -> None:
    await apply(NO_CONNECTION, fact("customer.upserted", ACCOUNT, CUSTOMER))
    shipped = await placed(database, {"id": CUSTOMER}, fulfillment_status="fulfilled")

    await anonymization_service(database).anonymize_orders([str(shipped)])

    assert personal(record(database, CUSTOMER)) == (EMAIL, "Ada", "Byron", "+15550100", "VIP")
