"""Kafka topic names and their settings, in one place."""

from typing import Final

ORDERS_EVENTS: Final = "orders.events"
ORDERS_INGEST: Final = "orders.ingest"
CANCELLATIONS_EVENTS: Final = "cancellations.events"
ANONYMIZATION_EVENTS: Final = "anonymization.events"
WEBHOOKS_EVENTS: Final = "webhooks.events"  # the webhook dispatcher's operational events

EVENT_TOPICS: Final = (ORDERS_EVENTS, ORDERS_INGEST, CANCELLATIONS_EVENTS, ANONYMIZATION_EVENTS, WEBHOOKS_EVENTS)

# Keying by order id keeps an order's events in one partition; 12 lets consumer groups scale out.
PARTITIONS: Final = 12

DLQ_SUFFIX: Final = ".dlq"


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX


ALL_TOPICS: Final = EVENT_TOPICS + tuple(dlq(topic) for topic in EVENT_TOPICS)

# Topic-level configs; retention is generous because consumers may be down for days.
TOPIC_CONFIGS: Final[dict[str, str]] = {
    "cleanup.policy": "delete",
    "retention.ms": str(14 * 24 * 3600 * 1000),
}
