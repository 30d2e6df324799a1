"""Kafka topic names and their settings, in one place."""

from typing import Final

ORDERS_EVENTS: Final = "orders.events"
ORDERS_INGEST: Final = "orders.ingest"
CANCELLATIONS_EVENTS: Final = "cancellations.events"
ANONYMIZATION_EVENTS: Final = "anonymization.events"
WEBHOOKS_EVENTS: Final = "webhooks.events"  # the webhook dispatcher's operational events
# Accepted guest cancellation requests, order_api -> cancellation worker; they carry bank accounts.
CANCELLATIONS_REQUESTS: Final = "cancellations.requests"
# The cancellation worker's refund and void commands to the payment service.
PAYMENTS_COMMANDS: Final = "payments.commands"

EVENT_TOPICS: Final = (
    ORDERS_EVENTS,
    ORDERS_INGEST,
    CANCELLATIONS_EVENTS,
    CANCELLATIONS_REQUESTS,
    PAYMENTS_COMMANDS,
    ANONYMIZATION_EVENTS,
    WEBHOOKS_EVENTS,
)

# Keying by order id keeps an order's events in one partition; 12 lets consumer groups scale out.
PARTITIONS: Final = 12

DLQ_SUFFIX: Final = ".dlq"


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX


ALL_TOPICS: Final = EVENT_TOPICS + tuple(dlq(topic) for topic in EVENT_TOPICS)

# The largest record (a record batch, as Kafka counts it) an event topic takes: Kafka's default
# `max.message.bytes`, stated so that producers can check it before sending.
MAX_EVENT_RECORD_BYTES: Final = 1_048_588
# A dead-letter topic takes twice that: the copy of any record its source topic accepted, plus the
# failure's headers (a few KB), always fits, so a dead-letter write never fails on size.
MAX_DLQ_RECORD_BYTES: Final = 2 * MAX_EVENT_RECORD_BYTES


def max_record_bytes(topic: str) -> int:
    """The largest record `topic` takes."""
    return MAX_DLQ_RECORD_BYTES if topic.endswith(DLQ_SUFFIX) else MAX_EVENT_RECORD_BYTES


def topic_configs(topic: str) -> dict[str, str]:
    """The topic-level configs provisioning sets; retention is generous because consumers may be down
    for days."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(14 * 24 * 3600 * 1000),
        "max.message.bytes": str(max_record_bytes(topic)),
    }
