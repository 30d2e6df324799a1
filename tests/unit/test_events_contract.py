"""The CloudEvents contract (shared/events.py): what producers write is what consumers read back,
and anything else is refused with a message that says what is wrong."""

import json
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.order_api.service.lifecycle import lifecycle_body
from shared.cancellations import RefundData
from shared.channels import event_channels
from shared.event_catalogue import EXAMPLES
from shared.event_types import CANCELLATION_EVENTS, EVENT_DATA_MODELS, FAMILIES, SUBSCRIBABLE
from shared.events import CHANNELS_HEADER, CONTENT_TYPE, SPECVERSION, Event, InvalidEvent, decode_envelope, decode_event
from shared.orders import LineItemSnapshot, OrderLifecycleData, OrderSnapshot
from tests.support.cancellations import submission

CREATED_AT = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)
EVENT_ID = "6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11"


def _order_data(price: Decimal = Decimal("19.99"), quantity: int = 3) -> OrderLifecycleData:
    total = price * quantity
    item = LineItemSnapshot(
        id=7, title="Teapot", name="Teapot", price=price, quantity=quantity, fulfillable_quantity=quantity
    )
    snapshot = OrderSnapshot(
        id=42,
        number=42,
        order_number=1042,
        name="#1042",
        token="t42",
        email="ada@example.com",
        currency="USD",
        line_items=[item],
        total_line_items_price=total,
        subtotal_price=total,
        total_discounts=Decimal("0.00"),
        total_tax=Decimal("0.00"),
        total_price=total,
        total_weight=0,
        status="open",
        financial_status="pending",
        guest=True,
        created_at=CREATED_AT,
        updated_at=CREATED_AT,
        processed_at=CREATED_AT,
    )
    return OrderLifecycleData(order_id=42, sequence=1, order=snapshot)


def _headers(**overrides: str | None) -> list[tuple[str, bytes]]:
    """Valid headers of an `order.created` event; an override of None drops that header."""
    values: dict[str, str | None] = {
        "ce_specversion": "1.0",
        "ce_id": EVENT_ID,
        "ce_type": "order.created",
        "ce_source": "order_api",
        "ce_subject": "42",
        "ce_time": "2024-05-17T09:30:15+00:00",
        "content-type": "application/json",
    }
    values.update(overrides)
    return [(name, value.encode()) for name, value in values.items() if value is not None]


def _body() -> bytes:
    return _order_data().model_dump_json().encode()


