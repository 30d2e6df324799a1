"""The anonymization use case (services/order_api/service/anonymization.py) on the in-memory store:
all or nothing, one `order.anonymized` per order masked, a repeat a no-op; an anonymized order takes no
personal data again."""

from typing import Any

import pytest

from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.errors import OrderStateError
from services.order_api.service.errors import OrdersNotAnonymizable
from shared.erasure import MASK
from tests.support.fake_store import FakeDatabase, anonymization_service, order_service, published
from tests.support.order_rules import PARTIALLY_PAID_NEW_CUSTOMER, build


async def _place(database: FakeDatabase, order_id: int, **fields: Any) -> str:
    order = build(PARTIALLY_PAID_NEW_CUSTOMER).model_copy(update={"id": order_id, **fields})
    await database.tables.orders.insert(order, None)
    return str(order_id)


async def test_eligible_orders_are_masked_and_published_once_each() -> None:
    database = FakeDatabase()
    cancelled = await _place(database, 11, status="cancelled")
    fulfilled = await _place(database, 12, fulfillment_status="fulfilled")

    answered = await anonymization_service(database).anonymize_orders([fulfilled, cancelled, fulfilled])

    assert [stored.order.id for stored in answered] == [12, 11]
    assert all(stored.order.anonymized and stored.order.email == MASK for stored in answered)
    assert published(database) == [("order.anonymized", 2, 12), ("order.anonymized", 2, 11)]
    event_order = database.tables.outbox.events[0].body()
    assert b"jane@example.com" not in event_order
    assert b"Smith" not in event_order


async def test_anonymizing_again_is_a_no_op_that_answers_the_same() -> None:
    database = FakeDatabase()
    order_id = await _place(database, 11, status="cancelled")
    service = anonymization_service(database)
    first = await service.anonymize_orders([order_id])

    again = await service.anonymize_orders([order_id])

    assert again == first
    assert len(published(database)) == 1


@pytest.mark.parametrize("bad", ["12", "999", "not-a-number", ""])
async def test_one_unknown_or_ineligible_order_refuses_all_and_changes_nothing(bad: str) -> None:
    database = FakeDatabase()
    good = await _place(database, 11, status="cancelled")
    await _place(database, 12, financial_status="paid")  # paid, unfulfilled: not eligible
    before = dict(database.tables.orders.rows)

    with pytest.raises(OrdersNotAnonymizable) as refused:
        await anonymization_service(database).anonymize_orders([good, bad])

    assert [(refusal.order_id, refusal.reason) for refusal in refused.value.refused] == [
        (bad, "not_finished" if bad == "12" else "not_found")
    ]
    assert database.tables.orders.rows == before
    assert published(database) == []


async def test_an_anonymized_order_refuses_an_update_that_holds_personal_data() -> None:
    database = FakeDatabase()
    order_id = await _place(database, 11, status="cancelled")
    await anonymization_service(database).anonymize_orders([str(order_id)])
    before = dict(database.tables.orders.rows)
    orders = order_service(database)

    with pytest.raises(OrderStateError) as refused:
        await orders.update_order(11, OrderChanges(email="jane.again@example.com"), may_read=True)

    assert (refused.value.field, refused.value.code) == ("email", "order_anonymized")
    assert database.tables.orders.rows == before
    assert len(published(database)) == 1  # the order.anonymized only
    tagged = await orders.update_order(11, OrderChanges(tags="erased"), may_read=True)
    assert (tagged.order.tags, tagged.order.email) == ("erased", MASK)
