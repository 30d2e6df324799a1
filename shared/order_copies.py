"""What a service that keeps its own copy of orders handles: order_api's lifecycle events, typed."""

from collections.abc import Awaitable, Callable

from shared.consumer import EventHandler
from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData

LifecycleHandler = Callable[[Connection, Event, OrderLifecycleData], Awaitable[None]]


def on_order_lifecycle(apply: LifecycleHandler) -> EventHandler:
    """An `orders.events` handler that gives `apply` each lifecycle event with its typed data."""

    async def handle(conn: Connection, event: Event) -> None:
        if isinstance(event.data, OrderLifecycleData):
            await apply(conn, event, event.data)

    handle.__name__ = apply.__name__
    return handle
