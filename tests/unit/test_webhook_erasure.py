"""The dispatcher's part of an order's erasure (services/webhook_dispatcher/erasure.py) on in-memory fakes
(tests/support/webhook_fakes.py): `order.anonymized` keeps the masked snapshot, `erasure.requested` rewrites
every stored message of the order with it (delivered or pending, so a pending one is sent masked), clears
the attempts' response excerpts and answers with a receipt; in either order of the two; a repeat touches
nothing and answers again; another order's messages stay; what is fanned out of the order later is masked."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pydantic import ValidationError

from services.webhook_dispatcher.domain import MaskedOrder, erased_payload, forwarded_body, masked_order
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.erasure import ErasureCompleted, ErasureRequested
from shared.events import Envelope
from shared.topics import ANONYMIZATION_EVENTS
from tests.support.webhook_fakes import FakeConnection, FakeStore, in_memory_service

ERASED, KEPT = "7710", "7720"
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
CONN = cast(Connection, FakeConnection())
PERSONAL = ("jane@example.com", "Jane", "Call me on +49 170 1234567", "3000")
ORDER = {"id": 7710, "email": "jane@example.com", "billing_address": {"first_name": "Jane"}, "total_price": "12.30"}
MASKED = {"id": 7710, "email": "*", "billing_address": {"first_name": "*"}, "total_price": "12.30", "anonymized": True}


def order_data(order_id: str, sequence: int, order: dict[str, Any]) -> bytes:
    return json.dumps(
        {"order_id": int(order_id), "sequence": sequence, "order": {**order, "id": int(order_id)}}
    ).encode()


def cancellation_data(order_id: str) -> bytes:
    return json.dumps(
        {"request_id": 5, "order_id": int(order_id), "description": PERSONAL[2], "iban_last4": "3000", "status": "open"}
    ).encode()


def envelope(event_type: str, order_id: str, data_json: bytes, sequence: int | None = None) -> Envelope:
    return Envelope(uuid.uuid4(), event_type, "order_api", order_id, NOW, sequence, None, data_json)


def request(order_id: str, attempt: int = 1) -> ErasureRequested:
    return ErasureRequested(
        erasure_id=uuid.UUID(int=int(order_id)),
        order_id=int(order_id),
        anonymized_sequence=3,
        services=["webhook_dispatcher"],
        attempt=attempt,
        requested_at=NOW,
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def service(store: FakeStore) -> WebhookService:
    return in_memory_service(store)


@pytest.fixture
def erasures(store: FakeStore) -> ErasureService:
    return ErasureService(store=store.erasure, outbox=store, clock=lambda: NOW)


async def with_history(service: WebhookService, store: FakeStore, order_id: str) -> None:
    """Two endpoints; the order created (delivered to one, with a response excerpt echoing it; pending at
    the other) and a guest's cancellation request (pending at both)."""
    for _ in range(2):
        store.add_endpoint()
    await service.fan_out(CONN, envelope("order.created", order_id, order_data(order_id, 1, ORDER), 1))
    await service.fan_out(CONN, envelope("cancellation.requested", order_id, cancellation_data(order_id)))
    delivered = min(key for key, message in store.messages.items() if message["order_id"] == order_id)
    store.messages[delivered]["status"] = "delivered"
    store.attempt_logs[delivered].append(
        {
            "attempted_at": NOW,
            "response_status": 200,
            "latency_ms": 3,
            "error": None,
            "response_excerpt": "ok jane@example.com",
        }
    )


async def anonymize(service: WebhookService, order_id: str) -> None:
    data = order_data(order_id, 3, MASKED)
    await service.fan_out(CONN, envelope("order.anonymized", order_id, data, 3))


def payloads(store: FakeStore, order_id: str) -> list[bytes]:
    return [message["payload"] for message in store.messages.values() if message["order_id"] == order_id]


def receipts(store: FakeStore) -> list[ErasureCompleted]:
    return [
        event.data
        for topic, event in store.events
        if topic == ANONYMIZATION_EVENTS and isinstance(event.data, ErasureCompleted)
    ]


def excerpts(store: FakeStore, order_id: str) -> list[str | None]:
    return [
        attempt["response_excerpt"]
        for key, log in store.attempt_logs.items()
        if store.messages[key]["order_id"] == order_id
        for attempt in log
    ]


def holds_personal_data(payload: bytes) -> bool:
    return any(value.encode() in payload for value in PERSONAL)


