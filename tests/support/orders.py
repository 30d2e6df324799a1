"""Valid order snapshots and events for tests that need an order without going through the API."""

from datetime import UTC, datetime
from decimal import Decimal

from shared.events import Event
from shared.orders import LineItemSnapshot, OrderLifecycleData, OrderSnapshot


def sample_order(order_id: int, email: str = "kernel@example.com") -> OrderSnapshot:
    now = datetime.now(UTC)
    item = LineItemSnapshot(
        id=order_id * 10, title="Teapot", name="Teapot", price=Decimal("12.50"), quantity=2, fulfillable_quantity=2
    )
    return OrderSnapshot(
        id=order_id,
        number=order_id,
        order_number=1000 + order_id,
        name=f"#{1000 + order_id}",
        token=f"token-{order_id}",
        email=email,
        currency="USD",
        line_items=[item],
        total_line_items_price=Decimal("25.00"),
        subtotal_price=Decimal("25.00"),
        total_discounts=Decimal("0.00"),
        total_tax=Decimal("0.00"),
        total_price=Decimal("25.00"),
        total_weight=0,
        status="open",
        financial_status="paid",
        guest=True,
        created_at=now,
        updated_at=now,
        processed_at=now,
    )


def order_created(order_id: int, sequence: int = 1, email: str = "kernel@example.com") -> Event:
    data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=sample_order(order_id, email))
    return Event.new("order.created", "tests", str(order_id), data, sequence=sequence)
