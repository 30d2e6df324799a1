"""The event type catalogue and channels on the running system: the dispatcher serves every type a
subscriber can receive with a JSON Schema its example is valid by, refuses to subscribe an endpoint to
a type it does not know, and an endpoint listening to one sales channel gets only that channel's orders
(created through order_api, whose events carry their `source_name`), while another gets them all."""

import asyncio
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.support.haravan_examples import sample_order
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.webhooks import ADMIN, endpoints, order_of, wait_caught_up

pytestmark = pytest.mark.usefixtures("demo_catalog")


async def test_the_catalogue_is_served_and_every_example_is_valid_by_its_schema(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    url = system["webhook_dispatcher"].url
    listed = await http.get(f"{url}/event-types", headers=ADMIN)
    one = await http.get(f"{url}/event-types/cancellation.approved", headers=ADMIN)

    assert listed.status_code == 200, listed.text
    catalogue: list[dict[str, Any]] = listed.json()
    assert {"order.created", "order.anonymized", "cancellation.approved", "refund.succeeded"} <= {
        entry["name"] for entry in catalogue
    }
    for entry in catalogue:
        validator = jsonschema_rs.validator_for(entry["schema"], validate_formats=True)
        assert [error.message for error in validator.iter_errors(entry["example"])] == [], entry["name"]
        assert not validator.is_valid({**entry["example"], "data": {}}), entry["name"]
    assert one.json() == next(entry for entry in catalogue if entry["name"] == "cancellation.approved")
    assert one.json()["family"] == "cancellation"


async def test_an_endpoint_may_subscribe_only_to_types_in_the_catalogue(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        refused = await api.call(
            "POST", "/webhooks", json={"url": receiver.url, "event_types": ["order.shipped", "customer.*"]}
        )
        endpoint = await api.register(receiver.url, ["order.*"])
        patched = await api.call("PATCH", f"/webhooks/{endpoint['id']}", json={"event_types": ["ordr.created"]})
        kept = await api.get(f"/webhooks/{endpoint['id']}")
        registered = [item["url"] for item in await api.get("/webhooks")]

    assert (refused.status_code, refused.json()["code"]) == (422, "unknown_event_types")
    assert [error["message"] for error in refused.json()["errors"]] == [
        "'order.shipped' names no event type",
        "'customer.*' names no event type",
    ]
    assert (patched.status_code, patched.json()["code"]) == (422, "unknown_event_types")
    assert kept["event_types"] == ["order.*"]
    assert registered.count(receiver.url) == 1


async def test_an_endpoint_with_a_channel_gets_only_its_channels_orders_and_one_without_gets_all_listed_by_channel(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, api: str
) -> None:
    await wait_caught_up(stack)
    with WebhookReceiver() as shop, WebhookReceiver() as everything:
        async with endpoints(http, system["webhook_dispatcher"].url) as admin:
            pos = await admin.register(shop.url, ["order.created"], channels=["source:pos"])
            every = await admin.register(everything.url, ["order.created"])
            in_store = (await sample_order(http, api, source_name="pos"))["id"]
            online = (await sample_order(http, api, source_name="web"))["id"]

            def orders(receiver: WebhookReceiver) -> set[int | None]:
                return {order_of(request) for request in receiver.received()} & {in_store, online}

            await eventually(lambda: asyncio.sleep(0, orders(everything)), lambda got: got == {in_store, online})
            # Each event's messages are written in one transaction: both orders' fan-out is complete.
            messages = await admin.get(f"/webhooks/{pos['id']}/messages")
            assert [m["order_id"] for m in messages if int(m["order_id"]) in (in_store, online)] == [str(in_store)]
            await eventually(lambda: asyncio.sleep(0, orders(shop)), lambda got: got == {in_store})
            # The endpoint that takes every channel: its messages show their event's channel, and list by it.
            listed = await admin.get(f"/webhooks/{every['id']}/messages")
            in_pos = await admin.get(f"/webhooks/{every['id']}/messages?channel=source:pos")
            in_none = await admin.get(f"/webhooks/{every['id']}/messages?channel=source:nowhere")

    assert pos["channels"] == ["source:pos"]
    shown = {int(m["order_id"]): m["channels"] for m in listed if int(m["order_id"]) in (in_store, online)}
    assert shown == {in_store: ["source:pos"], online: ["source:web"]}
    assert [m["order_id"] for m in in_pos if int(m["order_id"]) in (in_store, online)] == [str(in_store)]
    assert all(m["channels"] == ["source:pos"] for m in in_pos)
    assert [m for m in in_none if int(m["order_id"]) in (in_store, online)] == []
