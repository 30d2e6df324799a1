"""Facts other services publish on orders.ingest, applied through the ingest handler and its use cases
(services/order_api/handlers.py, service/facts.py) on the store in memory: what each changes and
publishes, and which facts are Unprocessable (dead-lettered with the reason). No I/O."""

from decimal import Decimal

import pytest

from shared.consumer import EventHandler, Unprocessable
from shared.events import Event
from shared.order_facts import (
    CustomerFact,
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    FulfillmentLineFact,
    OrderDraft,
    OrderPlacedData,
    PaymentFact,
    VariantFact,
)
from shared.orders import OrderLifecycleData, Snapshot
from tests.support.fake_store import NO_CONNECTION, FakeDatabase, order_service, published
from tests.support.order_rules import custom, order


def fact(event_type: str, data: Snapshot, subject: int = 1) -> Event:
    return Event.new(event_type, "tests", str(subject), data)


async def unpaid_order(database: FakeDatabase, *items: dict[str, object]) -> int:
    draft = OrderDraft.model_validate(order(*items or [custom("100.00")], financial_status="pending"))
    placed = await order_service(database).create_order(draft, may_read=True)
    return placed.stored.order.id


async def test_payments_record_transactions_and_publish_order_paid_when_it_becomes_paid(
    database: FakeDatabase, apply: EventHandler
) -> None:
    order_id = await unpaid_order(database)

    for kind, amount in (("authorized", "100.00"), ("captured", "60.00"), ("captured", "40.00")):
        payment = PaymentFact(order_id=order_id, amount=Decimal(amount), currency="USD", gateway="stripe")
        await apply(NO_CONNECTION, fact(f"payment.{kind}", payment, order_id))

    stored = await database.tables.orders.fetch(order_id)
    assert stored is not None
    assert [(tx.kind, str(tx.amount), tx.gateway) for tx in stored.order.transactions] == [
        ("authorization", "100.00", "stripe"),
        ("capture", "60.00", "stripe"),
        ("capture", "40.00", "stripe"),
    ]
    assert published(database)[1:] == [
        ("order.updated", 2, order_id),
        ("order.updated", 3, order_id),
        ("order.paid", 4, order_id),
    ]


async def test_fulfilments_ship_and_cancellations_put_items_back(database: FakeDatabase, apply: EventHandler) -> None:
    order_id = await unpaid_order(database, custom("10.00", 2))
    stored = await database.tables.orders.fetch(order_id)
    assert stored is not None
    item = stored.order.line_items[0].id

    shipped = FulfillmentCreatedFact(
        order_id=order_id, fulfillment_id=7, line_items=[FulfillmentLineFact(line_item_id=item, quantity=1)]
    )
    await apply(NO_CONNECTION, fact("fulfillment.created", shipped, order_id))
    await apply(NO_CONNECTION, fact("fulfillment.created", FulfillmentCreatedFact(order_id=order_id, fulfillment_id=8)))
    await apply(
        NO_CONNECTION, fact("fulfillment.cancelled", FulfillmentCancelledFact(order_id=order_id, fulfillment_id=8))
    )

    assert [kind for kind, _, _ in published(database)] == [
        "order.created",
        "order.partially_fulfilled",
        "order.fulfilled",
        "order.updated",
    ]
    stored = await database.tables.orders.fetch(order_id)
    assert stored is not None
    assert (stored.order.fulfillment_status, stored.sequence) == ("partial", 4)


async def test_catalog_and_customer_facts_fill_the_read_models(database: FakeDatabase, apply: EventHandler) -> None:
    variant = VariantFact(id=5, product_id=50, title="Teapot", price=Decimal("30.00"), currency="EUR")

    await apply(NO_CONNECTION, fact("catalog.variant.upserted", variant, 5))
    await apply(NO_CONNECTION, fact("customer.upserted", CustomerFact(id=7, email="bob@example.com"), 7))

    assert database.tables.catalog.variants == {5: variant}
    customer = database.tables.customers.customers[7]
    assert (customer.email, customer.state) == ("bob@example.com", "enabled")
    assert published(database) == []


async def test_an_order_placed_again_is_ignored_and_one_that_clashes_is_unprocessable(
    database: FakeDatabase, apply: EventHandler
) -> None:
    draft = OrderDraft.model_validate(order(custom("10.00"), upstream_id="up-1"))

    await apply(NO_CONNECTION, fact("order.placed", OrderPlacedData(order=draft)))
    await apply(NO_CONNECTION, fact("order.placed", OrderPlacedData(order=draft)))
    clash = draft.model_copy(update={"note": "another order"})
    with pytest.raises(Unprocessable, match="up-1"):
        await apply(NO_CONNECTION, fact("order.placed", OrderPlacedData(order=clash)))

    assert len(database.tables.orders.rows) == 1
    assert [kind for kind, _, _ in published(database)] == ["order.created"]


@pytest.mark.parametrize(
    ("event_type", "data", "reason"),
    [
        ("payment.captured", PaymentFact(order_id=404, amount=Decimal(1), currency="USD"), "no order 404"),
        ("payment.captured", PaymentFact(order_id=0, amount=Decimal(1), currency="EUR"), "currency_mismatch"),
        ("fulfillment.cancelled", FulfillmentCancelledFact(order_id=0, fulfillment_id=9), "unknown_fulfillment"),
    ],
)
async def test_a_fact_that_can_never_apply_is_unprocessable_and_changes_nothing(
    database: FakeDatabase, apply: EventHandler, event_type: str, data: Snapshot, reason: str
) -> None:
    order_id = await unpaid_order(database)
    if getattr(data, "order_id", None) == 0:
        data = data.model_copy(update={"order_id": order_id})

    with pytest.raises(Unprocessable, match=reason):
        await apply(NO_CONNECTION, fact(event_type, data, order_id))

    assert [kind for kind, _, _ in published(database)] == ["order.created"]


async def test_an_event_that_is_no_fact_is_unprocessable(database: FakeDatabase, apply: EventHandler) -> None:
    order_id = await unpaid_order(database)
    stored = await database.tables.orders.fetch(order_id)
    assert stored is not None
    created = OrderLifecycleData(order_id=order_id, sequence=1, order=stored.order)

    with pytest.raises(Unprocessable, match="not a fact"):
        await apply(NO_CONNECTION, fact("order.created", created, order_id))
