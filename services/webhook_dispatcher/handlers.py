"""The dispatcher's Kafka subscribers: fan each event out to the endpoints that asked for it."""

from typing import Any

from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import matches, webhook_body
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.db import Connection
from shared.events import Event
from shared.runtime import Runtime

# Records taken per poll: each still gets the idempotent consumer's own transaction, but the offset
# is committed once per batch, which is what bounded fan-out throughput one record at a time. Kept
# moderate, because a consumer group rebalance waits for every member's batch in hand.
BATCH_RECORDS = 200


async def fan_out(conn: Connection, event: Event) -> None:
    """One message per matching endpoint, in the transaction that records the event as processed."""
    endpoints = [
        row["id"] for row in await store.enabled_endpoint_filters(conn) if matches(row["event_types"], event.type)
    ]
    if endpoints:
        body = webhook_body(event.type, event.time, event.data.model_dump(mode="json"))
        await store.insert_messages(conn, endpoints, event, body)


def subscribe(runtime: Runtime) -> None:
    """Like `Runtime.subscribe`, but in batches: records are processed in order, one by one, and the
    batch's offsets are committed after the last one; an error rewinds to the batch's start, and the
    records already processed are then skipped as duplicates."""
    consumer = runtime.consumer
    settings = runtime.settings
    assert isinstance(settings, DispatcherSettings)

    @runtime.broker.subscriber(
        *settings.event_topics,
        group_id=runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=BATCH_RECORDS,
        decoder=_undecoded,
        title=f"{runtime.spec.name}:fan_out",
    )
    async def on_batch(message: KafkaMessage) -> None:
        for record in message.raw_message:
            await consumer.process(record, fan_out)


async def _undecoded(message: StreamMessage[Any]) -> bytes:
    # The idempotent consumer parses and validates each record itself (malformed ones go to the DLQ).
    return message.body
