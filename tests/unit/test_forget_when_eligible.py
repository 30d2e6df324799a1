"""Forget-when-eligible (services/order_api/service/lifecycle.py) on the store in memory: an order whose
customer asked to be forgotten (Digital River's `requestToBeForgotten`) is anonymized by the change
that makes it eligible, in that change's transaction and after its event, and at once when it is
eligible already; until then it waits. The anonymizer's `order.anonymize_requested` anonymizes now or
sets the request, so that the same step finishes it."""

import uuid
from decimal import Decimal
from typing import Any

import pytest

from services.order_api.api.digital_river.requests import DigitalRiverOrderCreate, DigitalRiverOrderUpdate
from services.order_api.domain.cancellation import CancelRequest
from services.order_api.domain.errors import OrderStateError
from shared.consumer import EventHandler, Unprocessable
from shared.erasure import MASK
from shared.events import Event
from shared.order_facts import AnonymizeRequestedFact, FulfillmentCreatedFact, OrderDraft, PaymentFact
from shared.orders import OrderSnapshot
from tests.support.fake_store import NO_CONNECTION, FakeDatabase, order_service, published, refund_service
from tests.support.order_api_facts import fact
from tests.support.order_rules import custom, order

EMAIL = "forget.me@example.com"


async def placed(database: FakeDatabase, *, forget: bool = True, paid: bool = False, **fields: Any) -> OrderSnapshot:
    body = order(custom("25.00", 2), email=EMAIL, request_to_be_forgotten=forget, **fields)
    if paid:
        body["transactions"] = [{"kind": "sale", "amount": "50.00"}]
    else:
        body["financial_status"] = "pending"
    created = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return created.stored.order


async def current(database: FakeDatabase, order_id: int) -> OrderSnapshot:
    found = await database.tables.orders.fetch(order_id)
    assert found is not None
    return found.order


def kinds(database: FakeDatabase) -> list[str]:
    return [kind for kind, _, _ in published(database)]


def digital_river_create(**fields: Any) -> OrderDraft:
    body = {"email": EMAIL, "items": [{"name": "Mug", "price": 25, "quantity": 2}], **fields}
    return DigitalRiverOrderCreate.model_validate(body).draft()


def test_digital_river_create_carries_request_to_be_forgotten_into_the_draft() -> None:
    assert digital_river_create(requestToBeForgotten=True).request_to_be_forgotten is True
    assert digital_river_create().request_to_be_forgotten is False


async def test_an_order_created_eligible_is_anonymized_at_once(database: FakeDatabase) -> None:
    created = await placed(database, fulfillment_status="fulfilled", paid=True)

    assert (created.anonymized, created.email, created.request_to_be_forgotten) == (True, MASK, True)
    assert published(database) == [("order.created", 1, created.id), ("order.anonymized", 2, created.id)]
    assert EMAIL.encode() not in database.tables.outbox.events[-1].body()


async def test_an_order_not_yet_eligible_waits_and_is_anonymized_by_its_fulfilment(
    database: FakeDatabase, apply: EventHandler
) -> None:
    created = await placed(database, paid=True)
    assert (created.anonymized, created.email, kinds(database)) == (False, EMAIL, ["order.created"])

    shipped = FulfillmentCreatedFact(order_id=created.id, fulfillment_id=8)
    await apply(NO_CONNECTION, fact("fulfillment.created", shipped, created.id))

    now = await current(database, created.id)
    assert (now.anonymized, now.email, now.fulfillment_status) == (True, MASK, "fulfilled")
    assert published(database)[1:] == [("order.fulfilled", 2, created.id), ("order.anonymized", 3, created.id)]


async def test_a_cancel_with_nothing_to_pay_back_anonymizes_at_once(database: FakeDatabase) -> None:
    created = await placed(database)

    done = await refund_service(database).cancel_order(created.id, CancelRequest(), may_read=True)

    assert (done.refund, done.stored.order.anonymized, done.stored.order.email) == (None, True, MASK)
    assert kinds(database) == ["order.created", "order.cancelled", "order.anonymized"]


async def test_a_cancel_waits_for_its_refund_and_the_settled_refund_anonymizes(
    database: FakeDatabase, apply: EventHandler
) -> None:
    created = await placed(database, paid=True)
    done = await refund_service(database).cancel_order(created.id, CancelRequest(), may_read=True)
    assert done.refund is not None
    assert done.refund.status == "pending"
    assert (done.stored.order.anonymized, kinds(database)) == (False, ["order.created", "order.cancelled"])

    paid_back = PaymentFact(
        order_id=created.id,
        amount=Decimal("50.00"),
        currency="USD",
        gateway="sandbox",
        refund_id=done.refund.id,
        ledger_entry_id=uuid.uuid4(),
    )
    await apply(NO_CONNECTION, fact("payment.refunded", paid_back, created.id))

    now = await current(database, created.id)
    assert (now.anonymized, now.email, now.financial_status) == (True, MASK, "refunded")
    assert kinds(database)[2:] == ["order.refunded", "order.anonymized"]


