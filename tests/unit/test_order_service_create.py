"""Placing an order through the use case (services/order_api/service/orders.py) on the store in memory:
what is stored, what is published, what the caller is shown, and what is refused, with nothing left
behind. No I/O."""

from decimal import Decimal
from typing import Any

import pytest

from services.order_api.domain.errors import OrderRuleError, ReadAccessRequired
from services.order_api.service.errors import UpstreamConflict
from shared.order_facts import CustomerFact, OrderDraft, VariantFact
from shared.orders import OrderSnapshot
from tests.support.fake_store import FakeDatabase, order_service, published
from tests.support.order_rules import IPOD, NOW, custom, order


def draft(**fields: Any) -> OrderDraft:
    return OrderDraft.model_validate(order(custom("10.00"), **fields))


@pytest.fixture
def database() -> FakeDatabase:
    database = FakeDatabase()
    database.tables.catalog.variants[IPOD.id] = IPOD
    return database


async def test_a_new_order_is_stored_at_version_1_and_published_once(database: FakeDatabase) -> None:
    placed = await order_service(database).create_order(draft(email="jane@example.com"), may_read=True)

    assert placed.created
    assert placed.stored.sequence == 1
    stored = await database.tables.orders.fetch(placed.stored.order.id)
    assert stored == placed.stored
    assert published(database) == [("order.created", 1, placed.stored.order.id)]
    assert (placed.stored.order.order_number, placed.stored.order.created_at) == (1001, NOW)


async def test_catalog_variants_fill_the_line_items(database: FakeDatabase) -> None:
    placed = await order_service(database).create_order(
        OrderDraft.model_validate({"line_items": [{"variant_id": IPOD.id, "quantity": 2}]}), may_read=True
    )

    [item] = placed.stored.order.line_items
    assert (item.sku, item.price, placed.stored.order.total_price) == ("IPOD2009BLACK", IPOD.price, Decimal("398.00"))


async def test_a_create_repeated_with_the_same_upstream_id_and_content_answers_the_first_order(
    database: FakeDatabase,
) -> None:
    orders = order_service(database)
    first = await orders.create_order(draft(upstream_id="up-1"), may_read=True)

    again = await orders.create_order(draft(upstream_id="up-1"), may_read=True)

    assert (again.created, again.stored) == (False, first.stored)
    assert len(database.tables.orders.rows) == 1
    assert published(database) == [("order.created", 1, first.stored.order.id)]


async def test_an_upstream_id_used_by_other_content_is_a_conflict(database: FakeDatabase) -> None:
    orders = order_service(database)
    first = await orders.create_order(draft(upstream_id="up-1"), may_read=True)

    with pytest.raises(UpstreamConflict) as conflict:
        await orders.create_order(draft(upstream_id="up-1", note="another order"), may_read=True)

    assert (conflict.value.upstream_id, conflict.value.order_id) == ("up-1", first.stored.order.id)
    assert len(database.tables.orders.rows) == 1


async def test_a_create_that_loses_a_race_for_its_upstream_id_answers_the_winners_order(
    database: FakeDatabase,
) -> None:
    orders = order_service(database)
    winner = await orders.create_order(draft(upstream_id="up-1"), may_read=True)
    winner_id = winner.stored.order.id
    row = database.tables.orders.rows.pop(winner_id)  # committed only after the second create looked

    def winner_commits(_: OrderSnapshot) -> None:
        database.commit_concurrently(lambda tables: tables.orders.rows.__setitem__(winner_id, row))
        database.tables.orders.before_insert = None

    database.tables.orders.before_insert = winner_commits
    again = await orders.create_order(draft(upstream_id="up-1"), may_read=True)

    assert (again.created, again.stored.order.id) == (False, winner_id)
    assert list(database.tables.orders.rows) == [winner_id]
    assert published(database) == [("order.created", 1, winner_id)]


async def test_naming_a_customer_by_id_needs_read_access_before_anything_is_looked_up(database: FakeDatabase) -> None:
    with pytest.raises(ReadAccessRequired) as refused:
        await order_service(database).create_order(draft(customer={"id": 404}), may_read=False)

    assert (refused.value.field, refused.value.code) == ("customer.id", "forbidden")
    assert (database.tables.orders.rows, published(database)) == ({}, [])


