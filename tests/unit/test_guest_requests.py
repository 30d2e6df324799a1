"""Guest cancellation requests (Akinon) through their use case (services/order_api/service/guest_requests.py)
on the store in memory: a request accepted flags its item and publishes the order's event and the full
request for the worker; each rule refuses with its own code and changes nothing; a miss is None, an
anonymized order's too. No I/O."""

from dataclasses import replace
from typing import Any

import pytest

from services.order_api.domain.errors import OrderRuleError
from services.order_api.domain.guest_requests import RequestConflict, RequestedItem, iban_is_valid
from services.order_api.domain.refunds import RefundLineRequest, RefundRequest
from services.order_api.service.guest_requests import GuestRequest
from shared.cancellations import CancellationReason, CancellationSubmitted, ShippingCompany
from shared.erasure import MASK
from shared.order_facts import FulfillmentCreatedFact, OrderDraft
from shared.orders import OrderLifecycleData, OrderSnapshot
from shared.topics import CANCELLATIONS_REQUESTS, ORDERS_EVENTS
from tests.support.fake_store import (
    FakeDatabase,
    anonymization_service,
    fact_service,
    guest_requests,
    order_service,
    refund_service,
)
from tests.support.order_rules import custom, order

EMAIL = "guest@example.com"
IBAN = "GB82WEST12345698765432"  # the ISO 13616 example


@pytest.fixture
async def database() -> FakeDatabase:
    database = FakeDatabase()
    reference = database.tables.reference_data
    await reference.upsert_reason(CancellationReason(id=1, name="Changed my mind"))
    await reference.upsert_reason(CancellationReason(id=9, name="Retired", active=False))
    await reference.upsert_shipping_company(ShippingCompany(id=1, name="Yurtici"))
    await reference.upsert_shipping_company(ShippingCompany(id=3, name="MNG", easy_return=False))
    await reference.upsert_shipping_company(ShippingCompany(id=4, name="Surat", active=False))
    return database


async def guest_order(database: FakeDatabase, **fields: Any) -> OrderSnapshot:
    body = order(custom("25.00", 3), custom("10.00", 1), email=EMAIL, **fields)
    placed = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return placed.stored.order


def item(item_id: int, **fields: Any) -> RequestedItem:
    """A request to cancel every unit of the item, for reason 1, with `fields` changed."""
    return replace(RequestedItem("", item_id, 1, "cancel"), **fields)


async def submit(
    database: FakeDatabase, placed: OrderSnapshot, *items: RequestedItem, **fields: Any
) -> CancellationSubmitted | None:
    return await guest_requests(database).submit(GuestRequest(placed.order_number, EMAIL, list(items), **fields))


async def test_an_accepted_request_flags_its_item_and_hands_the_worker_the_full_request(database: FakeDatabase) -> None:
    placed = await guest_order(database)
    boots = placed.line_items[0].id

    submitted = await submit(
        database, placed, item(boots, quantity=2), iban="gb82 west 1234 5698 7654 32", holder_name="Jane Doe"
    )

    assert submitted is not None
    [request] = submitted.items
    assert (request.line_item_id, request.quantity, request.reason_id, request.cancellation_type) == (
        boots,
        2,
        1,
        "cancel",
    )
    assert submitted.bank_account is not None
    assert (submitted.bank_account.iban, submitted.bank_account.holder_name) == (IBAN, "Jane Doe")
    stored = await database.tables.orders.fetch(placed.id)
    assert stored is not None
    assert [line.active_request for line in stored.order.line_items] == [True, False]
    outbox = database.tables.outbox
    [changed, handed] = outbox.events[1:]
    assert (changed.type, outbox.topics[changed.id]) == ("order.cancellation_requested", ORDERS_EVENTS)
    assert (handed.type, outbox.topics[handed.id]) == ("cancellation.submitted", CANCELLATIONS_REQUESTS)
    assert isinstance(changed.data, OrderLifecycleData)
    assert IBAN not in changed.body().decode()  # PII-free
    assert "Jane Doe" not in changed.body().decode()
    assert handed.data == submitted
    # The order's sales channel goes with the request, for the worker's events about it.
    assert (submitted.source_name, handed.channels) == (placed.source_name, (f"source:{placed.source_name}",))


async def test_a_miss_is_none_and_changes_nothing(database: FakeDatabase) -> None:
    placed = await guest_order(database)

    wrong_email = await guest_requests(database).submit(
        GuestRequest(placed.order_number, "someone@example.com", [item(placed.line_items[0].id)])
    )
    no_order = await guest_requests(database).submit(GuestRequest(99_999, EMAIL, [item(placed.line_items[0].id)]))

    assert (wrong_email, no_order) == (None, None)
    assert [event.type for event in database.tables.outbox.events] == ["order.created"]


async def test_an_anonymized_order_is_missed_like_any_miss_even_by_its_masked_email(database: FakeDatabase) -> None:
    placed = await guest_order(database, fulfillment_status="fulfilled")
    [anonymized] = await anonymization_service(database).anonymize_orders([str(placed.id)])
    assert anonymized.order.email == MASK
    lookups = order_service(database)
    requests = guest_requests(database)

    for email in (MASK, EMAIL):
        assert await lookups.find_guest_order(placed.order_number, email) is None
        assert await requests.submit(GuestRequest(placed.order_number, email, [item(placed.line_items[0].id)])) is None

    assert [event.type for event in database.tables.outbox.events] == ["order.created", "order.anonymized"]


