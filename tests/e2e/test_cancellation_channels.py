"""The cancellation worker's events about an order carry the order's channel on the running system: a
POS order cancelled at order_api is refunded through the payments sandbox, and an endpoint listening to
`source:pos` receives its refund and restock events while one listening to `source:web` receives none."""

import asyncio

import httpx

from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.refunds import TOTAL, cancel, paid_order
from tests.support.webhooks import endpoints, order_of, payload

FOLLOWED = ["refund.*", "inventory.*"]
EXPECTED = {"refund.requested", "refund.succeeded", "inventory.restock_requested"}


async def test_a_pos_orders_refund_and_restock_go_to_its_channels_endpoint_and_not_to_anothers(
    system: dict[str, ServiceProcess], payments_sandbox: ServiceProcess, http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    with WebhookReceiver() as shop, WebhookReceiver() as online:
        async with endpoints(http, system["webhook_dispatcher"].url) as admin:
            pos = await admin.register(shop.url, FOLLOWED, channels=["source:pos"])
            web = await admin.register(online.url, FOLLOWED, channels=["source:web"])
            order = await paid_order(http, api, source_name="pos")

            response = await cancel(http, api, order["id"], amount=TOTAL, restock=True)
            assert response.status_code == 200, response.text

            def types(receiver: WebhookReceiver) -> set[str]:
                return {payload(r)["type"] for r in receiver.received() if order_of(r) == order["id"]}

            received = await eventually(lambda: asyncio.sleep(0, types(shop)), lambda got: got >= EXPECTED, timeout=60)
            # Each event's messages, for every endpoint it matches, are written in one transaction: the
            # fan-out of every event the POS endpoint received is complete for the web one too.
            messages = await admin.get(f"/webhooks/{web['id']}/messages")
            delivered_online = types(online)

    assert received >= EXPECTED
    assert pos["channels"] == ["source:pos"]
    assert [m["event_type"] for m in messages if m["order_id"] == str(order["id"])] == []
    assert delivered_online == set()
