"""Messages the dispatcher cannot send as they are never stall it: a correlation id that cannot travel
in an HTTP header is left out, and an endpoint whose stored URL or header cannot be sent gets failed
attempts in its log, retried by schedule and exhausted, instead of a sender crashing on it every
lease (45 s) forever. Stored values that registration refuses today are written with the admin
connection, as data from before that check would be."""

import asyncio
import dataclasses
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import endpoints, new_order_id, order_event, order_of, publish, wait_caught_up

# A channel no event carries: an endpoint filtered by it gets only the messages a test stores or queues.
NO_EVENT_CARRIES = "test:unsendable"


@pytest.fixture(scope="module", autouse=True)
async def caught_up(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> None:
    await wait_caught_up(stack)


def _with_webhook_id(receiver: WebhookReceiver, event_id: uuid.UUID) -> list[Received]:
    return [request for request in receiver.received() if request.headers.get("webhook-id") == str(event_id)]


async def test_an_event_whose_correlation_id_cannot_travel_in_http_is_delivered_without_it(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    correlation_ids = ["req-ok-1", "café-1", "with space", "x" * 200]
    events = [
        dataclasses.replace(order_event(order_id, sequence, "order.updated"), correlation_id=correlation_id)
        for sequence, correlation_id in enumerate(correlation_ids, start=1)
    ]
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        await api.register(receiver.url, ["order.*"])
        await publish(stack[1], events)
        received = await eventually(
            lambda: asyncio.sleep(0, [r for r in receiver.received() if order_of(r) == order_id]),
            lambda found: len(found) == len(events),
            timeout=30,
        )

    by_event = {request.headers["webhook-id"]: request for request in received}
    sent = [by_event[str(event.id)].headers.get("x-correlation-id") for event in events]
    assert sent == ["req-ok-1", None, None, None]


async def _stored_message(admin_db: asyncpg.Connection, endpoint_id: str, correlation_id: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    await admin_db.execute(
        """INSERT INTO webhooks.messages (endpoint_id, event_id, event_type, order_id, correlation_id, payload)
           VALUES ($1, $2, 'webhook.test', '', $3, '{"type":"webhook.test"}')""",
        uuid.UUID(endpoint_id),
        event_id,
        correlation_id,
    )
    await admin_db.execute("SELECT pg_notify('webhooks.messages', '')")
    return event_id


async def test_a_stored_message_whose_correlation_id_cannot_travel_is_delivered_without_it(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, receiver: WebhookReceiver, admin_db: asyncpg.Connection
) -> None:
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.created"], channels=[NO_EVENT_CARRIES])
        event_id = await _stored_message(admin_db, endpoint["id"], "café-2")
        [request] = await eventually(
            lambda: asyncio.sleep(0, _with_webhook_id(receiver, event_id)), lambda found: len(found) == 1, timeout=30
        )

    assert "x-correlation-id" not in request.headers


@pytest.mark.parametrize(
    ("column", "stored", "says"),
    [
        ("headers", json.dumps({"X-Token": "s3cret-café"}), "the endpoint's header 'X-Token' has a value HTTP cannot"),
        ("url", "http://\uff11\uff12\uff17.0.0.1:9555/x", "InvalidURL"),
    ],
)
async def test_an_endpoint_whose_stored_url_or_header_cannot_be_sent_gets_failed_attempts_then_fails(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    receiver: WebhookReceiver,
    admin_db: asyncpg.Connection,
    column: str,
    stored: Any,
    says: str,
) -> None:
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.created"], channels=[NO_EVENT_CARRIES])
        cast = "::jsonb" if column == "headers" else ""
        await admin_db.execute(
            f"UPDATE webhooks.endpoints SET {column} = $2{cast} WHERE id = $1", endpoint["id"], stored
        )
        queued = await api.call("POST", f"/webhooks/{endpoint['id']}/test")
        assert queued.status_code == 202, queued.text
        # The test schedule retries after 0.5, 0.5 and 1 s: four attempts, then the message fails.
        [message] = await eventually(
            lambda: api.get(f"/webhooks/{endpoint['id']}/messages"),
            lambda messages: messages[0]["status"] == "failed",
            timeout=30,
        )

    assert receiver.received() == []
    assert len(message["attempts"]) == 4
    for attempt in message["attempts"]:
        assert attempt["response_status"] is None
        assert says in attempt["error"]
        assert "s3cret" not in attempt["error"]
