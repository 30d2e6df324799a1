"""Every event type of the platform and the model of its data, by family: the contract in one place.

A type not listed here is unknown to this build: a consumer that needs the data (order_api's ingest,
the workers) dead-letters it; one that only forwards events (the webhook dispatcher) passes it on as
it was published. The mappings are read-only: nothing adds a type after import.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from shared.cancellations import (
    CancellationDecision,
    CancellationReason,
    CancellationRequestData,
    CancellationSubmitted,
    LoyaltyCreditedData,
    RefundData,
    RestockRequestedData,
    ReturnReceived,
    ShippingCompany,
)
from shared.erasure import (
    CUSTOMER_ERASE_REQUESTED,
    CUSTOMER_ERASED,
    ERASURE_COMPLETED,
    ERASURE_OVERDUE,
    ERASURE_REQUESTED,
    CustomerErased,
    CustomerEraseRequestedFact,
    ErasureCompleted,
    ErasureOverdue,
    ErasureRequested,
)
from shared.order_facts import (
    ANONYMIZE_REQUESTED,
    AnonymizeRequestedFact,
    CustomerFact,
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    OrderPlacedData,
    PaymentFact,
    VariantFact,
)
from shared.orders import ORDER_ANONYMIZED, OrderLifecycleData, Snapshot
from shared.topics import (
    ANONYMIZATION_EVENTS,
    CANCELLATIONS_EVENTS,
    CANCELLATIONS_REQUESTS,
    ORDERS_EVENTS,
    ORDERS_INGEST,
    PAYMENTS_COMMANDS,
    WEBHOOKS_EVENTS,
)
from shared.webhook_events import (
    ENDPOINT_DISABLED,
    ENDPOINT_RECOVERED,
    MESSAGE_EXHAUSTED,
    WebhookEndpointDisabledData,
    WebhookEndpointRecoveredData,
    WebhookMessageExhaustedData,
)

EventFamily = Mapping[str, type[Snapshot]]

# order_api's lifecycle events on orders.events, each carrying the order's snapshot.
ORDER_EVENTS: Final[EventFamily] = MappingProxyType(
    dict.fromkeys(
        (
            "order.created",
            "order.updated",
            "order.closed",
            "order.reopened",
            "order.deleted",
            "order.paid",
            "order.fulfilled",
            "order.partially_fulfilled",
            "order.cancelled",
            "order.refund_requested",
            "order.refunded",
            "order.cancellation_requested",
            "order.return_received",
            ORDER_ANONYMIZED,
        ),
        OrderLifecycleData,
    )
)

# Facts other services publish on orders.ingest for order_api to apply.
INGEST_FACTS: Final[EventFamily] = MappingProxyType(
    {
        "order.placed": OrderPlacedData,
        "payment.authorized": PaymentFact,
        "payment.captured": PaymentFact,
        "payment.voided": PaymentFact,
        "payment.refunded": PaymentFact,
        "payment.refund_failed": PaymentFact,
        "fulfillment.created": FulfillmentCreatedFact,
        "fulfillment.cancelled": FulfillmentCancelledFact,
        "catalog.variant.upserted": VariantFact,
        "customer.upserted": CustomerFact,
        "cancellation.decided": CancellationDecision,
        "return.received": ReturnReceived,
        "cancellation.reason.upserted": CancellationReason,
        "shipping_company.upserted": ShippingCompany,
        ANONYMIZE_REQUESTED: AnonymizeRequestedFact,
        CUSTOMER_ERASE_REQUESTED: CustomerEraseRequestedFact,
    }
)

# Accepted guest cancellation requests, order_api -> cancellation worker (cancellations.requests):
# the only events with a bank account in them; never fanned out.
CANCELLATION_SUBMISSIONS: Final[EventFamily] = MappingProxyType({"cancellation.submitted": CancellationSubmitted})

# The cancellation worker's commands to the payment service (payments.commands).
PAYMENT_COMMANDS: Final[EventFamily] = MappingProxyType({"refund.requested": RefundData, "void.requested": RefundData})

# The webhook dispatcher's operational events on webhooks.events, also sent to operator endpoints.
WEBHOOK_EVENTS: Final[EventFamily] = MappingProxyType(
    {
        MESSAGE_EXHAUSTED: WebhookMessageExhaustedData,
        ENDPOINT_DISABLED: WebhookEndpointDisabledData,
        ENDPOINT_RECOVERED: WebhookEndpointRecoveredData,
    }
)

# What the cancellation worker did (cancellations.events), for anyone, webhook subscribers too.
CANCELLATION_EVENTS: Final[EventFamily] = MappingProxyType(
    {
        **dict.fromkeys(
            ("cancellation.requested", "cancellation.approved", "cancellation.rejected", "cancellation.completed"),
            CancellationRequestData,
        ),
        **dict.fromkeys(("refund.requested", "refund.succeeded", "refund.failed"), RefundData),
        "loyalty.credited": LoyaltyCreditedData,
        "inventory.restock_requested": RestockRequestedData,
    }
)

# The erasure saga on anonymization.events: the anonymizer's requests and overdue reports, every
# service's receipts (order_api's for a customer's record too). Operators' and services' business:
# never fanned out to webhook subscribers.
ERASURE_EVENTS: Final[EventFamily] = MappingProxyType(
    {
        ERASURE_REQUESTED: ErasureRequested,
        ERASURE_COMPLETED: ErasureCompleted,
        ERASURE_OVERDUE: ErasureOverdue,
        CUSTOMER_ERASED: CustomerErased,
    }
)

# Each family and the topic it is published on (the AsyncAPI document's channels, shared/asyncapi.py).
FAMILIES: Final[Mapping[str, EventFamily]] = MappingProxyType(
    {
        ORDERS_EVENTS: ORDER_EVENTS,
        ORDERS_INGEST: INGEST_FACTS,
        CANCELLATIONS_REQUESTS: CANCELLATION_SUBMISSIONS,
        PAYMENTS_COMMANDS: PAYMENT_COMMANDS,
        CANCELLATIONS_EVENTS: CANCELLATION_EVENTS,
        WEBHOOKS_EVENTS: WEBHOOK_EVENTS,
        ANONYMIZATION_EVENTS: ERASURE_EVENTS,
    }
)

# A type may be in two families only with one model (`refund.requested`: a command to the payment
# service, and the same ledger entry announced on cancellations.events without its bank account).
EVENT_DATA_MODELS: Final[EventFamily] = MappingProxyType(
    {event_type: model for family in FAMILIES.values() for event_type, model in family.items()}
)

# What webhook subscribers may receive: the customer-facing families.
SUBSCRIBABLE: Final = frozenset({*ORDER_EVENTS, *CANCELLATION_EVENTS})
