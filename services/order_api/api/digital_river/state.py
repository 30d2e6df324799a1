"""Digital River's `state` of an order: one view of the order's own statuses.

Postgres computes the same mapping into the orders table's `state` column, for the `state` filter
(migration 0008); tests/integration/test_digital_river_state_column.py holds the two together.
"""

from typing import Literal

from shared.orders import OrderSnapshot

DigitalRiverState = Literal[
    "accepted", "blocked", "pending_payment", "in_review", "dispute", "cancelled", "fulfilled", "complete", "returned"
]


def digital_river_state(order: OrderSnapshot) -> DigitalRiverState:
    """The Digital River `state` of an order."""
    if order.status == "cancelled":
        return "cancelled"
    if order.fraud_state == "blocked":
        return "blocked"
    if order.fraud_state == "review_opened":
        return "in_review"
    if order.financial_status in ("refunded", "partially_refunded"):
        return "returned"
    if order.fulfillment_status == "fulfilled":
        return "complete" if order.financial_status == "paid" else "fulfilled"
    if order.financial_status in ("pending", "partially_paid"):
        return "pending_payment"
    return "accepted"
