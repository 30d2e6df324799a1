"""The AsyncAPI 3.0 document of the platform's events, made from the contract registry alone.

Every topic (shared/topics.py) is a channel, and every event type published on it (the families of
shared/event_types.py) a message whose payload is its pydantic model's JSON schema, as the producer
serializes it. A dead-letter topic carries copies of its source topic's messages, with the failure in
`dlq_*` headers. Every service serves the same document (`/asyncapi.json`, shared/api_docs.py).

FastStream's own generator documents a broker's subscribers and publishers: ours consume raw records
(the idempotent consumer decodes them) and publish through the outbox, so it would know neither the
types nor their models; the registry does.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from shared.event_catalogue import DESCRIPTIONS, EXAMPLES
from shared.event_types import EVENT_DATA_MODELS, FAMILIES
from shared.events import CHANNELS_HEADER, CONTENT_TYPE, SPECVERSION
from shared.orders import Snapshot
from shared.services import project_version
from shared.topics import PARTITIONS, dlq, topic_configs

ASYNCAPI_VERSION: Final = "3.0.0"
# The version of the Kafka bindings the channels' `bindings.kafka` follow.
KAFKA_BINDING_VERSION: Final = "0.5.0"
SCHEMA_REF: Final = "#/components/schemas/{model}"
MESSAGE_REF: Final = "#/components/messages/{name}"

_DESCRIPTION: Final = (
    "The events of the order events platform on Kafka. Every event is a CloudEvents "
    f"{SPECVERSION} envelope in binary mode: its attributes in `ce_*` headers, its data alone as JSON "
    "in the value, keyed by the order id (its `ce_subject`) so that an order's events stay in one "
    "partition and in order."
)

# The CloudEvents attributes every message carries as headers (shared/events.py writes them).
_HEADERS: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": SPECVERSION},
        "ce_id": {"type": "string", "format": "uuid", "description": "unique per event: consumers deduplicate on it"},
        "ce_type": {"type": "string", "description": "the event type: the message's name"},
        "ce_source": {"type": "string", "description": "the service that published it"},
        "ce_subject": {"type": "string", "description": "the order id, also the record's key"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_sequence": {"type": "string", "pattern": "^[0-9]+$", "description": "the order's version, when set"},
        "ce_correlationid": {"type": "string", "description": "the request that caused it, when known"},
        CHANNELS_HEADER: {
            "type": "string",
            "contentMediaType": CONTENT_TYPE,
            "description": "the event's channels as a JSON array of strings (an order's: `source:<source_name>`), "
            "which webhook endpoints may filter by; absent when it has none",
        },
        "content-type": {"type": "string", "const": CONTENT_TYPE},
    },
}

# Every record's key.
_KEY: Final = {"type": "string", "description": "the order id (the event's ce_subject)"}


def channel_id(topic: str) -> str:
    """A topic's channel key in the document (`orders.events` -> `orders-events`)."""
    return topic.replace(".", "-")


def _kafka_binding(topic: str) -> dict[str, Any]:
    configs = topic_configs(topic)
    return {
        "kafka": {
            "topic": topic,
            "partitions": PARTITIONS,
            "topicConfiguration": {
                "cleanup.policy": [configs["cleanup.policy"]],
                "retention.ms": int(configs["retention.ms"]),
                "max.message.bytes": int(configs["max.message.bytes"]),
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _messages() -> tuple[dict[str, Any], dict[str, Any]]:
    """The components' messages (one per event type) and schemas (one per model, and what they use)."""
    models = sorted(set(EVENT_DATA_MODELS.values()), key=lambda model: model.__name__)
    refs, top = models_json_schema([(model, "serialization") for model in models], ref_template=SCHEMA_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    messages = {
        event_type: {
            "name": event_type,
            "title": event_type,
            "contentType": CONTENT_TYPE,
            "headers": _HEADERS,
            "payload": refs[(model, "serialization")],
            "correlationId": {"location": "$message.header#/ce_correlationid"},
            "bindings": {"kafka": {"key": _KEY, "bindingVersion": KAFKA_BINDING_VERSION}},
            **_described(event_type, model),
        }
        for event_type, model in sorted(EVENT_DATA_MODELS.items())
    }
    return messages, schemas


def _described(event_type: str, model: type[Snapshot]) -> dict[str, Any]:
    """The message's summary and example data, where the catalogue (shared/event_catalogue.py) has them."""
    described: dict[str, Any] = {}
    if event_type in DESCRIPTIONS:
        described["summary"] = DESCRIPTIONS[event_type]
    if model in EXAMPLES:
        described["examples"] = [{"name": "example", "payload": EXAMPLES[model].model_dump(mode="json")}]
    return described


def _channel(topic: str, family: Mapping[str, object], description: str) -> dict[str, Any]:
    return {
        "address": topic,
        "title": topic,
        "description": description,
        "messages": {event_type: {"$ref": MESSAGE_REF.format(name=event_type)} for event_type in sorted(family)},
        "bindings": _kafka_binding(topic),
    }


@cache
def asyncapi_document() -> dict[str, Any]:
    """The platform's AsyncAPI 3.0 document (made once: the registry is fixed at import)."""
    messages, schemas = _messages()
    channels: dict[str, Any] = {}
    for topic, family in FAMILIES.items():
        channels[channel_id(topic)] = _channel(topic, family, f"The {topic} topic: {', '.join(sorted(family))}.")
        channels[channel_id(dlq(topic))] = _channel(
            dlq(topic),
            family,
            f"Dead letters of {topic}: a consumer's copy of a record it could not process, key, value and "
            "headers as they were, plus `dlq_*` headers: the error, the original topic, partition and offset, the "
            "consumer, its attempts and when it gave up.",
        )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Order events platform", "version": project_version(), "description": _DESCRIPTION},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }
