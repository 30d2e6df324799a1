"""Webhook delivery as subscribers see it: signatures (also during a rotation), filters, retries,
Retry-After, 410, exhaustion, and one slow subscriber next to a fast one. Events go straight onto
orders.events; the dispatcher is the system's process; receivers are real HTTP servers on loopback."""

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from shared.services import project_version
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import (
    endpoints,
    event_ids,
    for_order,
    new_order_id,
    order_event,
    order_of,
    publish,
    verified,
    wait_caught_up,
)


@pytest.fixture(scope="module", autouse=True)
async def caught_up(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> None:
    await wait_caught_up(stack)


async def test_every_delivery_verifies_with_standardwebhooks_also_during_a_secret_rotation(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.*"])
        old_secret = endpoint["secret"]
        await publish(stack[1], [order_event(order_id, 1)])
        await eventually(lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda found: len(found) == 1)

        rotated = await api.call("POST", f"/webhooks/{endpoint['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != old_secret
        assert datetime.fromisoformat(rotated.json()["previous_secret_expires_at"]) > datetime.now(UTC)
        await publish(stack[1], [order_event(order_id, 2, "order.updated")])
        requests = await eventually(
            lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda found: len(found) == 2
        )

    before, during = requests
    assert verified(old_secret, [before])[0]["type"] == "order.created"
    # During the grace period a receiver holding either secret accepts the delivery.
    assert verified(old_secret, [during])[0]["type"] == "order.updated"
    assert verified(new_secret, [during]) == verified(old_secret, [during])
    assert len(during.headers["webhook-signature"].split()) == 2
    assert during.headers["webhook-event-type"] == "order.updated"


async def test_a_delivery_names_the_product_and_its_version_as_its_user_agent(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        await api.register(receiver.url, ["order.*"])
        await publish(stack[1], [order_event(order_id, 1)])
        [request] = await eventually(
            lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda found: len(found) == 1
        )

    assert request.headers["user-agent"] == f"order-events-webhooks/{project_version()}"


async def test_three_endpoints_with_different_filters_each_get_exactly_what_they_asked_for(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    order_id = new_order_id()
    types = ["order.created", "order.updated", "order.paid", "order.closed"]
    with WebhookReceiver() as created_only, WebhookReceiver() as every_order, WebhookReceiver() as money:
        async with endpoints(http, system["webhook_dispatcher"].url) as api:
            secrets = {
                "created_only": (await api.register(created_only.url, ["order.created"]))["secret"],
                "every_order": (await api.register(every_order.url, ["order.*"]))["secret"],
                "money": (await api.register(money.url, ["order.paid", "order.closed", "refund.*"]))["secret"],
            }
            await publish(stack[1], [order_event(order_id, n, t) for n, t in enumerate(types, start=1)])
            await eventually(lambda: asyncio.sleep(0, for_order(every_order, order_id)), lambda r: len(r) == 4)
            await asyncio.sleep(1.0)  # anything misrouted would have arrived by now

            got = {  # in any order: only ordered endpoints promise one
                name: sorted(p["type"] for p in verified(secrets[name], for_order(receiver, order_id)))
                for name, receiver in (("created_only", created_only), ("every_order", every_order), ("money", money))
            }

    assert got == {
        "created_only": ["order.created"],
        "every_order": sorted(types),
        "money": ["order.closed", "order.paid"],
    }


async def test_a_receiver_failing_twice_gets_the_message_three_times_with_the_same_webhook_id(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    answers = iter([500, 502])
    receiver.respond = lambda request: next(answers, 204) if order_of(request) == order_id else 204
    event = order_event(order_id, 1)
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.created"])
        await publish(stack[1], [event])
        requests = await eventually(lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda r: len(r) == 3)
        messages = await eventually(
            lambda: api.get(f"/webhooks/{endpoint['id']}/messages?status=delivered"), lambda found: len(found) == 1
        )

    assert event_ids(requests) == [event.id] * 3
    verified(endpoint["secret"], requests)
    [message] = messages
    assert message["event_id"] == str(event.id)
    assert [attempt["response_status"] for attempt in message["attempts"]] == [500, 502, 204]
    assert all(attempt["latency_ms"] >= 0 for attempt in message["attempts"])


async def test_429_with_retry_after_is_honoured(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    answers = iter([(429, {"Retry-After": "3"})])
    receiver.respond = lambda request: next(answers, 204) if order_of(request) == order_id else 204
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        await api.register(receiver.url, ["order.created"])
        await publish(stack[1], [order_event(order_id, 1)])
        first, second = await eventually(
            lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda r: len(r) == 2, timeout=30
        )

    # The schedule would have retried after 0.5 s; the subscriber asked for 3.
    assert 2.9 <= second.at - first.at <= 6
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_410_disables_the_endpoint_and_says_so_on_webhooks_events(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    receiver.respond = lambda _: 410
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.*"])
        await publish(stack[1], [order_event(order_id, 1)])
        state = await eventually(lambda: api.get(f"/webhooks/{endpoint['id']}"), lambda found: not found["enabled"])
        await publish(stack[1], [order_event(order_id, 2, "order.updated")])
        records = await read_records(
            stack[1], "webhooks.events", lambda r: header(r, "ce_subject") == endpoint["id"], expect=1
        )
        await asyncio.sleep(1.0)

    assert state["disabled_reason"] == "gone"
    assert len(for_order(receiver, order_id)) == 1  # nothing more once it said "gone"
    assert [header(record, "ce_type") for record in records] == ["webhook.endpoint.disabled"]


async def test_an_always_failing_receiver_exhausts_the_schedule_then_recover_resends(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    failing = True
    receiver.respond = lambda _: 500 if failing else 204
    event = order_event(order_id, 1)
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.created"])
        started = datetime.now(UTC) - timedelta(minutes=1)
        await publish(stack[1], [event])
        records = await read_records(
            stack[1], "webhooks.events", lambda r: header(r, "ce_subject") == endpoint["id"], expect=1
        )
        [failed] = await api.get(f"/webhooks/{endpoint['id']}/messages?status=failed")
        by_event = await api.get(f"/events/{event.id}/messages")

        failing = False
        recovered = await api.call("POST", f"/webhooks/{endpoint['id']}/recover", json={"since": started.isoformat()})
        delivered = await eventually(
            lambda: api.get(f"/webhooks/{endpoint['id']}/messages?status=delivered"), lambda found: len(found) == 1
        )

    # The test schedule has 3 retries: 4 attempts, then the message is failed and announced.
    assert [header(record, "ce_type") for record in records] == ["webhook.message.exhausted"]
    assert len(failed["attempts"]) == 4
    assert {attempt["response_status"] for attempt in failed["attempts"]} == {500}
    # (other endpoints registered meanwhile, e.g. by other tests, may have a message for it too)
    assert [message["id"] for message in by_event if message["endpoint_id"] == endpoint["id"]] == [failed["id"]]
    assert recovered.json() == {"requeued": 1}
    assert delivered[0]["id"] == failed["id"]
    assert event_ids(for_order(receiver, order_id)) == [event.id] * 5


async def test_a_slow_receiver_does_not_delay_another_endpoints_deliveries(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    order_ids = [new_order_id() for _ in range(30)]
    with WebhookReceiver() as slow, WebhookReceiver() as fast:
        slow.respond = _answer_after_ten_seconds
        async with endpoints(http, system["webhook_dispatcher"].url) as api:
            await api.register(slow.url, ["order.*"])
            await api.register(fast.url, ["order.*"])
            started = asyncio.get_running_loop().time()
            await publish(stack[1], [order_event(order_id, 1) for order_id in order_ids])
            await eventually(
                lambda: asyncio.sleep(0, Counter(order_of(r) for r in fast.received())),
                lambda seen: all(seen[order_id] == 1 for order_id in order_ids),
                timeout=15,
            )
            fast_done = asyncio.get_running_loop().time() - started

    # Each of the slow endpoint's requests takes 10 s; the fast one's 30 arrived meanwhile.
    assert fast_done < 5, f"the fast endpoint took {fast_done:.1f} s"


def _answer_after_ten_seconds(_: Received) -> int:
    time.sleep(10)  # in the receiver's request thread, not the event loop
    return 204


async def test_admin_api_needs_a_key_with_the_webhooks_admin_scope(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    url = system["webhook_dispatcher"].url
    missing = await http.get(f"{url}/webhooks")
    wrong = await http.get(f"{url}/webhooks", headers={"authorization": "Bearer not-a-key"})
    types = await http.get(f"{url}/event-types", headers={"authorization": "Bearer dev-admin-key"})

    assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
    assert missing.headers["content-type"] == "application/problem+json"
    assert (wrong.status_code, wrong.json()["code"]) == (401, "unauthorized")
    offered = [item["name"] for item in types.json() if not item["operational"]]
    assert "order.created" in offered
    assert all(not name.startswith("webhook.") for name in offered)


async def test_endpoint_lifecycle_update_disable_enable_test_event_delete(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(
            receiver.url, ["order.created"], description="crm", rate_limit=5, headers={"X-Tenant": "acme"}
        )
        patched = await api.call("PATCH", f"/webhooks/{endpoint['id']}", json={"event_types": ["refund.*"]})
        disabled = await api.call("POST", f"/webhooks/{endpoint['id']}/disable")
        enabled = await api.call("POST", f"/webhooks/{endpoint['id']}/enable")
        test = await api.call("POST", f"/webhooks/{endpoint['id']}/test")
        [request] = await eventually(
            lambda: asyncio.sleep(0, [r for r in receiver.received() if order_of(r) is None]), lambda r: len(r) == 1
        )
        base = f"/webhooks/{endpoint['id']}/messages"
        since = quote((datetime.now(UTC) - timedelta(minutes=1)).isoformat())
        delivered = await eventually(lambda: api.get(f"{base}?status=delivered&since={since}"), lambda m: len(m) == 1)
        earlier = await api.get(f"{base}?until={since}")
        retried = await api.call("POST", f"{base}/{test.json()['id']}/retry")
        again = await eventually(
            lambda: asyncio.sleep(0, [r for r in receiver.received() if order_of(r) is None]), lambda r: len(r) == 2
        )
        listed = [item["id"] for item in await api.get("/webhooks")]
        deleted = await api.call("DELETE", f"/webhooks/{endpoint['id']}")
        gone = await api.call("GET", f"/webhooks/{endpoint['id']}")

    assert "secret" not in patched.json()
    assert (patched.json()["event_types"], patched.json()["description"]) == (["refund.*"], "crm")
    assert (disabled.json()["enabled"], disabled.json()["disabled_reason"]) == (False, "manual")
    assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, None)
    assert test.status_code == 202
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)["type"] == "webhook.test"
    assert request.headers["x-tenant"] == "acme"
    assert uuid.UUID(request.headers["webhook-id"]) == uuid.UUID(test.json()["event_id"])
    assert [message["id"] for message in delivered] == [test.json()["id"]]
    assert earlier == []
    assert retried.status_code == 202
    assert again[1].headers["webhook-id"] == request.headers["webhook-id"]  # "retry now" sends it again
    assert endpoint["id"] in listed
    assert deleted.status_code == 204
    assert (gone.status_code, gone.json()["code"]) == (404, "endpoint_not_found")


async def test_custom_header_values_are_sent_but_every_answer_masks_them(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    masked = "********"
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        created = await api.register(receiver.url, headers={"Authorization": "Bearer s3cret", "X-Tenant": "acme"})
        path = f"/webhooks/{created['id']}"
        read = await api.get(path)
        listed = [endpoint for endpoint in await api.get("/webhooks") if endpoint["id"] == created["id"]]
        replaced = await api.call("PATCH", path, json={"headers": {"Authorization": "Bearer n3w"}})
        described = await api.call("PATCH", path, json={"description": "crm"})
        sent_back = await api.call("PATCH", path, json={"headers": replaced.json()["headers"]})
        test = await api.call("POST", f"{path}/test")
        [request] = await eventually(
            lambda: asyncio.sleep(
                0, [r for r in receiver.received() if r.headers["webhook-id"] == test.json()["event_id"]]
            ),
            lambda found: len(found) == 1,
        )

    for answer in (created, read, *listed):
        assert answer["headers"] == {"Authorization": masked, "X-Tenant": masked}
    assert "s3cret" not in str([created, read, listed])
    # PATCH replaces the whole map with the values given; answers still show names only.
    assert replaced.json()["headers"] == described.json()["headers"] == {"Authorization": masked}
    assert (sent_back.status_code, sent_back.json()["errors"][0]["field"]) == (422, "headers.Authorization")
    assert request.headers["authorization"] == "Bearer n3w"
    assert "x-tenant" not in request.headers
