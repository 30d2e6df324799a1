"""Kafka topic names and their settings, in one place."""

from datetime import timedelta
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

# Production replicates every partition to 3 brokers; a write is acknowledged (`acks=all`) once all
# in-sync replicas have it, and refused unless at least `min.insync.replicas` are in sync.
MAX_REPLICATION_FACTOR: Final = 3

DLQ_SUFFIX: Final = ".dlq"


def min_insync_replicas(replication_factor: int) -> int:
    """How many replicas must hold a write before it is acknowledged: all but one from three
    replicas up (a broker may be lost without losing an acknowledged write, or availability); one
    below that, where requiring two would stop writes whenever one broker of two is down."""
    return replication_factor - 1 if replication_factor >= MAX_REPLICATION_FACTOR else 1


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX


# The headers a consumer adds to a message it dead-letters, and the marker a replay adds: every one
# begins with DLQ_HEADER_PREFIX, so a replay can drop them and keep the message's own.
DLQ_HEADER_PREFIX: Final = "dlq_"
DLQ_ERROR: Final = "dlq_error"
DLQ_ORIGINAL_TOPIC: Final = "dlq_original_topic"
DLQ_ORIGINAL_PARTITION: Final = "dlq_original_partition"
DLQ_FAILED_AT: Final = "dlq_failed_at"
DLQ_REPLAYED_FROM: Final = "dlq_replayed_from"


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


# The topics whose events carry personal data, and their dead-letter copies: orders.events and
# orders.ingest (orders, customers and checkouts: emails, names, phones, addresses, browser IPs),
# cancellations.events (a guest's own words in `description`, an IBAN's last four digits),
# cancellations.requests (the refund's IBAN and account holder) and payments.commands (the same, in a
# bank-transfer refund). anonymization.events (ids, sequences, service names, times) and webhooks.events
# (endpoint ids and URLs, transport errors) carry none.
PERSONAL_DATA_TOPICS: Final = frozenset(
    name
    for topic in (ORDERS_EVENTS, ORDERS_INGEST, CANCELLATIONS_EVENTS, CANCELLATIONS_REQUESTS, PAYMENTS_COMMANDS)
    for name in (topic, dlq(topic))
)
# How long those keep an event, unless provisioning is told otherwise (KAFKA_PERSONAL_DATA_RETENTION_HOURS):
# an anonymized order's personal data is gone from the event log once this has passed (README).
DEFAULT_PERSONAL_DATA_RETENTION: Final = timedelta(days=7)
# The other topics keep theirs longer, because consumers may be down for days.
RETENTION: Final = timedelta(days=14)
# Kafka deletes a partition's log a segment at a time, once the segment's newest record is past the
# retention: a record lives at most the retention plus the span of its segment. A personal-data topic
# rolls its segments every seventh of its retention, so none outlives 8/7 of it (8 days for 7), with
# about eight segments per partition whatever the retention.
SEGMENTS_PER_RETENTION: Final = 7


def _ms(span: timedelta) -> str:
    return str(span // timedelta(milliseconds=1))


def topic_configs(
    topic: str, personal_data_retention: timedelta = DEFAULT_PERSONAL_DATA_RETENTION, replication_factor: int = 1
) -> dict[str, str]:
    """The topic-level configs provisioning sets (on existing topics too): deletion by age, never
    compaction (which would keep an order's latest event, personal data and all, for ever), and the
    in-sync replicas a write needs at `replication_factor`."""
    configs = {
        "cleanup.policy": "delete",
        "min.insync.replicas": str(min_insync_replicas(replication_factor)),
        "retention.ms": _ms(RETENTION),
        "max.message.bytes": str(max_record_bytes(topic)),
    }
    if topic in PERSONAL_DATA_TOPICS:
        configs["retention.ms"] = _ms(personal_data_retention)
        configs["segment.ms"] = _ms(personal_data_retention / SEGMENTS_PER_RETENTION)
    return configs
