"""Elastic Path's status / payment / shipping triple of an order: one view of the order's own statuses."""

from dataclasses import dataclass
from typing import Final, Literal

from shared.orders import FinancialStatus, OrderSnapshot

Payment = Literal["unpaid", "authorized", "paid", "refunded"]
Shipping = Literal["unfulfilled", "fulfilled"]

# Every other financial status is "unpaid".
_PAYMENT: Final[dict[FinancialStatus, Payment]] = {
    "paid": "paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "authorized": "authorized",
    "partially_paid": "authorized",
}


@dataclass(frozen=True, slots=True)
class ElasticPathStatus:
    status: Literal["incomplete", "processing", "complete", "cancelled"]
    payment: Payment
    shipping: Shipping


def elastic_path_status(order: OrderSnapshot) -> ElasticPathStatus:
    """Elastic Path's status / payment / shipping triple."""
    payment = _PAYMENT.get(order.financial_status, "unpaid")
    shipping: Shipping = "fulfilled" if order.fulfillment_status == "fulfilled" else "unfulfilled"
    if order.status == "cancelled":
        return ElasticPathStatus("cancelled", payment, shipping)
    if payment in ("paid", "refunded") and shipping == "fulfilled":
        return ElasticPathStatus("complete", payment, shipping)
    return ElasticPathStatus("processing" if payment != "unpaid" else "incomplete", payment, shipping)
