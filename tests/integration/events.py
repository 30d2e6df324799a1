"""Valid events for kernel tests."""

from datetime import UTC, datetime
from decimal import Decimal

from shared.events import Event, LineItemSnapshot, OrderLifecycleData, OrderSnapshot


def order_created(order_id: int, sequence: int) -> Event:
    now = datetime.now(UTC)
    order = OrderSnapshot(
        id=order_id,
        number=1000 + order_id,
        name=f"#{1000 + order_id}",
        email="kernel@example.com",
        currency="USD",
        line_items=[LineItemSnapshot(id=1, title="Teapot", price=Decimal("12.50"), quantity=2)],
        subtotal_price=Decimal("25.00"),
        total_price=Decimal("25.00"),
        status="open",
        created_at=now,
        updated_at=now,
    )
    data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=order)
    return Event.new("order.created", "tests", str(order_id), data, sequence=sequence)
