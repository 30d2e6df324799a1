"""Reading and changing orders through the use cases (services/order_api/service/orders.py) on the store
in memory: versions, events, preconditions, and refusals that leave the order as it was. No I/O."""

from typing import Any

import pytest

from services.order_api.domain.changes import OrderChanges
from services.order_api.domain.errors import OrderStateError
from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.errors import OrderNotFound, StaleVersion, UpstreamConflict
from services.order_api.service.orders import OrderService
from shared.order_facts import CustomerFact, OrderDraft
from tests.support.fake_store import FakeDatabase, order_service, published
from tests.support.order_rules import NOW, custom, order


@pytest.fixture
def orders(database: FakeDatabase) -> OrderService:
    return order_service(database)


async def create(orders: OrderService, **fields: Any) -> StoredOrder:
    placed = await orders.create_order(OrderDraft.model_validate(order(custom("10.00"), **fields)), may_read=True)
    return placed.stored


async def test_an_order_is_read_with_its_version(orders: OrderService) -> None:
    created = await create(orders)

    assert await orders.get_order(created.order.id) == created
    with pytest.raises(OrderNotFound):
        await orders.get_order(404)


async def test_an_update_stores_the_next_version_and_publishes_it(orders: OrderService, database: FakeDatabase) -> None:
    created = await create(orders)

    updated = await orders.update_order(created.order.id, OrderChanges(note="leave at the door"), may_read=True)

    assert (updated.sequence, updated.order.note, updated.order.updated_at) == (2, "leave at the door", NOW)
    assert await orders.get_order(created.order.id) == updated
    assert published(database)[-1] == ("order.updated", 2, created.order.id)


async def test_a_change_against_an_older_version_is_refused_and_changes_nothing(
    orders: OrderService, database: FakeDatabase
) -> None:
    created = await create(orders)
    await orders.update_order(created.order.id, OrderChanges(note="first"), may_read=True, if_match=1)

    with pytest.raises(StaleVersion) as stale:
        await orders.update_order(created.order.id, OrderChanges(note="second"), may_read=True, if_match=1)

    assert stale.value.current == 2
    assert (await orders.get_order(created.order.id)).order.note == "first"
    assert len(published(database)) == 2


async def test_an_update_to_an_upstream_id_another_order_holds_is_a_conflict(orders: OrderService) -> None:
    await create(orders, upstream_id="up-1")
    other = await create(orders)

    with pytest.raises(UpstreamConflict) as conflict:
        await orders.update_order(other.order.id, OrderChanges(upstream_id="up-1"), may_read=True)

    assert conflict.value.upstream_id == "up-1"
    assert (await orders.get_order(other.order.id)).sequence == 1


async def test_a_caller_that_may_not_read_is_shown_the_changed_order_without_its_customer(
    orders: OrderService,
) -> None:
    created = await create(orders, email="jane@example.com")

    updated = await orders.update_order(created.order.id, OrderChanges(tags="gift"), may_read=False)

    assert (updated.order.customer, updated.order.tags) == (None, "gift")
    assert (await orders.get_order(created.order.id)).order.customer is not None


async def test_close_then_reopen_each_publish_their_event(orders: OrderService, database: FakeDatabase) -> None:
    created = await create(orders)

    closed = await orders.close_order(created.order.id, may_read=True)
    reopened = await orders.reopen_order(created.order.id, may_read=True, if_match=2)

    assert (closed.order.status, closed.sequence, reopened.order.status, reopened.sequence) == ("closed", 2, "open", 3)
    assert [kind for kind, _, _ in published(database)] == ["order.created", "order.closed", "order.reopened"]
    with pytest.raises(OrderStateError):
        await orders.reopen_order(created.order.id, may_read=True)


async def test_delete_publishes_the_last_state_and_removes_the_order(
    orders: OrderService, database: FakeDatabase
) -> None:
    created = await create(orders, financial_status="pending")

    await orders.delete_order(created.order.id, if_match=1)

    assert published(database)[-1] == ("order.deleted", 2, created.order.id)
    with pytest.raises(OrderNotFound):
        await orders.get_order(created.order.id)


async def test_an_open_paid_order_is_not_deleted(orders: OrderService, database: FakeDatabase) -> None:
    created = await create(orders, financial_status="paid")

    with pytest.raises(OrderStateError) as refused:
        await orders.delete_order(created.order.id)

    assert refused.value.code == "order_not_deletable"
    assert await orders.get_order(created.order.id) == created
    assert len(published(database)) == 1


async def test_a_guest_finds_their_order_by_number_and_exact_email_only(
    orders: OrderService, database: FakeDatabase
) -> None:
    guest = await create(orders, email="guest@example.com")
    await database.tables.customers.upsert(CustomerFact(id=7, email="guest@example.com"))
    account = await create(orders, customer={"id": 7})
    number = guest.order.order_number

    assert await orders.find_guest_order(number, "guest@example.com") == guest.order
    assert await orders.find_guest_order(number, "GUEST@example.com") is None
    assert await orders.find_guest_order(account.order.order_number, "guest@example.com") is None


async def test_lists_and_counts_pass_the_query_and_page_to_the_store(orders: OrderService) -> None:
    ids = [(await create(orders, email=f"buyer{index % 2}@example.com")).order.id for index in range(5)]
    query = OrderQuery(email="buyer0@example.com")

    newest = await orders.list_orders(query, Page(2))
    after = await orders.list_orders(query, Page(5, "asc", after_id=ids[0]))

    assert [listed.id for listed in newest] == [ids[4], ids[2]]
    assert [listed.id for listed in after] == [ids[2], ids[4]]
    assert await orders.count_orders(query) == 3