@pytest.mark.parametrize(
    ("requested", "fields", "field", "code"),
    [
        ({"line_item_id": 1}, {}, "order_item", "cancellation_request_100_2"),
        ({"quantity": 0}, {}, "quantity", "cancellation_request_100_3"),
        ({"quantity": 4}, {}, "quantity", "cancellation_request_100_3"),
        ({"reason_id": 2}, {}, "reason", "cancellation_request_100_4"),
        ({"reason_id": 9}, {}, "reason", "cancellation_request_100_4"),
        ({"cancellation_type": "refund"}, {}, "shipping_company", "cancellation_request_100_5"),
        (
            {"cancellation_type": "refund", "shipping_company_id": 3},
            {},
            "shipping_company",
            "cancellation_request_100_6",
        ),
        (
            {"cancellation_type": "refund", "shipping_company_id": 4},
            {},
            "shipping_company",
            "cancellation_request_100_6",
        ),
        (
            {},
            {"iban": "GB82WEST1234569876543212345678901234", "holder_name": "J"},
            "iban",
            "cancellation_request_100_7",
        ),
        ({}, {"iban": "GB82WEST12345698765433", "holder_name": "J"}, "iban", "cancellation_request_100_8"),
        ({}, {"iban": IBAN}, "holder_name", "cancellation_request_100_9"),
        ({}, {"holder_name": "Jane Doe"}, "iban", "cancellation_request_100_9"),
        ({}, {"iban": IBAN, "holder_name": "J" * 256}, "holder_name", "cancellation_request_100_10"),
    ],
)
async def test_each_rule_refuses_with_its_own_code_and_changes_nothing(
    database: FakeDatabase, requested: dict[str, Any], fields: dict[str, Any], field: str, code: str
) -> None:
    placed = await guest_order(database)

    with pytest.raises(OrderRuleError) as refused:
        await submit(database, placed, item(placed.line_items[0].id, **requested), **fields)

    assert (refused.value.field, refused.value.code) == (field, code)
    assert [event.type for event in database.tables.outbox.events] == ["order.created"]


async def test_an_item_with_a_request_waiting_is_refused_with_the_documented_code(database: FakeDatabase) -> None:
    placed = await guest_order(database)
    boots = placed.line_items[0].id
    await submit(database, placed, item(boots, quantity=1))

    with pytest.raises(RequestConflict) as refused:
        await submit(database, placed, item(boots, quantity=1))

    assert (refused.value.field, refused.value.code) == ("order_item", "cancellation_request_100_1")


async def test_a_bulk_request_with_one_bad_item_accepts_none(database: FakeDatabase) -> None:
    placed = await guest_order(database)
    boots, hat = (line.id for line in placed.line_items)

    with pytest.raises(OrderRuleError) as refused:
        await submit(
            database,
            placed,
            item(boots, field="cancel_order_items[0]"),
            item(hat, field="cancel_order_items[1]", reason_id=2),
        )
    with pytest.raises(RequestConflict):  # the same item twice in one bulk request
        await submit(
            database, placed, item(boots, field="cancel_order_items[0]"), item(boots, field="cancel_order_items[1]")
        )

    assert (refused.value.field, refused.value.code) == ("cancel_order_items[1].reason", "cancellation_request_100_4")
    stored = await database.tables.orders.fetch(placed.id)
    assert stored is not None
    assert [line.active_request for line in stored.order.line_items] == [False, False]


async def test_what_a_guest_may_still_ask_about_counts_shipped_cancelled_and_refunded_units(
    database: FakeDatabase,
) -> None:
    placed = await guest_order(database, transactions=[{"kind": "sale", "amount": "85.00"}])
    boots = placed.line_items[0].id
    await fact_service(database).apply_fulfillment(FulfillmentCreatedFact(order_id=placed.id, fulfillment_id=7))
    refund = RefundRequest(lines=(RefundLineRequest(boots, 1, "return"),))
    await refund_service(database).create_refund(placed.id, refund, may_read=True)

    with pytest.raises(OrderRuleError) as nothing_to_cancel:  # every unit shipped
        await submit(database, placed, item(boots))
    accepted = await submit(database, placed, item(boots, cancellation_type="refund", shipping_company_id=1))

    assert nothing_to_cancel.value.code == "cancellation_request_100_3"
    assert accepted is not None
    assert accepted.items[0].quantity == 2  # all that no refund holds yet


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        (IBAN, True),
        ("DE89370400440532013000", True),
        ("TR330006100519786457841326", True),
        ("GB82WEST12345698765433", False),  # a wrong check
        ("GB82-WEST-1234", False),
        ("12WEST12345698765432", False),
    ],
)
def test_ibans_are_checked_with_mod_97(iban: str, valid: bool) -> None:
    assert iban_is_valid(iban) is valid
