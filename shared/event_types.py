"""Every event type of the platform and the model of its data, by family: the contract in one place.

A type not listed here is unknown to this build: a consumer that needs the data (order_api's ingest,
the workers) dead-letters it; one that only forwards events (the webhook dispatcher) passes it on as
it was published. The mappings are read-only: nothing adds a type after import.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from shared.orders import (
    CustomerFact,
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    OrderLifecycleData,
    OrderPlacedData,
    PaymentFact,
    Snapshot,
    VariantFact,
)
from shared.webhook_events import WebhookEndpointDisabledData, WebhookMessageExhaustedData

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
        "fulfillment.created": FulfillmentCreatedFact,
        "fulfillment.cancelled": FulfillmentCancelledFact,
        "catalog.variant.upserted": VariantFact,
        "customer.upserted": CustomerFact,
    }
)

# The webhook dispatcher's operational events on webhooks.events.
WEBHOOK_EVENTS: Final[EventFamily] = MappingProxyType(
    {
        "webhook.message.exhausted": WebhookMessageExhaustedData,
        "webhook.endpoint.disabled": WebhookEndpointDisabledData,
    }
)

# Cancellations and refunds (cancellations.events) and erasure (anonymization.events) join here.
FAMILIES: Final = (ORDER_EVENTS, INGEST_FACTS, WEBHOOK_EVENTS)

EVENT_DATA_MODELS: Final[EventFamily] = MappingProxyType(
    {event_type: model for family in FAMILIES for event_type, model in family.items()}
)
