"""Operational webhooks (services/webhook_dispatcher/operational.py) on the in-memory tables: what an
operator endpoint is sent, what it is never sent (events about itself), and a recovery announced once."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.webhook_dispatcher.domain import Answer, UnknownEventTypes, settle
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.events import Envelope
from tests.support.webhook_fakes import FakeDatabase, FakeStore, in_memory_service

SCHEDULE = [1.0]  # two attempts


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def service(store: FakeStore) -> WebhookService:
    return in_memory_service(store, DispatcherSettings(retry_schedule_seconds=SCHEDULE))


async def _attempt(service: WebhookService, store: FakeStore, endpoint_id: uuid.UUID, status: int) -> None:
    """One attempt at the endpoint's pending message, answered `status`, settled as the sender settles it."""
    [delivery] = [d for d in await service.claim_due(10, {}) if d.endpoint_id == endpoint_id]
    settled = settle(delivery.attempt, status, None, SCHEDULE)
    await service.record_attempt(delivery, Answer(status), settled, latency_ms=1)
    if settled.status == "pending":  # due again at once
        store.messages[delivery.message_id]["next_attempt_at"] = datetime.now(UTC)


def _operator_messages(store: FakeStore, operator: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["payload"]) for m in store.messages.values() if m["endpoint_id"] == operator["id"]]


async def test_an_exhausted_message_is_sent_to_each_operator_endpoint_that_asked_for_it_and_to_kafka(
    service: WebhookService, store: FakeStore
) -> None:
    operator = store.add_endpoint(operational=True)
    store.add_endpoint(operational=True, event_types=["webhook.endpoint.*"])  # not this one
    subscriber = store.add_endpoint()
    message_id = store.add_message(subscriber["id"])

    await _attempt(service, store, subscriber["id"], 500)
    await _attempt(service, store, subscriber["id"], 500)

    [payload] = _operator_messages(store, operator)
    assert payload["type"] == "webhook.message.exhausted"
    assert (payload["data"]["endpoint_id"], payload["data"]["message_id"]) == (str(subscriber["id"]), message_id)
    assert [(topic, event.type) for topic, event in store.events] == [("webhooks.events", "webhook.message.exhausted")]
    [sent] = [m for m in store.messages.values() if m["endpoint_id"] == operator["id"]]
    assert sent["event_id"] == store.events[0][1].id  # the webhook-id is the Kafka event's id


async def test_an_operator_endpoint_failing_is_never_sent_events_about_itself(
    service: WebhookService, store: FakeStore
) -> None:
    operator = store.add_endpoint(operational=True)
    other_operator = store.add_endpoint(operational=True)
    store.add_message(operator["id"], event_type="webhook.message.exhausted")
    store.endpoints[operator["id"]]["failing_since"] = datetime.now(UTC) - timedelta(days=6)

    await _attempt(service, store, operator["id"], 500)

    assert [event.type for _, event in store.events] == ["webhook.endpoint.disabled"]  # on Kafka only
    assert _operator_messages(store, other_operator) == []
    assert len(_operator_messages(store, operator)) == 1  # its own message, nothing added


async def test_operator_endpoints_get_no_order_events(service: WebhookService, store: FakeStore) -> None:
    store.add_endpoint(operational=True)
    subscriber = store.add_endpoint()
    event = Envelope(uuid.uuid4(), "order.created", "order_api", "42", datetime.now(UTC), 1, None, b"{}")

    async with FakeDatabase().acquire() as conn:
        await service.fan_out(conn, event)

    assert [m["endpoint_id"] for m in store.messages.values()] == [subscriber["id"]]


async def test_a_recovery_is_announced_once_after_a_delivery_that_follows_the_failure_report(
    service: WebhookService, store: FakeStore
) -> None:
    operator = store.add_endpoint(operational=True)
    subscriber = store.add_endpoint()
    store.add_message(subscriber["id"])
    await _attempt(service, store, subscriber["id"], 500)
    await _attempt(service, store, subscriber["id"], 500)  # exhausted: reported

    await service.announce_recoveries()
    nothing_yet = [p["type"] for p in _operator_messages(store, operator)]
    store.add_message(subscriber["id"])
    await _attempt(service, store, subscriber["id"], 204)
    await service.announce_recoveries()
    await service.announce_recoveries()

    assert nothing_yet == ["webhook.message.exhausted"]
    types = [p["type"] for p in _operator_messages(store, operator)]
    assert types == ["webhook.message.exhausted", "webhook.endpoint.recovered"]
    recovered = _operator_messages(store, operator)[1]["data"]
    assert recovered["endpoint_id"] == str(subscriber["id"])


def _fields(event_types: list[str], *, operational: bool) -> dict[str, Any]:
    return {
        "url": "https://subscriber.example/hooks",
        "description": "",
        "event_types": event_types,
        "rate_limit": None,
        "ordered": False,
        "headers": {},
        "operational": operational,
    }


async def test_an_operator_endpoint_filters_operational_types_and_a_subscriber_cannot_ask_for_them(
    service: WebhookService,
) -> None:
    operator, _ = await service.create_endpoint(_fields(["webhook.endpoint.*"], operational=True))
    patched = await service.update_endpoint(operator["id"], {"event_types": ["webhook.message.exhausted"]})

    assert (operator["operational"], patched["event_types"]) == (True, ["webhook.message.exhausted"])
    with pytest.raises(UnknownEventTypes) as for_operator:
        await service.create_endpoint(_fields(["order.created"], operational=True))
    with pytest.raises(UnknownEventTypes) as for_subscriber:
        await service.create_endpoint(_fields(["webhook.endpoint.disabled"], operational=False))
    assert (for_operator.value.filters, for_subscriber.value.filters) == (
        ["order.created"],
        ["webhook.endpoint.disabled"],
    )
