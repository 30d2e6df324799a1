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


def refund_notice(order: OrderSnapshot, refund_id: int, amount: Decimal, domain: str) -> Notice | None:
    """The customer's email once a refund succeeded; None when the order has no email address."""
    if not order.email:
        return None
    return Notice(
        message_id=f"<refund-{order.id}-{refund_id}@{domain}>",
        kind="refund.succeeded",
        order_id=order.id,
        recipient=order.email,
        subject=f"Your refund for order {order.name}",
        body=(
            f"Hello,\n\nwe have refunded {amount} {order.currency} for your order {order.name}.\n"
            "Depending on your bank it may take a few days to show on your statement.\n"
        ),
    )


def void_notice(order: OrderSnapshot, amount: Decimal, domain: str) -> Notice | None:
    """The customer's email once a cancelled order's payment authorization was released."""
    if not order.email:
        return None
    return Notice(
        message_id=f"<void-{order.id}@{domain}>",
        kind="payment.voided",
        order_id=order.id,
        recipient=order.email,
        subject=f"Your order {order.name} was cancelled",
        body=(
            f"Hello,\n\nyour order {order.name} was cancelled and the {amount} {order.currency} held on your "
            "payment method were released; you were not charged.\n"
        ),
    )


def request_notice(order: OrderSnapshot, request: CancellationRequest, domain: str) -> Notice | None:
    """The guest's email when their request changes status."""
    if not order.email:
        return None
    news = _REQUEST_NEWS[request.status]
    return Notice(
        message_id=f"<request-{request.request_id}-{request.status}@{domain}>",
        kind=f"cancellation.{request.status}",
        order_id=order.id,
        recipient=order.email,
        subject=f"Order {order.name}: {news}",
        body=(
            f"Hello,\n\n{news[0].upper()}{news[1:]} (request {request.request_id}: {request.quantity} unit(s) "
            f"of item {request.line_item_id}, {request.cancellation_type}).\n"
        ),
    )