async def test_asking_on_an_eligible_order_anonymizes_at_once(database: FakeDatabase) -> None:
    created = await placed(database, forget=False, fulfillment_status="fulfilled", paid=True)
    changes = DigitalRiverOrderUpdate.model_validate({"requestToBeForgotten": True}).changes()

    answered = await order_service(database).update_order(created.id, changes, may_read=True)

    assert (answered.order.anonymized, answered.order.email, answered.sequence) == (True, MASK, 3)
    assert kinds(database) == ["order.created", "order.updated", "order.anonymized"]


async def test_a_request_to_be_forgotten_cannot_be_withdrawn(database: FakeDatabase) -> None:
    created = await placed(database, paid=True)
    service = order_service(database)
    withdraw = DigitalRiverOrderUpdate.model_validate({"requestToBeForgotten": False}).changes()

    with pytest.raises(OrderStateError) as refused:
        await service.update_order(created.id, withdraw, may_read=True)

    assert (refused.value.field, refused.value.code) == ("request_to_be_forgotten", "forget_request_final")
    assert (await current(database, created.id)).request_to_be_forgotten is True
    assert kinds(database) == ["order.created"]
    never_asked = await placed(database, forget=False, paid=True)
    answered = await service.update_order(never_asked.id, withdraw, may_read=True)
    assert answered.order.request_to_be_forgotten is False


async def test_an_order_not_eligible_is_not_anonymized_by_asking_or_by_other_changes(
    database: FakeDatabase,
) -> None:
    created = await placed(database, forget=False, paid=True)
    service = order_service(database)
    changes = DigitalRiverOrderUpdate.model_validate({"requestToBeForgotten": True}).changes()

    await service.update_order(created.id, changes, may_read=True)
    await service.close_order(created.id, may_read=True)

    now = await current(database, created.id)
    assert (now.request_to_be_forgotten, now.anonymized, now.email) == (True, False, EMAIL)
    assert "order.anonymized" not in kinds(database)


async def test_an_order_whose_customer_did_not_ask_is_never_anonymized_by_itself(database: FakeDatabase) -> None:
    created = await placed(database, forget=False, fulfillment_status="fulfilled", paid=True)

    await order_service(database).close_order(created.id, may_read=True)

    assert (await current(database, created.id)).anonymized is False
    assert kinds(database) == ["order.created", "order.closed"]


# ---- order.anonymize_requested (the anonymizer's fact on orders.ingest) --------------------------------


def anonymize_requested(order_id: int) -> Event:
    asked = AnonymizeRequestedFact(order_id=order_id, request_id=uuid.uuid4())
    return fact("order.anonymize_requested", asked, order_id)


async def test_the_anonymizers_request_anonymizes_an_eligible_order_at_once(
    database: FakeDatabase, apply: EventHandler
) -> None:
    created = await placed(database, forget=False, fulfillment_status="fulfilled", paid=True)

    await apply(NO_CONNECTION, anonymize_requested(created.id))
    await apply(NO_CONNECTION, anonymize_requested(created.id))  # asked again: a no-op

    now = await current(database, created.id)
    assert (now.anonymized, now.email) == (True, MASK)
    assert published(database)[1:] == [("order.anonymized", 2, created.id)]


async def test_the_anonymizers_request_on_an_order_not_eligible_waits_for_the_change_that_makes_it_so(
    database: FakeDatabase, apply: EventHandler
) -> None:
    created = await placed(database, forget=False, paid=True)

    await apply(NO_CONNECTION, anonymize_requested(created.id))
    await apply(NO_CONNECTION, anonymize_requested(created.id))  # asked again: nothing more to record

    waiting = await current(database, created.id)
    assert (waiting.request_to_be_forgotten, waiting.anonymized, waiting.email) == (True, False, EMAIL)
    assert kinds(database) == ["order.created", "order.updated"]

    shipped = FulfillmentCreatedFact(order_id=created.id, fulfillment_id=8)
    await apply(NO_CONNECTION, fact("fulfillment.created", shipped, created.id))

    assert (await current(database, created.id)).anonymized is True
    assert kinds(database)[2:] == ["order.fulfilled", "order.anonymized"]


async def test_the_anonymizers_request_for_an_unknown_order_is_unprocessable(apply: EventHandler) -> None:
    with pytest.raises(Unprocessable, match="404"):
        await apply(NO_CONNECTION, anonymize_requested(404))
