"""The event type catalogue (`GET /event-types`), as Svix serves its own: every type an endpoint can
subscribe to, and the dispatcher's operational types (for operators), each with its family,
a description, the JSON Schema of the body a subscriber receives and an example of that body; and
which of an endpoint's filters name no type it can subscribe to.

All of it is made from the contract registry (shared/event_types.py: the types and their pydantic
models; shared/event_catalogue.py: descriptions and examples), so a type added to the contract is in
the catalogue, and may be subscribed to, without a line here.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from services.webhook_dispatcher.domain import (
    EventTypeNotFound,
    UnknownEventTypes,
    forwarded_body,
    matches,
    offered_event_types,
)
from shared.event_catalogue import DESCRIPTIONS, EXAMPLE_TIME, EXAMPLES, family_of
from shared.event_types import EVENT_DATA_MODELS, SUBSCRIBABLE, WEBHOOK_EVENTS
from shared.orders import Snapshot

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ANY_TYPE: Final = "*"


@dataclass(frozen=True, slots=True)
class EventTypeEntry:
    name: str
    family: str
    description: str
    schema: dict[str, Any]
    example: dict[str, Any] | None  # None only for a type whose model has no example yet
    operational: bool  # the dispatcher's own (webhook.*), for operators: no filter of a subscriber's


@cache
def _data_schema(model: type[Snapshot]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's JSON Schema as it serializes, and the definitions it refers to (`#/$defs/...`): made
    once per model, the slow part (fourteen order types share one model)."""
    data = model.model_json_schema(mode="serialization")
    return data, data.pop("$defs", {})


def body_schema(event_type: str, model: type[Snapshot], description: str) -> dict[str, Any]:
    """The JSON Schema of a webhook body of `event_type` (domain.forwarded_body): the type, the
    event's time, and the data as the model serializes it."""
    data, definitions = _data_schema(model)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": event_type,
        "description": description,
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time", "description": "when the event happened"},
            "data": data,
        },
    }
    if definitions:
        schema["$defs"] = definitions  # the data's `#/$defs/...` references resolve at the root
    return schema


def example_body(event_type: str, model: type[Snapshot]) -> dict[str, Any] | None:
    """A body of `event_type` exactly as a subscriber would receive it, around the model's example."""
    example = EXAMPLES.get(model)
    if example is None:
        return None
    body: dict[str, Any] = json.loads(forwarded_body(event_type, EXAMPLE_TIME, example.model_dump_json().encode()))
    return body


def _entry(event_type: str, *, operational: bool) -> EventTypeEntry:
    model = EVENT_DATA_MODELS[event_type]
    description = DESCRIPTIONS.get(event_type) or (model.__doc__ or event_type).strip().split("\n\n")[0]
    return EventTypeEntry(
        name=event_type,
        family=family_of(event_type),
        description=description,
        schema=body_schema(event_type, model, description),
        example=example_body(event_type, model),
        operational=operational,
    )


def subscriber_types() -> list[str]:
    """The event types endpoints can subscribe to: the customer-facing families of the contract."""
    return offered_event_types(SUBSCRIBABLE)


@cache
def catalogue() -> tuple[EventTypeEntry, ...]:
    """The subscribers' types, then the operational ones (made once: the contract is fixed)."""
    return tuple(
        [_entry(event_type, operational=False) for event_type in subscriber_types()]
        + [_entry(event_type, operational=True) for event_type in sorted(WEBHOOK_EVENTS)]
    )


def entry_named(name: str) -> EventTypeEntry:
    for entry in catalogue():
        if entry.name == name:
            return entry
    raise EventTypeNotFound(name)


def unknown_filters(filters: Sequence[str], offered: Iterable[str]) -> list[str]:
    """The filters that take none of the `offered` types: an exact name not offered, or a family
    (`order.*`) with no offered type in it. `*` takes every type."""
    offered = list(offered)
    return [
        pattern
        for pattern in filters
        if pattern != ANY_TYPE and not any(matches([pattern], (), event_type, ()) for event_type in offered)
    ]


def check_filters(filters: Sequence[str], *, operational: bool = False) -> None:
    """Refuse (UnknownEventTypes) filters that take no type a subscriber can receive (an operator
    endpoint: no operational type)."""
    unknown = unknown_filters(filters, WEBHOOK_EVENTS if operational else subscriber_types())
    if unknown:
        raise UnknownEventTypes(unknown)
