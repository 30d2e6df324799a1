"""The dispatcher's use cases (services/webhook_dispatcher/service.py) on its tables and outbox in
memory (tests/support/webhook_fakes.py): what each one changes, publishes and refuses."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.webhook_dispatcher.domain import (
    Answer,
    EndpointNotFound,
    MessageNotFound,
    Settlement,
    UnsafeDestination,
)
from services.webhook_dispatcher.service import TEST_EVENT_TYPE, WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.events import Envelope
from shared.webhook_events import WebhookEndpointDisabledData, WebhookMessageExhaustedData
from tests.support.webhook_fakes import FakeDatabase, FakeStore, in_memory_service

FIELDS: dict[str, Any] = {
    "url": "https://subscriber.example/hooks",
    "description": "orders",
    "event_types": ["order.*"],
    "rate_limit": None,
    "ordered": False,
    "headers": {"X-Token": "s3cret"},
}
MISSING = uuid.UUID("00000000-0000-4000-8000-00000000dead")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def service(store: FakeStore) -> WebhookService:
    return in_memory_service(store, hosts={"subscriber.example": ["93.184.216.34"], "intranet.example": ["10.0.0.7"]})


# ---- endpoints ---------------------------------------------------------------------------------


async def test_a_new_endpoint_is_stored_with_a_fresh_secret(service: WebhookService, store: FakeStore) -> None:
    row, secret = await service.create_endpoint(FIELDS)
    _, another = await service.create_endpoint(FIELDS)

    assert secret is not None
    assert secret.startswith("whsec_")
    assert another != secret
    assert store.endpoints[row["id"]]["secret"] == secret
    assert {name: row[name] for name in FIELDS} == FIELDS
    assert (row["enabled"], row["disabled_reason"]) == (True, None)
    assert row.get("secret", "not shown") == "not shown"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://intranet.example/hooks", "intranet.example resolves to 10.0.0.7, a private address"),
        ("https://169.254.169.254/latest", "a cloud metadata address"),
        ("ftp://subscriber.example/hooks", "only http and https URLs are allowed"),
        ("https://nowhere.example/hooks", "nowhere.example does not resolve"),
    ],
)
async def test_a_url_the_dispatcher_may_not_send_to_is_refused_and_nothing_stored(
    service: WebhookService, store: FakeStore, url: str, says: str
) -> None:
    with pytest.raises(UnsafeDestination, match=says):
        await service.create_endpoint({**FIELDS, "url": url})

    assert store.endpoints == {}


async def test_an_update_changes_only_what_it_names_and_vets_a_new_url(
    service: WebhookService, store: FakeStore
) -> None:
    row, _ = await service.create_endpoint(FIELDS)

    unchanged = await service.update_endpoint(row["id"], {})
    changed = await service.update_endpoint(row["id"], {"description": "all", "rate_limit": 5})
    with pytest.raises(UnsafeDestination):
        await service.update_endpoint(row["id"], {"url": "https://intranet.example/hooks"})

    assert unchanged == row
    assert (changed["description"], changed["rate_limit"], changed["url"]) == ("all", 5, FIELDS["url"])
    assert store.endpoints[row["id"]]["url"] == FIELDS["url"]


@pytest.mark.parametrize(
    "call",
    [
        lambda service: service.get_endpoint(MISSING),
        lambda service: service.update_endpoint(MISSING, {"description": "x"}),
        lambda service: service.update_endpoint(MISSING, {}),
        lambda service: service.delete_endpoint(MISSING),
        lambda service: service.disable_endpoint(MISSING),
        lambda service: service.enable_endpoint(MISSING),
        lambda service: service.rotate_secret(MISSING),
        lambda service: service.send_test_message(MISSING),
        lambda service: service.list_endpoint_messages(MISSING),
        lambda service: service.recover(MISSING, datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
async def test_an_unknown_endpoint_is_not_found(service: WebhookService, store: FakeStore, call: Any) -> None:
    with pytest.raises(EndpointNotFound) as missing:
        await call(service)

    assert missing.value.endpoint_id == MISSING
    assert str(missing.value) == f"There is no webhook endpoint {MISSING}."
    assert store.messages == {}
    assert store.events == []


async def test_deleting_an_endpoint_deletes_its_messages(service: WebhookService, store: FakeStore) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    kept, _ = await service.create_endpoint(FIELDS)
    store.add_message(row["id"])
    store.add_message(kept["id"])

    await service.delete_endpoint(row["id"])

    assert [endpoint["id"] for endpoint in await service.list_endpoints()] == [kept["id"]]
    assert [message["endpoint_id"] for message in store.messages.values()] == [kept["id"]]


async def test_disabling_publishes_once_and_enabling_clears_the_reason(
    service: WebhookService, store: FakeStore
) -> None:
    row, _ = await service.create_endpoint(FIELDS)

    disabled = await service.disable_endpoint(row["id"])
    again = await service.disable_endpoint(row["id"])
    enabled = await service.enable_endpoint(row["id"])

    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "manual")
    assert again == disabled
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
    [(topic, event)] = store.events  # the second disable changed nothing, so said nothing
    assert (topic, event.type, event.subject) == ("webhooks.events", "webhook.endpoint.disabled", str(row["id"]))
    assert isinstance(event.data, WebhookEndpointDisabledData)
    assert (event.data.endpoint_id, event.data.url, event.data.reason) == (row["id"], FIELDS["url"], "manual")


async def test_a_rotation_keeps_the_old_secret_signing_for_the_grace_period(store: FakeStore) -> None:
    service = in_memory_service(store, DispatcherSettings(secret_rotation_grace_seconds=3600))
    row, old = await service.create_endpoint(FIELDS)

    rotated, new = await service.rotate_secret(row["id"])

    endpoint = store.endpoints[row["id"]]
    until = rotated["previous_secret_expires_at"]
    assert new != old
    assert (endpoint["secret"], endpoint["previous_secret"]) == (new, old)
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)


async def test_a_test_message_is_queued_whatever_the_filter(service: WebhookService, store: FakeStore) -> None:
    row, _ = await service.create_endpoint({**FIELDS, "event_types": ["cancellation.*"]})

    message = await service.send_test_message(row["id"])

    assert (message["endpoint_id"], message["event_type"], message["status"]) == (row["id"], TEST_EVENT_TYPE, "pending")
    body = json.loads(store.messages[message["id"]]["payload"])
    assert (body["type"], body["data"]) == (TEST_EVENT_TYPE, {"endpoint_id": str(row["id"])})


# ---- messages ------------------------------------------------------------------------------------


async def test_messages_are_listed_newest_first_by_endpoint_event_and_status(
    service: WebhookService, store: FakeStore
) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    other, _ = await service.create_endpoint(FIELDS)
    event_id = uuid.uuid4()
    first, second = store.add_message(row["id"], event_id=event_id), store.add_message(row["id"], status="failed")
    theirs = store.add_message(other["id"], event_id=event_id)

    listed = await service.list_endpoint_messages(row["id"])
    failed = await service.list_endpoint_messages(row["id"], status="failed")
    of_event = await service.list_event_messages(event_id)

    assert [message["id"] for message in listed] == [second, first]
    assert [message["id"] for message in failed] == [second]
    assert sorted(message["id"] for message in of_event) == [first, theirs]


async def test_a_retry_makes_the_message_due_now_and_another_endpoints_is_not_found(
    service: WebhookService, store: FakeStore
) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    other, _ = await service.create_endpoint(FIELDS)
    message_id = store.add_message(row["id"], status="failed", next_attempt_at=datetime(2024, 1, 1, tzinfo=UTC))

    retried = await service.retry_message(row["id"], message_id)
    with pytest.raises(MessageNotFound, match=f"Endpoint {other['id']} has no message {message_id}."):
        await service.retry_message(other["id"], message_id)

    assert retried["status"] == "pending"
    assert retried["next_attempt_at"] > datetime.now(UTC) - timedelta(seconds=5)


async def test_recover_requeues_the_failed_messages_created_since(service: WebhookService, store: FakeStore) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    long_ago = datetime(2024, 1, 1, tzinfo=UTC)
    recent = [store.add_message(row["id"], status="failed") for _ in range(2)]
    store.add_message(row["id"], status="failed", created_at=long_ago)
    store.add_message(row["id"], status="delivered")

    requeued = await service.recover(row["id"], datetime.now(UTC) - timedelta(hours=1))

    assert requeued == 2
    assert sorted(key for key, message in store.messages.items() if message["status"] == "pending") == recent


def test_subscribers_are_offered_neither_ingest_facts_nor_the_dispatchers_own_events() -> None:
    offered = WebhookService.offered_event_types()

    assert "order.created" in offered
    assert offered == sorted(offered)
    assert not [name for name in offered if name.startswith("webhook.")]
    assert "payment.refunded" not in offered  # a fact order_api applies, not an order event


# ---- delivery ------------------------------------------------------------------------------------


async def test_a_claim_leases_due_messages_of_enabled_endpoints(store: FakeStore) -> None:
    service = in_memory_service(store, DispatcherSettings(total_timeout_seconds=15, lease_margin_seconds=30))
    row, _ = await service.create_endpoint(FIELDS)
    resting, _ = await service.create_endpoint(FIELDS)
    await service.disable_endpoint(resting["id"])
    due = store.add_message(row["id"])
    store.add_message(resting["id"])
    store.add_message(row["id"], next_attempt_at=datetime.now(UTC) + timedelta(hours=1))

    [delivery] = await service.claim_due(10, {})

    assert (delivery.message_id, delivery.attempt, delivery.url) == (due, 1, FIELDS["url"])
    leased_for = store.messages[due]["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=40) < leased_for <= timedelta(seconds=45)
    assert await service.claim_due(10, {}) == []  # leased


async def test_an_exhausted_message_fails_and_says_so(service: WebhookService, store: FakeStore) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    store.add_message(row["id"])
    [delivery] = await service.claim_due(10, {})

    await service.record_attempt(delivery, Answer(500, None, "boom"), Settlement("failed", None), latency_ms=7)

    [message] = await service.list_endpoint_messages(row["id"])
    assert message["status"] == "failed"
    assert [(a["response_status"], a["latency_ms"], a["response_excerpt"]) for a in message["attempt_log"]] == [
        (500, 7, "boom")
    ]
    [(_, event)] = store.events
    assert isinstance(event.data, WebhookMessageExhaustedData)
    assert (event.data.message_id, event.data.attempts, event.data.last_error) == (delivery.message_id, 1, None)


async def test_a_delivery_ends_the_endpoints_failing_streak(service: WebhookService, store: FakeStore) -> None:
    row, _ = await service.create_endpoint(FIELDS)
    for _ in range(2):
        store.add_message(row["id"])
    first, second = await service.claim_due(10, {})

    retry = Settlement("pending", timedelta(0))
    await service.record_attempt(first, Answer(error="ConnectError: refused"), retry, latency_ms=1)
    failing_since = store.endpoints[row["id"]]["failing_since"]
    await service.record_attempt(second, Answer(200), Settlement("delivered", None), latency_ms=1)

    assert failing_since is not None
    assert store.endpoints[row["id"]]["failing_since"] is None
    assert store.events == []


async def test_the_retention_purge_deletes_old_settled_messages(store: FakeStore) -> None:
    service = in_memory_service(store, DispatcherSettings(retention_days=30))
    row, _ = await service.create_endpoint(FIELDS)
    old = datetime.now(UTC) - timedelta(days=40)
    store.add_message(row["id"], status="delivered", created_at=old)
    pending = store.add_message(row["id"], created_at=old)

    await service.purge_history()

    assert list(store.messages) == [pending]


# ---- fan-out -----------------------------------------------------------------------------------


def envelope(event_type: str, data_json: bytes) -> Envelope:
    return Envelope(uuid.uuid4(), event_type, "a-newer-service", "42", datetime.now(UTC), 3, "corr-1", data_json)


async def test_an_event_is_fanned_out_to_each_enabled_endpoint_that_asked_for_it_with_its_data_as_published(
    service: WebhookService, store: FakeStore
) -> None:
    wanted = store.add_endpoint(event_types=["order.*"])
    everything = store.add_endpoint(event_types=[])
    store.add_endpoint(event_types=["refund.*"])
    store.add_endpoint(event_types=["order.*"], enabled=False)
    data = b'{"order_id":42,"gift":{"note":"caf\\u00e9"},"unknown_to_this_build":true}'
    event = envelope("order.gift_wrapped", data)

    async with FakeDatabase().acquire() as conn:
        await service.fan_out(conn, event)
        await service.fan_out(conn, event)  # redelivered: no second message

    messages = sorted(store.messages.values(), key=lambda message: message["id"])
    assert [message["endpoint_id"] for message in messages] == [wanted["id"], everything["id"]]
    for message in messages:
        assert (message["event_id"], message["event_type"], message["order_id"]) == (event.id, event.type, "42")
        assert message["correlation_id"] == "corr-1"
        assert message["payload"].endswith(b',"data":' + data + b"}")
        assert json.loads(message["payload"])["type"] == "order.gift_wrapped"
