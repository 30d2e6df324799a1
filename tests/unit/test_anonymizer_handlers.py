"""The anonymizer's subscriptions (services/anonymizer/handlers.py): every subscription of a service
shares one consumer group and `processed_events`, so anonymization.events is read once, for both
receipts (`erasure.completed` for an order, `customer.erased` for a customer record), and each receipt
goes to its own use case by type."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from services.anonymizer.handlers import on_receipt, subscribe
from services.anonymizer.settings import AnonymizerSettings
from shared.consumer import EventHandler
from shared.db import Connection
from shared.erasure import CustomerErased, ErasureCompleted
from shared.events import Event
from shared.runtime import Runtime
from shared.topics import ANONYMIZATION_EVENTS, ORDERS_EVENTS
from tests.support.cancellation_fakes import CONN


@dataclass
class RecordingRuntime:
    settings: AnonymizerSettings = field(default_factory=AnonymizerSettings)
    pool: Any = None
    subscriptions: list[tuple[tuple[str, ...], Collection[str] | None]] = field(default_factory=list)
    batches: list[int | None] = field(default_factory=list)

    def subscribe(
        self,
        topics: Sequence[str],
        handler: EventHandler,
        *,
        types: Collection[str] | None = None,
        batch_records: int | None = None,
    ) -> None:
        self.subscriptions.append((tuple(topics), types))
        self.batches.append(batch_records)


def test_anonymization_events_is_subscribed_once_for_both_receipts() -> None:
    runtime = RecordingRuntime()

    subscribe(cast(Runtime[AnonymizerSettings], runtime))

    assert [topics for topics, _ in runtime.subscriptions] == [(ORDERS_EVENTS,), (ANONYMIZATION_EVENTS,)]
    receipts = runtime.subscriptions[1][1]
    assert receipts is not None
    assert set(receipts) == {"erasure.completed", "customer.erased"}  # requests and overdue reports skipped
    assert all(runtime.batches)  # both read a batch per poll


async def test_each_receipt_goes_to_its_types_handler() -> None:
    seen: list[tuple[str, str]] = []

    def recording(name: str) -> EventHandler:
        async def handle(conn: Connection, event: Event) -> None:
            seen.append((name, event.type))

        return handle

    at, request = datetime(2024, 5, 17, 9, 30, tzinfo=UTC), uuid.uuid4()
    record = CustomerErased(customer_id=42, request_ids=[request], rows={"customers": 1}, erased_at=at)
    order = ErasureCompleted(erasure_id=request, order_id=7, service="order_api", rows={}, attempt=1, completed_at=at)
    receipt = on_receipt({"erasure.completed": recording("order"), "customer.erased": recording("customer")})
    await receipt(CONN, Event.new("customer.erased", "order_api", "42", record))
    await receipt(CONN, Event.new("erasure.completed", "order_api", "7", order))

    assert seen == [("customer", "customer.erased"), ("order", "erasure.completed")]
