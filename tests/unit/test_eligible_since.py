"""`eligible_since` (services/order_api/domain/anonymization.py `with_eligible_since`, applied by every change
that service/lifecycle.py stores): each published snapshot says since when the order may be anonymized, so
the anonymizer's retention counts from it; None while the order may not be."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from services.order_api.domain.anonymization import with_eligible_since
from services.order_api.domain.cancellation import CancelRequest
from services.order_api.domain.changes import OrderChanges
from services.order_api.service.facts import FactService
from services.order_api.service.orders import OrderService
from shared.order_facts import FulfillmentCancelledFact, FulfillmentCreatedFact, OrderDraft, PaymentFact
from shared.orders import OrderLifecycleData, OrderSnapshot, Refund
from tests.support.fake_store import (
    FakeDatabase,
    anonymization_service,
    fact_service,
    order_service,
    refund_service,
)
from tests.support.order_rules import LATER, NOW, custom, in_state, order

EARLIER = NOW - timedelta(days=3)
MUCH_LATER = LATER + timedelta(hours=1)


def pending_refund() -> Refund:
    return Refund(id=1, status="pending", amount=Decimal("10.00"), created_at=NOW)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"financial_status": "paid"}, None),  # open: not eligible
        ({"status": "cancelled"}, LATER),  # turns eligible with this change
        ({"fulfillment_status": "fulfilled"}, LATER),
        ({"financial_status": "refunded"}, LATER),
        ({"status": "cancelled", "eligible_since": EARLIER}, EARLIER),  # stays eligible: kept
        ({"status": "cancelled", "anonymized": True, "eligible_since": EARLIER}, EARLIER),
        ({"financial_status": "paid", "eligible_since": EARLIER}, None),  # no longer eligible: cleared
        ({"status": "cancelled", "refunds": [pending_refund()], "eligible_since": EARLIER}, None),
    ],
)
def test_eligible_since_follows_the_eligibility_rule(fields: dict[str, object], expected: object) -> None:
    changed = in_state(**{"updated_at": LATER, **fields})

    assert with_eligible_since(changed).eligible_since == expected


def last_snapshot(database: FakeDatabase) -> OrderSnapshot:
    data = database.tables.outbox.events[-1].data
    assert isinstance(data, OrderLifecycleData)
    return data.order


async def create(database: FakeDatabase, **fields: object) -> OrderSnapshot:
    body = order(custom("25.00", 2), email="jane@example.com", **fields)
    created = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return created.stored.order


async def test_an_order_created_fulfilled_is_eligible_since_its_creation(database: FakeDatabase) -> None:
    created = await create(database, fulfillment_status="fulfilled")

    assert created.eligible_since == NOW
    assert last_snapshot(database).eligible_since == NOW  # order.created says so


async def test_an_open_order_is_not_eligible_and_its_cancel_makes_it_so(database: FakeDatabase) -> None:
    created = await create(database, financial_status="pending")
    assert (created.eligible_since, last_snapshot(database).eligible_since) == (None, None)

    done = await refund_service(database).cancel_order(created.id, CancelRequest(), may_read=True)

    assert done.stored.order.eligible_since == LATER
    assert (database.tables.outbox.events[-1].type, last_snapshot(database).eligible_since) == (
        "order.cancelled",
        LATER,
    )


async def test_a_later_change_of_an_eligible_order_keeps_the_time_it_became_eligible(
    database: FakeDatabase,
) -> None:
    created = await create(database, fulfillment_status="fulfilled")
    afterwards = OrderService(database, max_event_bytes=1_000_000, clock=lambda: LATER)

    changed = await afterwards.update_order(created.id, OrderChanges(note="leave at the door"), may_read=True)

    assert (changed.order.updated_at, changed.order.eligible_since) == (LATER, NOW)
    assert last_snapshot(database).eligible_since == NOW


async def test_a_cancelled_fulfilment_clears_it_and_a_new_one_starts_again(database: FakeDatabase) -> None:
    created = await create(database, transactions=[{"kind": "sale", "amount": "50.00"}])
    await fact_service(database).apply_fulfillment(FulfillmentCreatedFact(order_id=created.id, fulfillment_id=8))
    assert last_snapshot(database).eligible_since == LATER

    await fact_service(database).apply_fulfillment(FulfillmentCancelledFact(order_id=created.id, fulfillment_id=8))
    assert (last_snapshot(database).fulfillment_status, last_snapshot(database).eligible_since) == (None, None)

    again = FactService(database, max_event_bytes=1_000_000, clock=lambda: MUCH_LATER)
    await again.apply_fulfillment(FulfillmentCreatedFact(order_id=created.id, fulfillment_id=9))
    assert last_snapshot(database).eligible_since == MUCH_LATER


async def test_a_cancel_with_a_refund_pending_is_eligible_once_the_refund_settles(database: FakeDatabase) -> None:
    created = await create(database, transactions=[{"kind": "sale", "amount": "50.00"}])
    done = await refund_service(database).cancel_order(created.id, CancelRequest(), may_read=True)
    assert done.refund is not None
    assert last_snapshot(database).eligible_since is None  # the refund may still need the customer's data

    paid_back = PaymentFact(
        order_id=created.id,
        amount=Decimal("50.00"),
        currency="USD",
        gateway="sandbox",
        refund_id=done.refund.id,
        ledger_entry_id=uuid.uuid4(),
    )
    settling = FactService(database, max_event_bytes=1_000_000, clock=lambda: MUCH_LATER)
    await settling.settle_refund(paid_back, succeeded=True)

    settled = last_snapshot(database)
    assert (settled.financial_status, settled.eligible_since) == ("refunded", MUCH_LATER)


async def test_the_anonymized_snapshot_keeps_the_time(database: FakeDatabase) -> None:
    created = await create(database, fulfillment_status="fulfilled")

    [anonymized] = await anonymization_service(database).anonymize_orders([str(created.id)])

    assert (anonymized.order.anonymized, anonymized.order.eligible_since) == (True, NOW)
    assert last_snapshot(database).eligible_since == NOW
