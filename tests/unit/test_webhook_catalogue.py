"""The event type catalogue (services/webhook_dispatcher/catalogue.py) and the filters it judges: every
type a subscriber can receive is described, with a JSON Schema its example is valid by (checked with
jsonschema-rs, formats too); filters that name no such type are found; channels narrow an endpoint's events."""

import copy
from typing import Any

import jsonschema_rs
import pytest

from services.webhook_dispatcher.catalogue import catalogue, entry_named, unknown_filters
from services.webhook_dispatcher.domain import matches
from services.webhook_dispatcher.service import WebhookService
from shared.event_catalogue import DESCRIPTIONS, EXAMPLES
from shared.event_types import EVENT_DATA_MODELS, WEBHOOK_EVENTS


def _errors(schema: dict[str, Any], body: Any) -> list[str]:
    assert jsonschema_rs.meta.is_valid(schema)
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    return [f"{list(error.instance_path)}: {error.message}" for error in validator.iter_errors(body)]


def test_every_type_is_in_the_catalogue_described_with_an_example_valid_by_its_schema() -> None:
    entries = catalogue()

    assert [entry.name for entry in entries if not entry.operational] == WebhookService.offered_event_types()
    assert [entry.name for entry in entries if entry.operational] == sorted(WEBHOOK_EVENTS)
    for entry in entries:
        assert entry.description == DESCRIPTIONS[entry.name]
        assert entry.family == entry.name.split(".")[0]
        assert entry.example is not None, f"{entry.name}: add an example of its model to shared/event_catalogue.py"
        assert entry.example["type"] == entry.name
        assert _errors(entry.schema, entry.example) == [], entry.name


def test_the_schema_judges_the_body_a_wrong_one_is_refused_naming_what_is_wrong() -> None:
    entry = entry_named("order.created")
    assert entry.example is not None
    broken = copy.deepcopy(entry.example)
    broken["data"]["order"]["total_price"] = 210.94  # money is a decimal string
    del broken["data"]["order"]["line_items"][0]["quantity"]

    errors = _errors(entry.schema, broken)
    wrong_type = _errors(entry.schema, {**entry.example, "type": "order.updated"})

    assert any(error.startswith("['data', 'order', 'total_price']") for error in errors), errors
    assert any(error.startswith("['data', 'order', 'line_items', 0]") for error in errors), errors
    assert wrong_type != []


def test_every_description_and_example_belongs_to_the_contract() -> None:
    assert set(DESCRIPTIONS) <= set(EVENT_DATA_MODELS)
    assert set(EXAMPLES) <= set(EVENT_DATA_MODELS.values())


@pytest.mark.parametrize(
    ("filters", "unknown"),
    [
        (["order.created", "order.*", "*", "refund.*", "cancellation.approved"], []),
        (["order.shipped", "order.created"], ["order.shipped"]),
        (["payment.*", "payment.captured"], ["payment.*", "payment.captured"]),  # order_api's facts
        (["webhook.*", "erasure.requested"], ["webhook.*", "erasure.requested"]),  # not for subscribers
        (["order.created.*", "orders.*"], ["order.created.*", "orders.*"]),
        ([], []),
    ],
)
def test_filters_naming_no_offered_type_are_unknown(filters: list[str], unknown: list[str]) -> None:
    assert unknown_filters(filters, WebhookService.offered_event_types()) == unknown


@pytest.mark.parametrize(
    ("channels", "event_channels", "taken"),
    [
        ([], [], True),
        ([], ["source:web"], True),
        (["source:web"], ["source:web"], True),
        (["source:pos", "source:web"], ["source:web"], True),
        (["source:pos"], ["source:web"], False),
        (["source:pos"], [], False),  # an event without channels goes only to endpoints without
        (["source:Web"], ["source:web"], False),
    ],
)
def test_channels_narrow_an_endpoints_events(channels: list[str], event_channels: list[str], taken: bool) -> None:
    assert matches(["order.*"], channels, "order.created", event_channels) is taken
    assert matches(["refund.*"], channels, "order.created", event_channels) is False
