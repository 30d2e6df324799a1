"""What the webhook end-to-end tests share: events straight onto Kafka, endpoints over the admin API,
deliveries verified as a subscriber verifies them."""

import json
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from standardwebhooks.webhooks import Webhook

from shared.auth import LOCAL_API_KEY
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.orders import OrderLifecycleData
from shared.topics import ORDERS_EVENTS
from tests.support.orders import sample_order
from tests.support.polling import eventually
from tests.support.receiver import Received, WebhookReceiver

ADMIN = {"authorization": f"Bearer {LOCAL_API_KEY}"}


def new_order_id() -> int:
    """An order id no other test uses, so each test picks out its own deliveries."""
    return random.randrange(10**12, 10**13)


def order_event(order_id: int, sequence: int, event_type: str = "order.created") -> Event:
    data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=sample_order(order_id))
    return Event.new(event_type, "tests", str(order_id), data, sequence=sequence)


async def publish(bootstrap: str, events: Sequence[Event], topic: str = ORDERS_EVENTS) -> None:
    """Put events on a topic as their producer's outbox relay would."""
    producer = EventProducer(bootstrap, "webhook-tests")
    await producer.connect()
    try:
        await producer.send_all([OutgoingRecord(topic, event.key, event.body(), event.headers()) for event in events])
    finally:
        await producer.close()


def for_order(receiver: WebhookReceiver, order_id: int) -> list[Received]:
    """The deliveries a receiver got about one order, in the order they arrived."""
    return [request for request in receiver.received() if order_of(request) == order_id]


def payload(request: Received) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.body)
    return body


def order_of(request: Received) -> int | None:
    """The order a delivery is about; None for anything else (a request cut short by a kill, say)."""
    try:
        data = payload(request).get("data", {})
    except ValueError:
        return None
    return data.get("order_id") if isinstance(data, dict) else None


@dataclass
class Endpoints:
    """The dispatcher's admin API as a test uses it; deletes what it registered when done."""

    http: httpx.AsyncClient
    url: str
    created: list[str] = field(default_factory=list)

    async def register(self, url: str, event_types: Sequence[str] = (), **options: Any) -> dict[str, Any]:
        response = await self.call("POST", "/webhooks", json={"url": url, "event_types": list(event_types), **options})
        assert response.status_code == 201, response.text
        endpoint: dict[str, Any] = response.json()
        self.created.append(endpoint["id"])
        return endpoint

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, self.url + path, headers=ADMIN, **kwargs)

    async def get(self, path: str) -> Any:
        response = await self.call("GET", path)
        assert response.status_code == 200, response.text
        return response.json()

    async def delete_all(self) -> None:
        for endpoint_id in self.created:
            await self.call("DELETE", f"/webhooks/{endpoint_id}")


@asynccontextmanager
async def endpoints(http: httpx.AsyncClient, dispatcher_url: str) -> AsyncIterator[Endpoints]:
    registry = Endpoints(http, dispatcher_url)
    try:
        yield registry
    finally:
        await registry.delete_all()


def verified(secret: str, requests: Sequence[Received]) -> list[dict[str, Any]]:
    """Each request's payload, verified with the standardwebhooks library (raises if one is not)."""
    return [Webhook(secret).verify(request.body, request.headers) for request in requests]


def event_ids(requests: Sequence[Received]) -> list[uuid.UUID]:
    return [uuid.UUID(request.headers["webhook-id"]) for request in requests]


async def wait_caught_up(stack: tuple[str, str], timeout: float = 300.0) -> None:
    """Until the dispatchers have consumed what is already on orders.events: a probe event published
    now is recorded as processed. On a shared stack a benchmark may have left a backlog that would
    otherwise eat every test's patience."""
    probe = order_event(new_order_id(), 1)
    await publish(stack[1], [probe])
    conn = await asyncpg.connect(stack[0])
    try:
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM webhooks.processed_events WHERE event_id = $1", probe.id),
            lambda found: found == 1,
            timeout=timeout,
            interval=0.5,
        )
    finally:
        await conn.close()
