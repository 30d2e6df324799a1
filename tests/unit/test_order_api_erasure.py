"""order_api's part of an order's erasure (services/order_api/service/erasure.py) on the store in memory:
on `erasure.requested` the order's remembered Idempotency-Key answers, its guest-lookup rate-limit
windows and its published outbox rows are deleted, and the receipt (rows per table) is published in
the same transaction; another order's are untouched; a repeat erases nothing and answers again; an
older event still unsent refuses (retried) and changes nothing."""

import uuid
from datetime import UTC, datetime

import pytest

from services.order_api.domain.http_guards import RateLimitBuckets, order_of_answer
from services.order_api.handlers import order_eraser
from services.order_api.service.erasure import ErasureService
from services.order_api.service.guards import HttpGuards
from shared.erasure import ErasureCompleted, ErasureRequested
from shared.erasure_receipts import on_erasure_requested
from shared.events import Event
from shared.order_facts import OrderDraft
from shared.orders import OrderSnapshot
from shared.outbox import UnsentEvents
from tests.support.fake_store import NO_CONNECTION, FakeDatabase, anonymization_service, order_service
from tests.support.order_rules import LATER, custom, order

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
BUCKETS = RateLimitBuckets(b"test-rate-limit-key")


async def finished_order(database: FakeDatabase, email: str) -> OrderSnapshot:
    body = order(custom("25.00", 1), email=email, fulfillment_status="fulfilled")
    body["transactions"] = [{"kind": "sale", "amount": "25.00"}]
    created = await order_service(database).create_order(OrderDraft.model_validate(body), may_read=True)
    return created.stored.order


def request(order_id: int, attempt: int = 1) -> ErasureRequested:
    return ErasureRequested(
        erasure_id=uuid.UUID(int=order_id),
        order_id=order_id,
        anonymized_sequence=2,
        services=["order_api", "anonymizer"],
        attempt=attempt,
        requested_at=LATER,
    )


async def remember(guards: HttpGuards, key: str, path: str, location: str | None = None) -> None:
    await guards.claim_key("p", key, "f", lease_seconds=60, ttl_seconds=3600)
    headers = [("location", location)] if location else []
    await guards.keep_answer("p", key, status=201, headers=headers, body=b"{}", path=path)


async def count_lookups(guards: HttpGuards, number: int) -> None:
    await guards.limit_rate([(bucket, 10) for bucket in BUCKETS.of_attempt(str(number), "10.0.0.1")], 60)


def receipts(database: FakeDatabase) -> list[ErasureCompleted]:
    return [event.data for event in database.tables.outbox.events if isinstance(event.data, ErasureCompleted)]


@pytest.mark.parametrize(
    ("path", "location", "expected"),
    [
        ("/orders/1000000042", None, 1000000042),
        ("/com/orders/1000000042/cancel.json", None, 1000000042),
        ("/com/orders.json", "/com/orders/1000000042.json", 1000000042),
        ("/orders", "/orders/1000000042", 1000000042),
        ("/v2/orders/anonymize", None, None),
        ("/com/orders.json", None, None),
        ("/orders/12abc", None, None),
    ],
)
def test_the_order_an_answer_is_about(path: str, location: str | None, expected: int | None) -> None:
    assert order_of_answer(path, location) == expected


async def test_the_erasure_deletes_the_orders_copies_and_publishes_the_receipt(database: FakeDatabase) -> None:
    erased = await finished_order(database, "gone@example.com")
    kept = await finished_order(database, "stays@example.com")
    await anonymization_service(database).anonymize_orders([str(erased.id)])
    guards = HttpGuards(database)
    await remember(guards, "create", "/com/orders.json", f"/com/orders/{erased.id}.json")
    await remember(guards, "cancel", f"/com/orders/{erased.id}/cancel.json")
    await remember(guards, "other", f"/orders/{kept.id}")
    await count_lookups(guards, erased.order_number)  # Akinon names an order by its order number
    await count_lookups(guards, kept.order_number)
    database.tables.outbox.relay()

    rows = await ErasureService(database, BUCKETS, clock=lambda: NOW).erase_order(request(erased.id))

    assert rows == {"idempotency_keys": 2, "rate_windows": 1, "outbox": 2, "outbox_dead_letters": 0}
    tables = database.tables
    assert [key for _, key in tables.http_guards.keys] == ["other"]
    assert {bucket for bucket, _ in tables.http_guards.windows} == set(
        BUCKETS.of_attempt(str(kept.order_number), "10.0.0.1")
    )
    assert [event.type for event in tables.outbox.erased] == ["order.created", "order.anonymized"]
    assert [(event.type, event.subject) for event in tables.outbox.events] == [
        ("order.created", str(kept.id)),
        ("erasure.completed", str(erased.id)),
    ]
    assert receipts(database) == [
        ErasureCompleted(
            erasure_id=uuid.UUID(int=erased.id),
            order_id=erased.id,
            service="order_api",
            rows=rows,
            attempt=1,
            completed_at=NOW,
        )
    ]
    assert tables.outbox.topics[tables.outbox.events[-1].id] == "anonymization.events"


async def test_a_repeated_request_erases_nothing_and_answers_again(database: FakeDatabase) -> None:
    erased = await finished_order(database, "gone@example.com")
    await anonymization_service(database).anonymize_orders([str(erased.id)])
    database.tables.outbox.relay()
    service = ErasureService(database, BUCKETS, clock=lambda: NOW)
    await service.erase_order(request(erased.id))
    database.tables.outbox.relay()

    again = await service.erase_order(request(erased.id, attempt=2))

    # The first receipt, published, is deleted with the order's other published rows.
    assert again == {"idempotency_keys": 0, "rate_windows": 0, "outbox": 1, "outbox_dead_letters": 0}
    assert [receipt.attempt for receipt in receipts(database)] == [2]


async def test_an_older_event_still_unsent_refuses_and_changes_nothing(database: FakeDatabase) -> None:
    erased = await finished_order(database, "gone@example.com")
    await anonymization_service(database).anonymize_orders([str(erased.id)])
    await remember(HttpGuards(database), "cancel", f"/com/orders/{erased.id}/cancel.json")
    events = list(database.tables.outbox.events)

    with pytest.raises(UnsentEvents):
        await ErasureService(database, BUCKETS).erase_order(request(erased.id))

    assert database.tables.outbox.events == events
    assert len(database.tables.http_guards.keys) == 1


async def test_the_consumer_handler_erases_through_the_use_case(database: FakeDatabase) -> None:
    erased = await finished_order(database, "gone@example.com")
    database.tables.outbox.relay()
    handler = on_erasure_requested(order_eraser(BUCKETS, lambda _: database))

    await handler(NO_CONNECTION, Event.new("erasure.requested", "anonymizer", str(erased.id), request(erased.id)))

    assert [receipt.rows["outbox"] for receipt in receipts(database)] == [1]