async def test_the_orders_messages_are_rewritten_masked_and_the_receipt_published(
    service: WebhookService, erasures: ErasureService, store: FakeStore
) -> None:
    await with_history(service, store, ERASED)
    await with_history(service, store, KEPT)
    kept_before = payloads(store, KEPT)
    await anonymize(service, ERASED)
    statuses = {key: message["status"] for key, message in store.messages.items()}

    rows = await erasures.erase_order(CONN, request(ERASED))

    assert rows == {"messages": 4, "attempts": 1, "outbox": 0, "outbox_dead_letters": 0}
    assert not any(holds_personal_data(payload) for payload in payloads(store, ERASED))
    created = [json.loads(p) for p in payloads(store, ERASED) if json.loads(p)["type"] == "order.created"]
    assert [body["data"]["order"] for body in created] == [{**MASKED, "id": 7710}] * 2
    assert {(body["type"], body["data"]["sequence"]) for body in created} == {("order.created", 1)}
    assert {key: message["status"] for key, message in store.messages.items()} == statuses
    assert payloads(store, KEPT) == kept_before
    assert excerpts(store, ERASED) == [None]
    assert excerpts(store, KEPT) == ["ok jane@example.com"]
    [receipt] = receipts(store)
    assert (receipt.service, receipt.order_id, receipt.rows, receipt.attempt) == ("webhook_dispatcher", 7710, rows, 1)
    assert store.erasure.outbox_erased == [ERASED]


async def test_a_pending_message_is_then_sent_masked(
    service: WebhookService, erasures: ErasureService, store: FakeStore
) -> None:
    await with_history(service, store, ERASED)
    await anonymize(service, ERASED)
    await erasures.erase_order(CONN, request(ERASED))

    claimed = await service.claim_due(100, {})

    assert {delivery.order_id for delivery in claimed} == {ERASED}
    assert len(claimed) == 5  # 3 pending from the history, the anonymization's 2
    assert not any(holds_personal_data(delivery.payload) for delivery in claimed)


async def test_an_erasure_requested_before_the_snapshot_waits_and_is_answered_when_it_comes(
    service: WebhookService, erasures: ErasureService, store: FakeStore
) -> None:
    await with_history(service, store, ERASED)
    before = payloads(store, ERASED)

    assert await erasures.erase_order(CONN, request(ERASED)) is None
    assert await erasures.erase_order(CONN, request(ERASED, attempt=2)) is None
    assert (receipts(store), payloads(store, ERASED)) == ([], before)

    await anonymize(service, ERASED)

    [receipt] = receipts(store)
    assert (receipt.attempt, receipt.rows["messages"], receipt.rows["attempts"]) == (2, 4, 1)
    assert not any(holds_personal_data(payload) for payload in payloads(store, ERASED))
    assert store.erasure.waiting == {}


async def test_a_repeat_touches_nothing_and_answers_again(
    service: WebhookService, erasures: ErasureService, store: FakeStore
) -> None:
    await with_history(service, store, ERASED)
    await anonymize(service, ERASED)
    await erasures.erase_order(CONN, request(ERASED))

    rows = await erasures.erase_order(CONN, request(ERASED, attempt=2))

    assert rows == {"messages": 0, "attempts": 0, "outbox": 0, "outbox_dead_letters": 0}
    assert [receipt.attempt for receipt in receipts(store)] == [1, 2]


async def test_what_another_topic_fans_out_of_an_anonymized_order_is_stored_masked(
    service: WebhookService, store: FakeStore
) -> None:
    store.add_endpoint()
    await anonymize(service, ERASED)

    await service.fan_out(CONN, envelope("cancellation.approved", ERASED, cancellation_data(ERASED)))
    await service.fan_out(CONN, envelope("cancellation.approved", KEPT, cancellation_data(KEPT)))

    [erased] = [json.loads(p) for p in payloads(store, ERASED) if b"cancellation" in p]
    assert (erased["data"]["description"], erased["data"]["iban_last4"]) == ("*", None)
    [kept] = payloads(store, KEPT)
    assert holds_personal_data(kept)
    # Order events come in sequence on the order's own partition: no lock, no look-up for them.
    assert store.erasure.locks == [(ERASED, False), (ERASED, True), (KEPT, True)]


def test_a_later_snapshot_is_masked_already_and_kept() -> None:
    masked = MaskedOrder(3, json.dumps(MASKED).encode())
    later = forwarded_body("order.updated", NOW, order_data(ERASED, 4, {**MASKED, "note": "*"}))
    older = forwarded_body("order.paid", NOW, order_data(ERASED, 2, ORDER))
    refund = forwarded_body("refund.succeeded", NOW, b'{"order_id":7710,"amount":"1.00"}')

    assert erased_payload(later, masked) is None
    assert erased_payload(refund, masked) is None
    erased = erased_payload(older, masked)
    assert erased is not None
    assert json.loads(erased) == {**json.loads(older), "data": {**json.loads(older)["data"], "order": MASKED}}


async def test_an_anonymization_without_a_masked_order_is_unprocessable(service: WebhookService) -> None:
    with pytest.raises(ValueError, match="no masked order"):
        masked_order(b'{"order_id": 7710}')
    with pytest.raises(Unprocessable, match=r"order\.anonymized"):
        await service.fan_out(CONN, envelope("order.anonymized", ERASED, b'{"sequence": "x"}'))


def test_the_fan_out_never_reads_the_erasure_topic() -> None:
    assert ANONYMIZATION_EVENTS not in DispatcherSettings().event_topics
    with pytest.raises(ValidationError, match="erasure subscription"):
        DispatcherSettings(event_topics=["orders.events", ANONYMIZATION_EVENTS])