async def test_an_unknown_customer_id_is_refused(database: FakeDatabase) -> None:
    with pytest.raises(OrderRuleError) as refused:
        await order_service(database).create_order(draft(customer={"id": 404}), may_read=True)

    assert (refused.value.field, refused.value.code) == ("customer.id", "unknown_customer")


async def test_an_account_named_by_id_is_counted_and_shown_on_the_order(database: FakeDatabase) -> None:
    await database.tables.customers.upsert(CustomerFact(id=7, email="bob@example.com"))

    placed = await order_service(database).create_order(
        draft(customer={"id": 7}, currency="JPY", line_items=[custom("1500")]), may_read=True
    )

    customer = placed.stored.order.customer
    assert customer is not None
    assert (customer.id, customer.orders_count, str(customer.total_spent)) == (7, 1, "1500")
    assert (placed.stored.order.email, placed.stored.order.guest) == ("bob@example.com", False)


async def test_an_order_counted_on_the_customer_meanwhile_is_not_lost_and_the_create_counts_on_top(
    database: FakeDatabase,
) -> None:
    await database.tables.customers.upsert(CustomerFact(id=7, email="bob@example.com"))
    customers = database.tables.customers.customers

    def another_order_counted(_: OrderSnapshot) -> None:
        # Between this create's read of the record and its insert, as a concurrent create's insert.
        customers[7] = customers[7].model_copy(update={"orders_count": 1, "total_spent": Decimal("5.00")})
        database.tables.orders.before_insert = None

    database.tables.orders.before_insert = another_order_counted
    placed = await order_service(database).create_order(draft(customer={"id": 7}), may_read=True)

    shown = placed.stored.order.customer
    assert shown is not None
    assert (shown.orders_count, shown.total_spent) == (2, Decimal("15.00"))
    assert (customers[7].orders_count, customers[7].total_spent) == (2, Decimal("15.00"))
    assert published(database) == [("order.created", 1, placed.stored.order.id)]


async def test_an_email_finds_the_checkout_record_and_never_an_account(database: FakeDatabase) -> None:
    await database.tables.customers.upsert(CustomerFact(id=7, email="jane@example.com"))
    orders = order_service(database)

    first = await orders.create_order(draft(email="jane@example.com"), may_read=True)
    second = await orders.create_order(draft(email="JANE@example.com"), may_read=True)

    assert first.stored.order.customer is not None
    assert second.stored.order.customer is not None
    assert first.stored.order.customer.id == second.stored.order.customer.id != 7
    assert (second.stored.order.customer.orders_count, second.stored.order.guest) == (2, True)


async def test_a_caller_that_may_not_read_is_shown_the_order_without_its_customer(database: FakeDatabase) -> None:
    placed = await order_service(database).create_order(draft(email="jane@example.com"), may_read=False)

    stored = await database.tables.orders.fetch(placed.stored.order.id)
    assert placed.stored.order.customer is None
    assert stored is not None
    assert stored.order.customer is not None


async def test_an_order_whose_event_would_be_too_large_is_refused_and_nothing_is_kept(database: FakeDatabase) -> None:
    with pytest.raises(OrderRuleError) as refused:
        await order_service(database, max_event_bytes=2_000).create_order(
            draft(email="jane@example.com", note="x" * 2_000), may_read=True
        )

    assert refused.value.code == "order_too_large"
    assert (database.tables.orders.rows, database.tables.customers.customers, published(database)) == ({}, {}, [])


async def test_an_order_placed_by_another_service_may_name_any_customer(database: FakeDatabase) -> None:
    await database.tables.customers.upsert(CustomerFact(id=7))

    placed = await order_service(database).place_order(draft(customer={"id": 7}), may_read=True)

    assert placed.created
    assert placed.stored.order.customer is not None
    assert placed.stored.order.customer.id == 7


async def test_a_variant_recorded_from_the_catalog_is_ordered_by_id(database: FakeDatabase) -> None:
    teapot = VariantFact(id=5, product_id=50, title="Teapot", price=Decimal("30.00"), currency="EUR")
    await database.tables.catalog.upsert_variant(teapot)

    placed = await order_service(database).create_order(
        OrderDraft.model_validate({"line_items": [{"variant_id": 5, "quantity": 1}]}), may_read=True
    )

    assert (placed.stored.order.currency, placed.stored.order.total_price) == ("EUR", Decimal("30.00"))
