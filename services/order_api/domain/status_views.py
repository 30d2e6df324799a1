"""How dialects name the order's state (moving to the dialects that show them)."""

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ElasticPathStatus:
    status: Literal["incomplete", "processing", "complete", "cancelled"]
    payment: Literal["unpaid", "authorized", "paid", "refunded"]
    shipping: Literal["unfulfilled", "fulfilled"]


def elastic_path_status(order: OrderSnapshot) -> ElasticPathStatus:
    """Elastic Path's status / payment / shipping triple."""
    payment: Literal["unpaid", "authorized", "paid", "refunded"] = {
        "paid": "paid",
        "partially_refunded": "paid",
        "refunded": "refunded",
        "authorized": "authorized",
        "partially_paid": "authorized",
    }.get(order.financial_status, "unpaid")  # type: ignore[assignment]
    shipping: Literal["unfulfilled", "fulfilled"] = (
        "fulfilled" if order.fulfillment_status == "fulfilled" else "unfulfilled"
    )
    if order.status == "cancelled":
        return ElasticPathStatus("cancelled", payment, shipping)
    if payment in ("paid", "refunded") and shipping == "fulfilled":
        return ElasticPathStatus("complete", payment, shipping)
    return ElasticPathStatus("processing" if payment != "unpaid" else "incomplete", payment, shipping)
