"""The dispatcher's routes (services/webhook_dispatcher/api.py) over its use cases in memory: how they
answer, refusals included. The app is the one `python -m services.webhook_dispatcher` serves, without
its lifespan (no pool, no Kafka); its use cases run on tests/support/webhook_fakes.py."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.webhook_dispatcher.__main__ import build
from services.webhook_dispatcher.api import MASKED_VALUE, get_service
from shared.auth import LOCAL_API_KEY
from tests.support.webhook_fakes import FakeStore, in_memory_service

URL = "https://subscriber.example/hooks"
MISSING = uuid.UUID("00000000-0000-4000-8000-00000000dead")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def api(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = build()
    app.dependency_overrides[get_service] = lambda: in_memory_service(store, hosts={"intranet.example": ["10.1.2.3"]})
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {LOCAL_API_KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://dispatcher", headers=headers) as client:
        yield client


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_a_registration_answers_the_secret_once_and_never_a_header_value(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    created = await api.post("/webhooks", json={"url": "http://127.0.0.1:9000/hook", "headers": {"X-Token": "t0k"}})

    assert created.status_code == 201
    endpoint = created.json()
    assert created.headers["location"] == f"/webhooks/{endpoint['id']}"
    assert endpoint["secret"] == store.endpoints[uuid.UUID(endpoint["id"])]["secret"]
    assert endpoint["headers"] == {"X-Token": MASKED_VALUE}
    read = (await api.get(f"/webhooks/{endpoint['id']}")).json()
    assert "secret" not in read
    assert read["headers"] == {"X-Token": MASKED_VALUE}


async def test_a_url_it_may_not_send_to_is_refused_naming_the_field(api: httpx.AsyncClient, store: FakeStore) -> None:
    refused = await api.post("/webhooks", json={"url": "https://intranet.example/hooks"})

    problem = _problem(refused, 422, "url_not_allowed")
    assert problem["detail"].startswith("Webhooks cannot be sent to this URL: intranet.example resolves to 10.1.2.3")
    assert [(error["field"], error["type"]) for error in problem["errors"]] == [("url", "url_not_allowed")]
    assert store.endpoints == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks/{id}"),
        ("DELETE", "/webhooks/{id}"),
        ("POST", "/webhooks/{id}/disable"),
        ("POST", "/webhooks/{id}/test"),
        ("GET", "/webhooks/{id}/messages"),
    ],
)
async def test_an_unknown_endpoint_is_404_endpoint_not_found(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path.format(id=MISSING))

    assert _problem(response, 404, "endpoint_not_found")["detail"] == f"There is no webhook endpoint {MISSING}."


async def test_an_unknown_message_is_404_message_not_found(api: httpx.AsyncClient, store: FakeStore) -> None:
    endpoint = store.add_endpoint(url=URL)

    response = await api.post(f"/webhooks/{endpoint['id']}/messages/7/retry")

    problem = _problem(response, 404, "message_not_found")
    assert problem["detail"] == f"Endpoint {endpoint['id']} has no message 7."


async def test_a_patch_may_not_null_a_required_setting(api: httpx.AsyncClient, store: FakeStore) -> None:
    endpoint = store.add_endpoint(url=URL)

    response = await api.patch(f"/webhooks/{endpoint['id']}", json={"url": None})

    assert _problem(response, 422, "validation_error")["errors"] == [{"field": "url"}]


async def test_a_settled_message_is_listed_with_its_attempts_and_no_next_attempt(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    endpoint = store.add_endpoint(url=URL)
    pending = store.add_message(endpoint["id"])
    failed = store.add_message(endpoint["id"], status="failed")

    listed = (await api.get(f"/webhooks/{endpoint['id']}/messages")).json()

    assert [(message["id"], message["status"]) for message in listed] == [(failed, "failed"), (pending, "pending")]
    assert listed[0]["next_attempt_at"] is None
    assert listed[1]["next_attempt_at"] is not None
    assert [message["attempts"] for message in listed] == [[], []]


async def test_messages_list_by_channel_and_an_overlong_channel_is_refused_naming_it(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    endpoint = store.add_endpoint(url=URL)
    pos = store.add_message(endpoint["id"], channels=["source:pos"])
    store.add_message(endpoint["id"], channels=["source:web"])

    listed = (await api.get(f"/webhooks/{endpoint['id']}/messages", params={"channel": "source:pos"})).json()
    refused = await api.get(f"/webhooks/{endpoint['id']}/messages", params={"channel": "s" * 129})

    assert [(message["id"], message["channels"]) for message in listed] == [(pos, ["source:pos"])]
    assert _problem(refused, 422, "validation_error")["errors"] == [
        {"field": "channel", "message": "String should have at most 128 characters", "type": "string_too_long"}
    ]


async def test_event_types_outside_the_catalogue_are_refused_naming_each(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    url = "http://127.0.0.1:9000/hook"
    refused = await api.post("/webhooks", json={"url": url, "event_types": ["order.*", "order.shiped", "payment.*"]})
    created = await api.post("/webhooks", json={"url": url, "event_types": ["order.*"], "channels": ["source:pos"]})
    patched = await api.patch(f"/webhooks/{created.json()['id']}", json={"event_types": ["refund.*", "webhook.*"]})

    body = _problem(refused, 422, "unknown_event_types")
    assert [error["message"] for error in body["errors"]] == [
        "'order.shiped' names no event type",
        "'payment.*' names no event type",
    ]
    assert "order.shiped, payment.*" in body["detail"]
    assert [error["message"] for error in _problem(patched, 422, "unknown_event_types")["errors"]] == [
        "'webhook.*' names no event type"
    ]
    assert len(store.endpoints) == 1
    kept = (await api.get(f"/webhooks/{created.json()['id']}")).json()
    assert (kept["event_types"], kept["channels"]) == (["order.*"], ["source:pos"])


async def test_an_operator_endpoint_is_refused_channels_it_could_never_match(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    url = "http://127.0.0.1:9000/ops"
    refused = await api.post("/webhooks", json={"url": url, "operational": True, "channels": ["source:pos"]})
    created = await api.post("/webhooks", json={"url": url, "operational": True})
    patched = await api.patch(f"/webhooks/{created.json()['id']}", json={"channels": ["source:web"]})
    cleared = await api.patch(f"/webhooks/{created.json()['id']}", json={"channels": []})

    body = _problem(refused, 422, "channels_not_applicable")
    assert [error["field"] for error in body["errors"]] == ["channels"]
    _problem(patched, 422, "channels_not_applicable")
    assert cleared.status_code == 200
    assert [endpoint["channels"] for endpoint in store.endpoints.values()] == [[]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channels", ["source:pos"] * 11),
        ("channels", [""]),
        ("channels", ["x" * 129]),
        ("channels", "source:pos"),
        ("signing", "rsa"),
        ("operational", "sometimes"),
    ],
)
async def test_bad_channels_signing_or_operational_flag_is_refused_naming_the_field(
    api: httpx.AsyncClient, store: FakeStore, field: str, value: Any
) -> None:
    refused = await api.post("/webhooks", json={"url": "http://127.0.0.1:9000/hook", field: value})

    assert refused.status_code == 422, refused.text
    assert [error["field"].split("[")[0] for error in refused.json()["errors"]] == [field]
    assert store.endpoints == {}


async def test_the_catalogue_is_served_whole_and_by_name(api: httpx.AsyncClient) -> None:
    listed = await api.get("/event-types")
    one = await api.get("/event-types/order.created")
    missing = await api.get("/event-types/order.shiped")

    assert listed.status_code == 200
    names = [entry["name"] for entry in listed.json()]
    assert "order.created" in names
    assert "payment.captured" not in names
    assert one.json() == next(entry for entry in listed.json() if entry["name"] == "order.created")
    assert set(one.json()) == {"name", "family", "description", "schema", "example", "operational"}
    assert not one.json()["operational"]
    operational = {entry["name"] for entry in listed.json() if entry["operational"]}
    assert "webhook.endpoint.disabled" in operational
    assert all(name.startswith("webhook.") for name in operational)
    assert one.json()["schema"]["properties"]["type"] == {"const": "order.created"}
    _problem(missing, 404, "event_type_not_found")


async def test_the_catalogue_lists_without_schemas_when_asked(api: httpx.AsyncClient) -> None:
    whole = (await api.get("/event-types")).json()
    summary = await api.get("/event-types", params={"with_content": "false"})
    refused = await api.get("/event-types", params={"with_content": "sometimes"})

    assert summary.status_code == 200
    assert summary.json() == [
        {name: entry[name] for name in ("name", "family", "description", "operational")} for entry in whole
    ]
    assert refused.status_code == 422


async def test_an_endpoint_subscribed_before_the_catalogue_to_an_unknown_type_keeps_it_until_changed(
    api: httpx.AsyncClient, store: FakeStore
) -> None:
    endpoint = store.add_endpoint(url=URL, event_types=["order.shipped"])

    renamed = await api.patch(f"/webhooks/{endpoint['id']}", json={"description": "legacy"})

    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["event_types"], renamed.json()["description"]) == (["order.shipped"], "legacy")
