"""The AsyncAPI document (shared/asyncapi.py) against the contract it is made from: valid AsyncAPI 3.0 by
the official JSON Schema (npm `@asyncapi/specs`, which `./dev test` installs into .local/npm), every
topic a channel with its family's messages, every event type a message with its model's JSON schema,
and real event bodies valid by it. Every service serves it, and its page, without an API key."""

import importlib
import json
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import jsonschema_rs
import pytest

from shared.asyncapi import asyncapi_document, channel_id
from shared.event_types import EVENT_DATA_MODELS, FAMILIES, SUBSCRIBABLE
from shared.services import REPO_ROOT, SERVICES
from shared.topics import ALL_TOPICS, dlq
from tests.support.orders import order_created

# Where `./dev test` puts the official schemas (see `ensure_npm_packages` in ./dev).
SPEC_SCHEMA: Final = REPO_ROOT / ".local/npm/node_modules/@asyncapi/specs/schemas/3.0.0.json"


def _inlined(schema: Any, definitions: dict[str, Any], prefix: str) -> Any:
    """`schema` with every `$ref` under `prefix` replaced by the definition it names, recursively."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            return _inlined(definitions[ref.removeprefix(prefix)], definitions, prefix)
        return {key: _inlined(value, definitions, prefix) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, definitions, prefix) for item in schema]
    return schema


def _spec_validator() -> jsonschema_rs.Validator:
    assert SPEC_SCHEMA.exists(), f"{SPEC_SCHEMA} is missing: `./dev test` installs it (npm @asyncapi/specs)"
    return jsonschema_rs.validator_for(json.loads(SPEC_SCHEMA.read_text()))


def test_the_document_is_valid_asyncapi_3_0_by_the_official_schema() -> None:
    validator = _spec_validator()
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert [error.message for error in validator.iter_errors(document)] == []
    # The schema does judge: a message without a payload object is refused.
    broken = json.loads(json.dumps(document))
    broken["components"]["messages"]["order.created"]["payload"] = 5
    assert not validator.is_valid(broken)


def test_every_topic_is_a_channel_with_its_familys_messages_and_its_dead_letters_too() -> None:
    channels = asyncapi_document()["channels"]
    assert {channel["address"] for channel in channels.values()} == set(ALL_TOPICS)
    for topic, family in FAMILIES.items():
        for address in (topic, dlq(topic)):
            channel = channels[channel_id(address)]
            assert channel["address"] == address
            assert channel["messages"] == {
                event_type: {"$ref": f"#/components/messages/{event_type}"} for event_type in family
            }
            assert channel["bindings"]["kafka"]["partitions"] == 12


def test_every_event_type_is_a_message_with_its_models_json_schema() -> None:
    components = asyncapi_document()["components"]
    assert set(components["messages"]) == set(EVENT_DATA_MODELS)
    for event_type, model in EVENT_DATA_MODELS.items():
        message = components["messages"][event_type]
        assert message["name"] == event_type
        assert message["contentType"] == "application/json"
        documented = _inlined(message["payload"], components["schemas"], "#/components/schemas/")
        own = model.model_json_schema(mode="serialization")
        assert documented == _inlined(own, own.get("$defs", {}), "#/$defs/"), event_type


def test_every_example_is_valid_by_its_messages_payload_schema() -> None:
    document = asyncapi_document()
    examples = 0
    for name, message in document["components"]["messages"].items():
        payload = jsonschema_rs.validator_for({**message["payload"], "components": document["components"]})
        for example in message.get("examples", []):
            assert [error.message for error in payload.iter_errors(example["payload"])] == [], name
            examples += 1
    assert document["components"]["messages"]["order.created"]["examples"]
    assert document["components"]["messages"]["order.created"]["summary"].startswith("An order was created")
    assert examples >= len(SUBSCRIBABLE)


def test_a_real_events_body_and_headers_are_valid_by_the_document() -> None:
    document = asyncapi_document()
    event = order_created(7)
    message = document["components"]["messages"][event.type]
    payload = jsonschema_rs.validator_for({**message["payload"], "components": document["components"]})
    assert payload.is_valid(json.loads(event.body()))
    assert not payload.is_valid({**json.loads(event.body()), "order": {"id": "not an order"}})
    headers = {name: value.decode() for name, value in event.headers()}
    assert jsonschema_rs.validator_for(message["headers"]).is_valid(headers)


@pytest.fixture(params=[spec.name for spec in SERVICES])
async def service(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = importlib.import_module(f"services.{request.param}.__main__").build()
    transport = httpx.ASGITransport(app=app)  # no lifespan: no pool, no Kafka, none needed
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


async def test_every_service_serves_the_document_and_its_page_to_anyone(service: httpx.AsyncClient) -> None:
    served = await service.get("/asyncapi.json")
    assert served.status_code == 200, served.text
    assert served.json() == json.loads(json.dumps(asyncapi_document()))
    page = await service.get("/asyncapi")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    for topic in ALL_TOPICS:
        assert f'id="channel-{topic}"' in page.text
    for event_type in EVENT_DATA_MODELS:
        assert f'id="message-{event_type}"' in page.text
    assert "://" not in page.text  # nothing to fetch from elsewhere
