"""The dispatcher's Kafka subscribers: fan each event out to the endpoints that asked for it."""

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import forwarded_body, matches
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.db import Connection
from shared.events import Envelope
from shared.runtime import Runtime

# Records taken per poll: each still gets the idempotent consumer's own transaction, but the offset
# is committed once per batch, which is what bounded fan-out throughput one record at a time. Kept
# moderate, because a consumer group rebalance waits for every member's batch in hand.
BATCH_RECORDS = 200


async def fan_out(conn: Connection, event: Envelope) -> None:
    """One message per matching endpoint, in the transaction that records the event as processed.
    Every event on the topics is passed on, of a type this build knows or not, its data as published."""
    endpoints = [
        row["id"] for row in await store.enabled_endpoint_filters(conn) if matches(row["event_types"], event.type)
    ]
    if endpoints:
        body = forwarded_body(event.type, event.time, event.data_json)
        await store.insert_messages(conn, endpoints, event, body)


def subscribe(runtime: Runtime[DispatcherSettings]) -> None:
    runtime.subscribe_forwarding(runtime.settings.event_topics, fan_out, batch_records=BATCH_RECORDS)
