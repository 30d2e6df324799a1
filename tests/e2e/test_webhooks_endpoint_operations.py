"""The dispatcher's operator features on the running system: an endpoint's statistics (API and
/metrics), Idempotency-Key on the admin API's POSTs, and the payload expunge. Events go straight onto
orders.events; receivers are real HTTP servers on loopback."""

import asyncio
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import (
    ADMIN,
    Endpoints,
    endpoints,
    new_order_id,
    order_event,
    order_of,
    publish,
    wait_caught_up,
)


@pytest.fixture(scope="module", autouse=True)
async def caught_up(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> None:
    await wait_caught_up(stack)


def metric(text: str, name: str, endpoint: str, **labels: str) -> float | None:
    """A sample of /metrics' text for the endpoint (and labels), or None."""
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found is None:
            continue
        present = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if present.get("endpoint") == endpoint and all(present.get(k) == v for k, v in labels.items()):
            return float(found.group(2))
    return None


async def _keyed_post(api: Endpoints, path: str, key: str, body: object = None) -> httpx.Response:
    return await api.http.post(api.url + path, json=body, headers={**ADMIN, "idempotency-key": key})


async def _messages(api: Endpoints, endpoint_id: str, order_id: int) -> list[dict[str, object]]:
    messages = await api.get(f"/webhooks/{endpoint_id}/messages")
    return [message for message in messages if message["order_id"] == str(order_id)]


async def test_an_endpoints_statistics_count_its_messages_by_status_with_the_last_success_and_failure(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    good, bad = new_order_id(), new_order_id()
    receiver.respond = lambda request: 500 if order_of(request) == bad else 204
    dispatcher = system["webhook_dispatcher"].url
    async with endpoints(http, dispatcher) as api:
        endpoint_id = (await api.register(receiver.url, ["order.*"]))["id"]
        started = datetime.now(UTC)
        await publish(stack[1], [order_event(good, 1), order_event(good, 2, "order.updated"), order_event(bad, 1)])

        # Two delivered; the bad order's message fails every try of the schedule (0.5, 0.5, 1 s here).
        stats = await eventually(
            lambda: api.get(f"/webhooks/{endpoint_id}/stats"),
            lambda found: (found["delivered"], found["failed"], found["pending"]) == (2, 1, 0),
        )
        assert stats["last_success"]["response_status"] == 204
        assert started <= datetime.fromisoformat(stats["last_success"]["at"]) <= datetime.now(UTC)
        assert stats["last_failure"]["response_status"] == 500
        assert datetime.fromisoformat(stats["last_failure"]["at"]) >= started
        assert datetime.fromisoformat(stats["until"]) - datetime.fromisoformat(stats["since"]) == timedelta(days=1)

        # A window the messages were not created in counts none of them.
        later = quote((datetime.now(UTC) + timedelta(seconds=1)).isoformat())
        empty = await api.get(f"/webhooks/{endpoint_id}/stats?since={later}")
        assert (empty["delivered"], empty["failed"], empty["pending"], empty["last_success"]) == (0, 0, 0, None)
        backwards = await api.call(
            "GET", f"/webhooks/{endpoint_id}/stats?since={later}&until={quote(started.isoformat())}"
        )
        assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_window")
        unknown = await api.call("GET", f"/webhooks/{uuid.uuid4()}/stats")
        assert (unknown.status_code, unknown.json()["code"]) == (404, "endpoint_not_found")

        # /metrics: two attempts succeeded, the bad message's four failed, the last with 500.
        text = await eventually(
            lambda: http.get(f"{dispatcher}/metrics"),
            lambda response: (
                metric(response.text, "webhook_endpoint_attempts_total", endpoint_id, outcome="failed") == 4
            ),
        )
        assert metric(text.text, "webhook_endpoint_attempts_total", endpoint_id, outcome="succeeded") == 2
        assert metric(text.text, "webhook_endpoint_last_failure_status", endpoint_id) == 500
        last_success = metric(text.text, "webhook_endpoint_last_success_timestamp_seconds", endpoint_id)
        assert last_success is not None
        assert last_success >= started.timestamp() - 1


async def test_a_retried_admin_post_with_the_same_idempotency_key_acts_once_and_gets_the_first_answer(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        url = f"{receiver.url}/{uuid.uuid4()}"
        body = {"url": url, "event_types": ["order.created"]}
        key = str(uuid.uuid4())
        first = await _keyed_post(api, "/webhooks", key, body)
        again = await _keyed_post(api, "/webhooks", key, body)
        assert first.status_code == again.status_code == 201, first.text
        api.created.append(first.json()["id"])
        assert again.json() == first.json()  # the secret too: the first answer, not a second endpoint
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert [endpoint["url"] for endpoint in await api.get("/webhooks")].count(url) == 1

        other = await _keyed_post(api, "/webhooks", key, {**body, "description": "another"})
        assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")

        rotate, path = str(uuid.uuid4()), f"/webhooks/{first.json()['id']}/rotate-secret"
        rotated, replayed = [await _keyed_post(api, path, rotate) for _ in range(2)]
        assert rotated.status_code == replayed.status_code == 200
        assert replayed.json()["secret"] == rotated.json()["secret"] != first.json()["secret"]

        # Requests racing with one key: one registers, the others replay it or are told to retry.
        racing_url = f"{receiver.url}/{uuid.uuid4()}"
        race = str(uuid.uuid4())
        answers = await asyncio.gather(*(_keyed_post(api, "/webhooks", race, {"url": racing_url}) for _ in range(5)))
        created = {answer.json()["id"] for answer in answers if answer.status_code == 201}
        api.created.extend(created)
        assert len(created) == 1
        assert all(
            answer.status_code == 201 or (answer.status_code, answer.json()["code"]) == (409, "idempotency_key_in_use")
            for answer in answers
        )
        assert [endpoint["url"] for endpoint in await api.get("/webhooks")].count(racing_url) == 1


async def test_an_operator_expunges_a_settled_messages_payload_and_keeps_its_record(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    delivered_order, held_order = new_order_id(), new_order_id()
    release = threading.Event()

    def respond(request: Received) -> int:
        if order_of(request) == held_order:
            release.wait(30)  # in flight until the test lets it go
        return 204

    receiver.respond = respond
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint_id = (await api.register(receiver.url, ["order.*"]))["id"]
        await publish(stack[1], [order_event(delivered_order, 1), order_event(held_order, 1)])
        try:
            [delivered] = await eventually(
                lambda: _messages(api, endpoint_id, delivered_order),
                lambda found: [message["status"] for message in found] == ["delivered"],
            )
            path = f"/webhooks/{endpoint_id}/messages/{delivered['id']}"
            before = await api.get(path)
            assert before["payload"]["data"]["order_id"] == delivered_order
            assert before["payload_expunged_at"] is None

            expunged = await api.call("DELETE", f"{path}/content")
            assert expunged.status_code == 204, expunged.text
            after = await api.get(path)
            assert after["payload"] is None
            assert after["payload_expunged_at"] is not None
            assert after["payload_expunged_by"]  # the operator's API key id, never the key itself
            assert LOCAL_API_KEY not in after["payload_expunged_by"]
            kept = ("id", "event_id", "event_type", "order_id", "status", "created_at", "delivered_at")
            assert {name: after[name] for name in kept} == {name: before[name] for name in kept}
            assert len(after["attempts"]) == 1
            assert after["attempts"][0]["response_status"] == 204
            [listed] = await _messages(api, endpoint_id, delivered_order)
            assert listed["payload_expunged_at"] == after["payload_expunged_at"]

            # Again: nothing changes, the first note stays. Sending it again is refused.
            assert (await api.call("DELETE", f"{path}/content")).status_code == 204
            assert (await api.get(path))["payload_expunged_at"] == after["payload_expunged_at"]
            retried = await api.call("POST", f"{path}/retry")
            assert (retried.status_code, retried.json()["code"]) == (409, "payload_expunged")

            # A message still being sent keeps its payload.
            await eventually(
                lambda: asyncio.sleep(0, [r for r in receiver.received() if order_of(r) == held_order]), bool
            )
            [held] = await _messages(api, endpoint_id, held_order)
            refused = await api.call("DELETE", f"/webhooks/{endpoint_id}/messages/{held['id']}/content")
            assert (refused.status_code, refused.json()["code"]) == (409, "message_pending")
        finally:
            release.set()
        assert (await api.get(f"/webhooks/{endpoint_id}/messages/{held['id']}"))["payload"] is not None
        missing = await api.call("DELETE", f"/webhooks/{endpoint_id}/messages/9000000000000/content")
        assert (missing.status_code, missing.json()["code"]) == (404, "message_not_found")
