"""The cancellation worker's Kafka subscribers."""

from services.cancellation_worker import store
from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData
from shared.runtime import Runtime
from shared.settings import ServiceSettings
from shared.topics import ORDERS_EVENTS


async def on_order_event(conn: Connection, event: Event) -> None:
    if isinstance(event.data, OrderLifecycleData):
        await store.upsert_order(conn, event.data)


def subscribe(runtime: Runtime[ServiceSettings]) -> None:
    runtime.subscribe([ORDERS_EVENTS], on_order_event)
