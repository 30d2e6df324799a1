"""Fulfilments: items shipped (all that is left, or the quantities named) and shipments cancelled."""

from datetime import datetime

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from services.order_api.domain.limits import MAX_FULFILLMENTS, check_count
from shared.order_facts import FulfillmentCreatedFact
from shared.orders import Fulfillment, FulfillmentLine, FulfillmentStatus, OrderSnapshot


def fulfil(order: OrderSnapshot, fact: FulfillmentCreatedFact, now: datetime) -> OrderSnapshot:
    """Ship items: the named quantities, or everything still unfulfilled when none are named."""
    if order.status == "cancelled":
        raise OrderStateError("status", "order_cancelled", "a cancelled order cannot be fulfilled")
    if any(existing.id == fact.fulfillment_id for existing in order.fulfillments):
        raise OrderStateError("fulfillment_id", "duplicate_fulfillment", f"fulfillment {fact.fulfillment_id} exists")
    by_id = {item.id: item for item in order.line_items}
    wanted = (
        {line.line_item_id: line.quantity for line in fact.line_items}
        if fact.line_items
        else {item.id: item.fulfillable_quantity for item in order.line_items if item.fulfillable_quantity > 0}
    )
    if len(wanted) < len(fact.line_items):
        raise OrderRuleError("line_items", "duplicate_line_item", "name each line item once per fulfillment")
    if not wanted:
        raise OrderStateError("line_items", "nothing_to_fulfil", "every item of this order is already fulfilled")
    for item_id, quantity in wanted.items():
        item = by_id.get(item_id)
        if item is None:
            raise OrderRuleError("line_items", "unknown_line_item", f"line item {item_id} is not in order {order.id}")
        if not 0 < quantity <= item.fulfillable_quantity:
            raise OrderRuleError(
                "line_items",
                "invalid_quantity",
                f"line item {item_id} has {item.fulfillable_quantity} left to fulfil, not {quantity}",
            )
    fulfillment = Fulfillment(
        id=fact.fulfillment_id,
        status="success",
        line_items=[FulfillmentLine(id=item_id, quantity=quantity) for item_id, quantity in wanted.items()],
        tracking_company=fact.tracking_company,
        tracking_number=fact.tracking_number,
        tracking_url=fact.tracking_url,
        created_at=now,
        updated_at=now,
    )
    fulfillments = [*order.fulfillments, fulfillment]
    check_count("fulfillments", len(fulfillments), MAX_FULFILLMENTS)
    return _with_fulfillments(order, fulfillments, now)


def cancel_fulfillment(order: OrderSnapshot, fulfillment_id: int, now: datetime) -> OrderSnapshot:
    target = next((f for f in order.fulfillments if f.id == fulfillment_id), None)
    if target is None:
        raise OrderRuleError(
            "fulfillment_id", "unknown_fulfillment", f"order {order.id} has no fulfillment {fulfillment_id}"
        )
    if target.status == "cancelled":
        raise OrderStateError(
            "fulfillment_id", "fulfillment_cancelled", f"fulfillment {fulfillment_id} is already cancelled"
        )
    fulfillments = [
        f.model_copy(update={"status": "cancelled", "updated_at": now}) if f.id == fulfillment_id else f
        for f in order.fulfillments
    ]
    return _with_fulfillments(order, fulfillments, now)


def _with_fulfillments(order: OrderSnapshot, fulfillments: list[Fulfillment], now: datetime) -> OrderSnapshot:
    return with_fulfilment_counts(order.model_copy(update={"fulfillments": fulfillments, "updated_at": now}))


def shipped_quantities(order: OrderSnapshot) -> dict[int, int]:
    """Per line item, the units its successful fulfillments shipped."""
    shipped: dict[int, int] = {}
    for fulfillment in order.fulfillments:
        if fulfillment.status == "success":
            for line in fulfillment.line_items:
                shipped[line.id] = shipped.get(line.id, 0) + line.quantity
    return shipped


def with_fulfilment_counts(order: OrderSnapshot) -> OrderSnapshot:
    """The order with each item's fulfillable quantity and fulfilment status, and its own, counted
    again from its fulfillments and cancelled units: cancelled units are neither to ship nor owed, so
    an order whose every other unit shipped is fulfilled."""
    shipped = shipped_quantities(order)
    items = [
        item.model_copy(
            update={
                "fulfillable_quantity": item.quantity - item.cancelled_quantity - shipped.get(item.id, 0),
                "fulfillment_status": _fulfillment_status(
                    shipped.get(item.id, 0), item.quantity - item.cancelled_quantity
                ),
            }
        )
        for item in order.line_items
    ]
    owed = sum(item.quantity - item.cancelled_quantity for item in items)
    return order.model_copy(
        update={"line_items": items, "fulfillment_status": _fulfillment_status(sum(shipped.values()), owed)}
    )


def _fulfillment_status(shipped: int, ordered: int) -> FulfillmentStatus | None:
    if shipped == 0:
        return None
    return "fulfilled" if shipped >= ordered else "partial"


def fulfillment_event(order: OrderSnapshot) -> str:
    """The lifecycle event a fulfillment change warrants."""
    return {"fulfilled": "order.fulfilled", "partial": "order.partially_fulfilled"}.get(
        order.fulfillment_status or "", "order.updated"
    )
