"""The dispatcher's Kafka subscribers: fan each event out to the endpoints that asked for it."""

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import matches, webhook_body
from shared.db import Connection
from shared.events import Event
from shared.runtime import Runtime
from shared.topics import ANONYMIZATION_EVENTS, CANCELLATIONS_EVENTS, ORDERS_EVENTS

# The topics whose events subscribers may receive. Every event on them that decodes is fanned out,
# including types this build does not list yet.
CUSTOMER_FACING_TOPICS = (ORDERS_EVENTS, CANCELLATIONS_EVENTS, ANONYMIZATION_EVENTS)


async def fan_out(conn: Connection, event: Event) -> None:
    """One message per matching endpoint, in the transaction that records the event as processed."""
    endpoints = [
        row["id"] for row in await store.enabled_endpoint_filters(conn) if matches(row["event_types"], event.type)
    ]
    if endpoints:
        body = webhook_body(event.type, event.time, event.data.model_dump(mode="json"))
        await store.insert_messages(conn, endpoints, event, body)


def subscribe(runtime: Runtime) -> None:
    runtime.subscribe(CUSTOMER_FACING_TOPICS, fan_out)
