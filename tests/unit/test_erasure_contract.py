"""The erasure contract (shared/erasure.py) on anonymization.events: each type round-trips through the
CloudEvents envelope, the models refuse what is not a receipt's shape, and nothing of the saga can be
subscribed to by webhooks."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.erasure import (
    CUSTOMER_ERASED,
    ERASURE_COMPLETED,
    ERASURE_OVERDUE,
    ERASURE_REQUESTED,
    CustomerErased,
    ErasureCompleted,
    ErasureOverdue,
    ErasureRequested,
)
from shared.event_types import ERASURE_EVENTS, EVENT_DATA_MODELS, FAMILIES, SUBSCRIBABLE
from shared.events import Event, InvalidEvent, decode_event
from shared.orders import Snapshot

AT = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
ERASURE_ID = uuid.UUID("0b7e2f0c-9a51-4a55-9a3c-2b1d9b1c0e11")
SERVICES = ["order_api", "cancellation_worker", "webhook_dispatcher", "anonymizer"]


def requested(attempt: int = 1) -> ErasureRequested:
    return ErasureRequested(
        erasure_id=ERASURE_ID,
        order_id=42,
        customer_id=9000000012,
        anonymized_sequence=5,
        services=SERVICES,
        attempt=attempt,
        requested_at=AT,
    )


def completed(**rows: int) -> ErasureCompleted:
    return ErasureCompleted(
        erasure_id=ERASURE_ID, order_id=42, service="cancellation_worker", rows=rows, attempt=1, completed_at=AT
    )


def customer_erased(*request_ids: uuid.UUID, customers: int = 1) -> CustomerErased:
    return CustomerErased(
        customer_id=9000000012, request_ids=list(request_ids), rows={"customers": customers}, erased_at=AT
    )


def overdue() -> ErasureOverdue:
    return ErasureOverdue(
        erasure_id=ERASURE_ID,
        order_id=42,
        missing=["webhook_dispatcher"],
        attempt=1,
        requested_at=AT,
        deadline_at=AT + timedelta(seconds=60),
    )


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (ERASURE_REQUESTED, requested()),
        (ERASURE_COMPLETED, completed(bank_accounts=1, notifications=2)),
        (ERASURE_OVERDUE, overdue()),
        (CUSTOMER_ERASED, customer_erased(ERASURE_ID, uuid.uuid4(), customers=2)),
    ],
)
def test_each_erasure_event_round_trips_through_headers_and_body(event_type: str, data: Snapshot) -> None:
    event = Event.new(event_type, "anonymizer", "42", data)

    decoded = decode_event(event.headers(), event.body())

    assert decoded == event
    assert type(decoded.data) is type(data)
    assert decoded.data == data


def test_the_erasure_family_is_registered_and_never_offered_to_webhook_subscribers() -> None:
    assert ERASURE_EVENTS in FAMILIES.values()
    assert set(ERASURE_EVENTS) == {ERASURE_REQUESTED, ERASURE_COMPLETED, ERASURE_OVERDUE, CUSTOMER_ERASED}
    for event_type, model in ERASURE_EVENTS.items():
        assert EVENT_DATA_MODELS[event_type] is model
    assert set(ERASURE_EVENTS) & SUBSCRIBABLE == set()


def test_a_receipt_counts_rows_per_table_and_an_empty_one_is_a_receipt_too() -> None:
    # A repeat request erases nothing the second time, and says so: the receipt is still due.
    assert completed().rows == {}
    assert completed(bank_accounts=1).rows == {"bank_accounts": 1}
    with pytest.raises(ValidationError):
        ErasureCompleted.model_validate({**completed().model_dump(), "rows": {"bank_accounts": "all"}})


def test_times_must_be_aware_and_attempts_count_from_one() -> None:
    with pytest.raises(ValidationError):
        ErasureRequested.model_validate({**requested().model_dump(), "requested_at": "2024-05-17T09:30:00"})
    with pytest.raises(ValidationError):
        requested(attempt=0)


def test_a_customer_receipt_answers_at_least_one_request_and_may_say_nothing_was_left() -> None:
    assert customer_erased(ERASURE_ID, customers=0).rows == {"customers": 0}  # unknown or masked before
    with pytest.raises(ValidationError):
        customer_erased()
    with pytest.raises(ValidationError):
        CustomerErased.model_validate({**customer_erased(ERASURE_ID).model_dump(), "erased_at": "2024-05-17T09:30:00"})


def test_a_receipt_missing_its_service_is_refused_with_the_field_named() -> None:
    body = completed().model_dump_json(exclude={"service"}).encode()
    event = Event.new(ERASURE_COMPLETED, "order_api", "42", completed())
    with pytest.raises(InvalidEvent, match="service"):
        decode_event(event.headers(), body)


def test_the_contract_carries_no_personal_field() -> None:
    # Ids, service and table names, counts and times only: the topic keeps the default retention.
    personal = {"email", "phone", "name", "first_name", "last_name", "iban", "holder_name", "address1", "browser_ip"}
    for model in ERASURE_EVENTS.values():
        assert set(model.model_fields) & personal == set(), model.__name__