def _reason(headers: list[tuple[str, bytes]], value: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as caught:
        decode_event(headers, value)
    return str(caught.value)


# ---- round trip --------------------------------------------------------------------------------


def test_new_event_round_trips_through_headers_and_body() -> None:
    event = Event.new("order.created", "order_api", "42", _order_data(), sequence=7, correlation_id="req-abc-123")

    decoded = decode_event(event.headers(), event.body())

    assert decoded == event
    assert decoded.id == event.id
    assert decoded.type == "order.created"
    assert decoded.source == "order_api"
    assert decoded.subject == "42"
    assert decoded.time == event.time
    assert decoded.time.tzinfo is not None
    assert decoded.sequence == 7
    assert decoded.correlation_id == "req-abc-123"
    assert decoded.data == _order_data()


def test_the_body_is_serialized_once_so_a_size_checked_is_the_size_stored() -> None:
    event = Event.new("order.created", "order_api", "42", _order_data(), sequence=1)

    body = event.body()

    assert event.body() is body
    assert body == _order_data().model_dump_json().encode()


def test_new_event_gets_a_fresh_uuid_and_current_aware_time() -> None:
    before = datetime.now(UTC)
    first = Event.new("order.created", "order_api", "42", _order_data())
    second = Event.new("order.created", "order_api", "42", _order_data())
    after = datetime.now(UTC)

    assert first.id != second.id
    assert first.id.version == 4
    assert before <= first.time <= after
    assert first.key == b"42"


def test_headers_carry_every_cloudevents_attribute() -> None:
    event = Event.new("order.created", "order_api", "42", _order_data(), sequence=3, correlation_id="corr-1")

    headers = dict(event.headers())

    assert headers == {
        "ce_specversion": SPECVERSION.encode(),
        "ce_id": str(event.id).encode(),
        "ce_type": b"order.created",
        "ce_source": b"order_api",
        "ce_subject": b"42",
        "ce_time": event.time.isoformat().encode(),
        "content-type": CONTENT_TYPE.encode(),
        "ce_sequence": b"3",
        "ce_correlationid": b"corr-1",
        "ce_channels": b'["source:api"]',
    }


def test_optional_attributes_are_omitted_when_unset_and_decode_as_none() -> None:
    event = Event.new("order.created", "order_api", "42", _order_data())

    names = [name for name, _ in event.headers()]
    decoded = decode_event(event.headers(), event.body())

    assert "ce_sequence" not in names
    assert "ce_correlationid" not in names
    assert decoded.sequence is None
    assert decoded.correlation_id is None


@pytest.mark.parametrize("unusable", ["café", "with space", "tab\there", "x" * 129, "nul\x00"])
def test_a_correlation_id_that_cannot_travel_in_headers_is_dropped_not_the_event(unusable: str) -> None:
    event = Event.new("order.created", "order_api", "42", _order_data(), correlation_id=unusable)

    assert decode_event(event.headers(), event.body()).correlation_id is None


def test_an_orders_events_carry_its_sales_channel_and_others_none_as_consumers_read_them() -> None:
    data = _order_data()
    pos = data.model_copy(update={"order": data.order.model_copy(update={"source_name": "Point of sale"})})
    refund = RefundData(
        order_id=42, refund_id=1, ledger_entry_id=uuid.uuid4(), kind="refund", method="original",
        amount=Decimal("1.00"), currency="USD", status="succeeded",
    )  # fmt: skip

    order_event = Event.new("order.paid", "order_api", "42", pos)
    refund_event = Event.new("refund.succeeded", "cancellation_worker", "42", refund)

    assert order_event.channels == ("source:Point of sale",)
    assert decode_event(order_event.headers(), order_event.body()).channels == ("source:Point of sale",)
    assert decode_envelope(order_event.headers(), order_event.body()).channels == ("source:Point of sale",)
    assert refund_event.channels == ()
    assert CHANNELS_HEADER not in dict(refund_event.headers())  # as events were before channels
    assert decode_envelope(refund_event.headers(), refund_event.body()).channels == ()


@pytest.mark.parametrize("event_type", sorted(CANCELLATION_EVENTS))
def test_the_cancellation_workers_events_carry_the_channel_their_data_names_and_old_ones_none(event_type: str) -> None:
    example = EXAMPLES[EVENT_DATA_MODELS[event_type]]
    pos = example.model_copy(update={"source_name": "pos"})
    old_body = json.dumps({k: v for k, v in example.model_dump(mode="json").items() if k != "source_name"})

    published = Event.new(event_type, "cancellation_worker", "42", pos)
    old = decode_event(_headers(ce_type=event_type), old_body.encode())  # published before the field

    assert decode_event(published.headers(), published.body()).channels == ("source:pos",)
    assert old.data == example.model_copy(update={"source_name": None})
    assert (old.channels, event_channels(old.data)) == ((), ())


@pytest.mark.parametrize("source_name", [42, ["pos"], {"name": "pos"}])
def test_a_submission_naming_its_channel_wrongly_is_refused_naming_the_field(source_name: object) -> None:
    submitted = submission(42, (7, 1, "cancel"), source_name="pos")
    body = json.loads(submitted.body()) | {"source_name": source_name}

    reason = _reason(submitted.headers(), json.dumps(body).encode())

    assert reason.startswith("cancellation.submitted data is invalid:")
    assert "source_name" in reason


@pytest.mark.parametrize("header", ['"source:web"', "[1]", "[source:web]", '{"a": 1}'])
def test_a_malformed_channels_header_is_refused_saying_so(header: str) -> None:
    with pytest.raises(InvalidEvent, match="malformed ce_channels"):
        decode_envelope(_headers(ce_channels=header), _body())


def test_sequence_zero_is_kept() -> None:
    event = Event.new("order.created", "order_api", "42", _order_data(), sequence=0)

    assert decode_event(event.headers(), event.body()).sequence == 0


def test_money_is_an_exact_decimal_string_in_the_body() -> None:
    data = _order_data(price=Decimal("0.10"), quantity=3)
    event = Event.new("order.created", "order_api", "42", data)

    body = json.loads(event.body())
    decoded = decode_event(event.headers(), event.body())

    item = body["order"]["line_items"][0]
    assert item["price"] == "0.10"
    assert body["order"]["subtotal_price"] == "0.30"
    assert body["order"]["total_price"] == "0.30"
    assert isinstance(decoded.data, OrderLifecycleData)
    assert decoded.data.order.total_price == Decimal("0.30")
    assert str(decoded.data.order.line_items[0].price) == "0.10"


def test_high_precision_money_survives_without_float_rounding() -> None:
    price = Decimal("12345678901234.5678")
    event = Event.new("order.created", "order_api", "42", _order_data(price=price, quantity=1))

    decoded = decode_event(event.headers(), event.body())

    assert json.loads(event.body())["order"]["line_items"][0]["price"] == "12345678901234.5678"
    assert isinstance(decoded.data, OrderLifecycleData)
    assert decoded.data.order.line_items[0].price == price


def test_unknown_fields_in_the_body_are_tolerated() -> None:
    body: dict[str, Any] = json.loads(_body())
    body["loyalty_points"] = 120
    body["order"]["gift_wrap"] = True
    body["order"]["line_items"][0]["engraving"] = "TEA-1"

    event = decode_event(_headers(), json.dumps(body).encode())

    assert event.id == uuid.UUID(EVENT_ID)
    assert event.data == _order_data()


def test_zulu_time_is_accepted() -> None:
    event = decode_event(_headers(ce_time="2024-05-17T09:30:15Z"), _body())

    assert event.time == datetime(2024, 5, 17, 9, 30, 15, tzinfo=UTC)


# ---- Event.new guards its type ----------------------------------------------------------------


def test_new_refuses_data_of_another_model() -> None:
    wrong = LineItemSnapshot(
        id=1, title="Teapot", name="Teapot", price=Decimal("1.00"), quantity=1, fulfillable_quantity=1
    )

    with pytest.raises(TypeError, match=re.escape("'order.created' carries")):
        Event.new("order.created", "order_api", "42", wrong)


def test_new_refuses_an_unknown_type() -> None:
    with pytest.raises(TypeError, match=re.escape("'order.exploded' carries None")):
        Event.new("order.exploded", "order_api", "42", _order_data())


# ---- decode_event refuses what it cannot process -----------------------------------------------


def test_missing_headers_are_all_listed() -> None:
    reason = _reason(_headers(ce_id=None, ce_time=None, ce_subject=""), _body())

    assert reason.startswith("missing CloudEvents header(s):")
    assert "ce_id" in reason
    assert "ce_time" in reason
    assert "ce_subject" in reason
    assert "ce_type" not in reason
    assert "ce_source" not in reason


def test_no_headers_at_all_lists_every_required_one() -> None:
    reason = _reason([], _body())

    assert reason == ("missing CloudEvents header(s): ce_specversion, ce_id, ce_type, ce_source, ce_subject, ce_time")


def test_wrong_specversion_is_refused() -> None:
    reason = _reason(_headers(ce_specversion="0.3"), _body())

    assert "ce_specversion" in reason
    assert "'0.3'" in reason


def test_unknown_type_is_refused() -> None:
    reason = _reason(_headers(ce_type="order.exploded"), _body())

    assert reason == "unknown event type 'order.exploded'"


def test_non_uuid_id_is_refused() -> None:
    reason = _reason(_headers(ce_id="not-a-uuid"), _body())

    assert "malformed ce_id" in reason
    assert "UUID" in reason


def test_unparseable_time_is_refused() -> None:
    reason = _reason(_headers(ce_time="yesterday"), _body())

    assert "malformed ce_time" in reason
    assert "yesterday" in reason


def test_non_numeric_sequence_is_refused() -> None:
    reason = _reason(_headers(ce_sequence="three"), _body())

    assert "malformed ce_sequence" in reason
    assert "three" in reason


def test_time_without_timezone_is_refused() -> None:
    reason = _reason(_headers(ce_time="2024-05-17T09:30:15"), _body())

    assert reason == "ce_time has no time zone"


def test_invalid_json_body_is_refused() -> None:
    reason = _reason(_headers(), b"{not json")

    assert reason.startswith("order.created data is invalid:")
    assert "Invalid JSON" in reason


def test_body_missing_required_fields_names_them() -> None:
    reason = _reason(_headers(), b'{"order_id": 42}')

    assert reason.startswith("order.created data is invalid:")
    assert "sequence: Field required" in reason
    assert "order: Field required" in reason


def test_nested_invalid_field_is_named_by_its_path() -> None:
    body: dict[str, Any] = json.loads(_body())
    body["order"]["line_items"][0]["price"] = "a lot"

    reason = _reason(_headers(), json.dumps(body).encode())

    assert "order.line_items.0.price" in reason


def test_none_body_is_refused() -> None:
    reason = _reason(_headers(), None)

    assert reason == "the message has no body"


def test_empty_body_is_refused() -> None:
    reason = _reason(_headers(), b"")

    assert reason.startswith("order.created data is invalid:")


def test_non_utf8_header_is_refused() -> None:
    headers = [*_headers(ce_source=None), ("ce_source", b"\xff\xfeorder_api")]

    reason = _reason(headers, _body())

    assert "not UTF-8" in reason


def test_invalid_event_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no body"):
        decode_event(_headers(), None)


def test_the_registry_is_every_family_and_a_type_has_one_model_and_it_cannot_be_changed() -> None:
    for family in FAMILIES.values():
        for event_type, model in family.items():
            assert EVENT_DATA_MODELS[event_type] is model, f"{event_type} has two models"
    assert set().union(*(set(family) for family in FAMILIES.values())) == set(EVENT_DATA_MODELS)
    mutable: Any = EVENT_DATA_MODELS  # as code that tried to add a type would hold it
    with pytest.raises(TypeError):
        mutable["made.up"] = OrderLifecycleData


def test_nothing_with_a_bank_account_can_be_subscribed_to() -> None:
    # Webhook payloads are PII-free: the models that carry a bank account travel only between services.
    from shared.cancellations import BankAccount, CancellationSubmitted, RefundData

    assert "cancellation.submitted" not in SUBSCRIBABLE
    assert {"void.requested"} & SUBSCRIBABLE == set()
    assert EVENT_DATA_MODELS["refund.requested"] is RefundData  # subscribable, but published without it
    assert CancellationSubmitted.model_fields["bank_account"].annotation == BankAccount | None


def test_an_order_event_built_from_the_stored_document_is_the_body_pydantic_writes() -> None:
    # order_api builds its lifecycle events' bodies from the JSON it stored (Event.new's `body`).
    data = _order_data()
    made = lifecycle_body(data.order_id, data.sequence, data.order.model_dump_json())
    assert made == data.model_dump_json().encode()
    event = Event.new("order.updated", "order_api", "42", data, sequence=1, body=made)
    assert event.body() == made
    assert decode_event(event.headers(), event.body()).data == data


@pytest.mark.parametrize(
    ("event_type", "body"),
    [
        ("order.anonymize_requested", b'{"order_id": "forty-two"}'),
        ("order.anonymize_requested", b'{"order_id": 42, "request_id": "not-a-uuid"}'),
        ("customer.erase_requested", b'{"customer_id": 7}'),  # no request_id
        ("erasure.requested", b'{"erasure_id": "00000000-0000-0000-0000-000000000001", "order_id": 42}'),
        ("erasure.completed", b'{"order_id": 42, "service": "order_api", "rows": {"orders": "one"}}'),
        ("customer.erased", b'{"customer_id": 7, "request_ids": [], "rows": {}, "erased_at": "2024-05-17T09:30:15Z"}'),
    ],
)
def test_the_erasure_flows_malformed_data_is_refused_naming_its_type(event_type: str, body: bytes) -> None:
    reason = _reason(_headers(ce_type=event_type), body)

    assert reason.startswith(f"{event_type} data is invalid:")
