"""Subscribers get what was published: an event of a type this build does not know, and fields of a
known type's data that this build does not know, reach them exactly as the producer wrote them."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from shared.kafka import EventProducer, OutgoingRecord
from shared.topics import ORDERS_EVENTS
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import endpoints, new_order_id, order_event, order_of, verified, wait_caught_up


@pytest.fixture(scope="module", autouse=True)
async def caught_up(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> None:
    await wait_caught_up(stack)


async def publish_raw(bootstrap: str, event_type: str, order_id: int, data_json: bytes) -> uuid.UUID:
    """An event as a newer producer would write it, with a type and fields of its own choosing."""
    event_id = uuid.uuid4()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event_id).encode()),
        ("ce_type", event_type.encode()),
        ("ce_source", b"a-newer-service"),
        ("ce_subject", str(order_id).encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]
    producer = EventProducer(bootstrap, "forwarding-tests")
    await producer.connect()
    try:
        await producer.send_all([OutgoingRecord(ORDERS_EVENTS, str(order_id).encode(), data_json, headers)])
    finally:
        await producer.close()
    return event_id


async def delivered(receiver: WebhookReceiver, event_id: uuid.UUID) -> Received:
    found = await eventually(
        lambda: asyncio.sleep(0, [r for r in receiver.received() if r.headers["webhook-id"] == str(event_id)]),
        lambda requests: len(requests) == 1,
    )
    return found[0]


async def test_an_event_type_this_build_does_not_know_is_forwarded_with_its_data_as_published(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    data = b'{"order_id":%d,"gift":{"wrapped":true,"note":"caf\xc3\xa9"},"amount":"10.50"}' % order_id
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        endpoint = await api.register(receiver.url, ["order.*"])
        event_id = await publish_raw(stack[1], "order.gift_wrapped", order_id, data)
        request = await delivered(receiver, event_id)

    [body] = verified(endpoint["secret"], [request])
    assert body["type"] == "order.gift_wrapped"
    assert request.headers["webhook-event-type"] == "order.gift_wrapped"
    assert request.body.endswith(b',"data":' + data + b"}"), "the data is passed on byte for byte"


async def test_fields_a_known_type_gained_after_this_build_reach_subscribers(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    order_id = new_order_id()
    known = json.loads(order_event(order_id, 1).body())
    known["order"]["loyalty_tier"] = "gold"  # a field of the snapshot this build has no model for
    data = json.dumps(known, separators=(",", ":")).encode()
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        await api.register(receiver.url, ["order.created"])
        event_id = await publish_raw(stack[1], "order.created", order_id, data)
        request = await delivered(receiver, event_id)

    assert order_of(request) == order_id
    assert json.loads(request.body)["data"]["order"]["loyalty_tier"] == "gold"
