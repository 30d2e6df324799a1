"""The emails customers get, and the Message-ID that makes each one a single notification: the same
change asked twice (a redelivered event, a retried settlement) names the same Message-ID, and the
worker keeps one notification per Message-ID."""

from dataclasses import dataclass
from decimal import Decimal

from services.cancellation_worker.domain.requests import CancellationRequest
from shared.orders import OrderSnapshot

_REQUEST_NEWS = {
    "waiting": "we received your cancellation request",
    "approved": "your cancellation request was approved",
    "rejected": "your cancellation request was rejected",
    "completed": "your cancellation request is complete",
}


@dataclass(frozen=True, slots=True)
class Notice:
    message_id: str  # `<...@domain>`: stable per notification
    kind: str
    order_id: int
    recipient: str
    subject: str
    body: str


def _to_customer(order: OrderSnapshot, message_id: str, kind: str, subject: str, news: str) -> Notice | None:
    """An email to the order's address (None when it has none), `news` after the greeting."""
    if not order.email:
        return None
    return Notice(message_id, kind, order.id, order.email, subject, f"Hello,\n\n{news}\n")


def refund_notice(order: OrderSnapshot, refund_id: int, amount: Decimal, domain: str) -> Notice | None:
    """The customer's email once a refund succeeded."""
    return _to_customer(
        order,
        f"<refund-{order.id}-{refund_id}@{domain}>",
        "refund.succeeded",
        f"Your refund for order {order.name}",
        f"we have refunded {amount} {order.currency} for your order {order.name}.\n"
        "Depending on your bank it may take a few days to show on your statement.",
    )


def void_notice(order: OrderSnapshot, amount: Decimal, domain: str) -> Notice | None:
    """The customer's email once a cancelled order's payment authorization was released."""
    return _to_customer(
        order,
        f"<void-{order.id}@{domain}>",
        "payment.voided",
        f"Your order {order.name} was cancelled",
        f"your order {order.name} was cancelled and the {amount} {order.currency} held on your payment method "
        "were released; you were not charged.",
    )


def request_notice(order: OrderSnapshot, request: CancellationRequest, domain: str) -> Notice | None:
    """The guest's email when their request changes status."""
    news = _REQUEST_NEWS[request.status]
    return _to_customer(
        order,
        f"<request-{request.request_id}-{request.status}@{domain}>",
        f"cancellation.{request.status}",
        f"Order {order.name}: {news}",
        f"{news[0].upper()}{news[1:]} (request {request.request_id}: {request.quantity} unit(s) of item "
        f"{request.line_item_id}, {request.cancellation_type}).",
    )
