"""The cancellation worker's part of an order's erasure (services/cancellation_worker/service/erasure.py)
on in-memory fakes: the order's bank accounts go, what guests wrote is masked, its emails are masked
(a pending one failed, never sent), the receipt is published on anonymization.events; another order's
stay; a repeat touches nothing and answers again; a copy not yet anonymized refuses (retried)."""

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.service.erasure import CopyNotMasked, ErasureService
from services.cancellation_worker.service.requests import RequestService
from shared.erasure import ErasureCompleted, ErasureRequested
from shared.topics import ANONYMIZATION_EVENTS
from tests.support.cancellation_fakes import CONN, FakeOutbox, FakeStore, fake_ports
from tests.support.cancellations import paid_order, submission

ERASED, KEPT = 6160, 6170
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def request(order_id: int, attempt: int = 1) -> ErasureRequested:
    return ErasureRequested(
        erasure_id=uuid.UUID(int=order_id),
        order_id=order_id,
        anonymized_sequence=3,
        services=["cancellation_worker"],
        attempt=attempt,
        requested_at=NOW,
    )


async def with_request_and_email(store: FakeStore, requests: RequestService, order_id: int, email_status: str) -> None:
    await requests.submitted(
        CONN, submission(order_id, (order_id * 10 + 1, 1, "cancel"), iban="DE89370400440532013000")
    )
    for id_, found in store.requests.items():
        if found.order_id == order_id:
            store.requests[id_] = dataclasses.replace(found, description="Please call Jane at +49 170 1234567")
    notice = Notice(f"<n-{order_id}@x>", "refund.succeeded", order_id, "jane@example.com", "Your refund", "Hi Jane")
    await store.insert_notification(CONN, notice)
    store.notifications[notice.message_id]["status"] = email_status


@pytest.fixture
def worker() -> tuple[ErasureService, FakeStore, FakeOutbox, RequestService]:
    ports, store, outbox = fake_ports()
    store.orders[ERASED] = (3, paid_order(ERASED).model_copy(update={"anonymized": True}))
    store.orders[KEPT] = (1, paid_order(KEPT))
    return ErasureService(ports, clock=lambda: NOW), store, outbox, RequestService(ports)


def receipts(outbox: FakeOutbox) -> list[ErasureCompleted]:
    return [data for data in outbox.on(ANONYMIZATION_EVENTS) if isinstance(data, ErasureCompleted)]


async def test_the_orders_personal_data_is_erased_and_the_receipt_published(
    worker: tuple[ErasureService, FakeStore, FakeOutbox, RequestService],
) -> None:
    service, store, outbox, requests = worker
    await with_request_and_email(store, requests, ERASED, "pending")
    await with_request_and_email(store, requests, KEPT, "pending")

    rows = await service.erase_order(CONN, request(ERASED))

    assert rows == {
        "bank_accounts": 1,
        "cancellation_requests": 1,
        "notifications": 2,  # the request's acknowledgement and the refund's
        "outbox": 0,
        "outbox_dead_letters": 0,
    }
    by_order = {found.order_id: found for found in store.requests.values()}
    assert (by_order[ERASED].description, by_order[ERASED].iban_last4) == ("*", None)
    assert by_order[KEPT].description == "Please call Jane at +49 170 1234567"
    assert by_order[KEPT].iban_last4 == "3000"
    assert [account.iban for account in store.accounts.values()] == ["DE89370400440532013000"]  # KEPT's
    erased = store.notifications[f"<n-{ERASED}@x>"]
    assert {key: erased[key] for key in ("recipient", "subject", "body", "status", "last_error")} == {
        "recipient": "*",
        "subject": "*",
        "body": "*",
        "status": "failed",
        "last_error": "erased",
    }
    assert {row["recipient"] for row in store.notifications.values() if row["order_id"] == ERASED} == {"*"}
    kept = store.notifications[f"<n-{KEPT}@x>"]
    assert (kept["recipient"], kept["status"]) == ("jane@example.com", "pending")
    assert receipts(outbox) == [
        ErasureCompleted(
            erasure_id=uuid.UUID(int=ERASED),
            order_id=ERASED,
            service="cancellation_worker",
            rows=rows,
            attempt=1,
            completed_at=NOW,
        )
    ]


async def test_a_sent_email_stays_done_and_a_repeat_touches_nothing(
    worker: tuple[ErasureService, FakeStore, FakeOutbox, RequestService],
) -> None:
    service, store, outbox, requests = worker
    await with_request_and_email(store, requests, ERASED, "done")
    await service.erase_order(CONN, request(ERASED))

    again = await service.erase_order(CONN, request(ERASED, attempt=2))

    assert store.notifications[f"<n-{ERASED}@x>"]["status"] == "done"
    assert set(again.values()) == {0}
    assert [receipt.attempt for receipt in receipts(outbox)] == [1, 2]


async def test_a_copy_not_yet_anonymized_refuses_and_changes_nothing(
    worker: tuple[ErasureService, FakeStore, FakeOutbox, RequestService],
) -> None:
    service, store, outbox, requests = worker
    await with_request_and_email(store, requests, KEPT, "pending")
    published = len(outbox.events)

    with pytest.raises(CopyNotMasked):
        await service.erase_order(CONN, request(KEPT))

    assert len(store.accounts) == 1
    assert len(outbox.events) == published


async def test_an_order_the_worker_never_saw_is_answered_with_nothing_erased(
    worker: tuple[ErasureService, FakeStore, FakeOutbox, RequestService],
) -> None:
    service, _, outbox, _ = worker

    assert set((await service.erase_order(CONN, request(9999))).values()) == {0}
    assert [receipt.order_id for receipt in receipts(outbox)] == [9999]
