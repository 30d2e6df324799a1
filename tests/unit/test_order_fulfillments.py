"""Fulfilments (services/order_api/domain/fulfillments.py): items shipped in parts or whole, refused when
they cannot be, and shipments cancelled. Pure functions, no I/O."""

from collections.abc import Sequence

import pytest

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.fulfillments import cancel_fulfillment, fulfillment_event
from shared.orders import FulfillmentStatus, OrderSnapshot
from tests.support.order_rules import (
    LATER,
    build,
    custom,
    fulfil_items,
    in_state,
    order,
)

# ---- fulfilments ---------------------------------------------------------------------------------------------


def _two_items() -> OrderSnapshot:
    return build(order(custom("10.00", 3, title="Cup"), custom("20.00", 1, title="Saucer")))


def _item_states(target: OrderSnapshot) -> Sequence[tuple[int, FulfillmentStatus | None]]:
    return [(item.fulfillable_quantity, item.fulfillment_status) for item in target.line_items]


def test_partial_fulfilments_add_up_to_fulfilled() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)

    first = fulfil_items(created, 1, (cup, 2))
    assert first.fulfillment_status == "partial"
    assert _item_states(first) == [(1, "partial"), (1, None)]
    assert fulfillment_event(first) == "order.partially_fulfilled"

    second = fulfil_items(first, 2, (cup, 1), (saucer, 1))
    assert second.fulfillment_status == "fulfilled"
    assert _item_states(second) == [(0, "fulfilled"), (0, "fulfilled")]
    assert fulfillment_event(second) == "order.fulfilled"
    assert [(f.id, f.tracking_number, f.status) for f in second.fulfillments] == [
        (1, "TRACK1", "success"),
        (2, "TRACK2", "success"),
    ]


def test_a_fulfilment_naming_no_items_ships_what_is_left() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)
    first = fulfil_items(created, 1, (cup, 1))

    rest = fulfil_items(first, 2)

    assert [(line.id, line.quantity) for line in rest.fulfillments[-1].line_items] == [(cup, 2), (saucer, 1)]
    assert rest.fulfillment_status == "fulfilled"
    with pytest.raises(OrderStateError) as caught:
        fulfil_items(rest, 3)
    assert caught.value.code == "nothing_to_fulfil"


@pytest.mark.parametrize("quantity", [4, 0, -1])
def test_over_fulfilment_and_non_positive_quantities_are_refused(quantity: int) -> None:
    created = _two_items()

    with pytest.raises(OrderRuleError) as caught:
        fulfil_items(created, 1, (created.line_items[0].id, quantity))

    assert (caught.value.field, caught.value.code) == ("line_items", "invalid_quantity")


def test_over_fulfilment_counts_what_earlier_fulfilments_shipped() -> None:
    created = _two_items()
    cup = created.line_items[0].id
    first = fulfil_items(created, 1, (cup, 2))

    with pytest.raises(OrderRuleError) as caught:
        fulfil_items(first, 2, (cup, 2))

    assert caught.value.code == "invalid_quantity"
    assert "1 left" in caught.value.message


def test_naming_a_line_item_twice_is_refused() -> None:
    created = _two_items()
    cup = created.line_items[0].id

    with pytest.raises(OrderRuleError) as caught:
        fulfil_items(created, 1, (cup, 1), (cup, 1))

    assert (caught.value.field, caught.value.code) == ("line_items", "duplicate_line_item")


def test_an_unknown_line_item_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        fulfil_items(_two_items(), 1, (123, 1))

    assert (caught.value.field, caught.value.code) == ("line_items", "unknown_line_item")


def test_a_fulfillment_id_is_used_once() -> None:
    created = _two_items()
    first = fulfil_items(created, 1, (created.line_items[0].id, 1))

    with pytest.raises(OrderStateError) as caught:
        fulfil_items(first, 1, (created.line_items[1].id, 1))

    assert (caught.value.field, caught.value.code) == ("fulfillment_id", "duplicate_fulfillment")


def test_a_cancelled_order_is_not_fulfilled() -> None:
    with pytest.raises(OrderStateError) as caught:
        fulfil_items(in_state(status="cancelled"), 1)

    assert caught.value.code == "order_cancelled"


def test_cancelling_a_fulfillment_puts_its_items_back() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)
    shipped = fulfil_items(fulfil_items(created, 1, (cup, 2)), 2, (cup, 1), (saucer, 1))

    cancelled = cancel_fulfillment(shipped, 2, LATER)

    assert [f.status for f in cancelled.fulfillments] == ["success", "cancelled"]
    assert _item_states(cancelled) == [(1, "partial"), (1, None)]
    assert cancelled.fulfillment_status == "partial"
    assert fulfillment_event(cancelled) == "order.partially_fulfilled"

    none_left = cancel_fulfillment(cancelled, 1, LATER)
    assert none_left.fulfillment_status is None
    assert _item_states(none_left) == [(3, None), (1, None)]
    assert fulfillment_event(none_left) == "order.updated"


def test_cancelling_an_unknown_or_cancelled_fulfillment_is_refused() -> None:
    created = _two_items()
    shipped = fulfil_items(created, 1)

    with pytest.raises(OrderRuleError) as caught:
        cancel_fulfillment(shipped, 99, LATER)
    assert (caught.value.field, caught.value.code) == ("fulfillment_id", "unknown_fulfillment")

    cancelled = cancel_fulfillment(shipped, 1, LATER)
    with pytest.raises(OrderStateError) as caught_again:
        cancel_fulfillment(cancelled, 1, LATER)
    assert caught_again.value.code == "fulfillment_cancelled"
