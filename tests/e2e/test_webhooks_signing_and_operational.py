"""Asymmetric signatures and operational webhooks, on the running system: an ed25519 endpoint's
deliveries verify with the public key the admin API serves (and with no other key, during a rotation
with either), and an operator endpoint is sent signed `webhook.message.exhausted`,
`webhook.endpoint.disabled` and `webhook.endpoint.recovered` webhooks about a failing subscriber, but
nothing about an operator endpoint that fails itself (that goes to Kafka only)."""

import asyncio

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhook_dispatcher.asymmetric import generate_secret_key, public_key
from services.webhook_dispatcher.domain import generate_secret
from tests.support.ed25519_verifier import V1aVerificationError, verify_v1a
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import (
    endpoints,
    for_order,
    new_order_id,
    order_event,
    payload,
    publish,
    verified,
    wait_caught_up,
)


def _about(receiver: WebhookReceiver, endpoint_id: str) -> list[Received]:
    """The operational webhooks a receiver got about one endpoint."""
    return [r for r in receiver.received() if payload(r)["data"].get("endpoint_id") == endpoint_id]


async def test_an_ed25519_endpoints_deliveries_verify_with_the_served_public_key_and_no_other(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await wait_caught_up(stack)  # a backlog left on the shared stack would eat the test's patience
    order_id = new_order_id()
    async with endpoints(http, system["webhook_dispatcher"].url) as api:
        created = await api.register(receiver.url, ["order.*"], signing="ed25519")
        served = await api.get(f"/webhooks/{created['id']}")
        await publish(stack[1], [order_event(order_id, 1)])
        await eventually(lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda found: len(found) == 1)

        rotated = await api.call("POST", f"/webhooks/{created['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        served_after = await api.get(f"/webhooks/{created['id']}")
        await publish(stack[1], [order_event(order_id, 2, "order.updated")])
        before, during = await eventually(
            lambda: asyncio.sleep(0, for_order(receiver, order_id)), lambda found: len(found) == 2
        )

    old_key, new_key = served["public_key"], rotated.json()["public_key"]
    # The secret key never leaves the dispatcher: the answer and the endpoint show the public key.
    assert (created["signing"], created["secret"], created["public_key"]) == ("ed25519", None, old_key)
    assert old_key.startswith("whpk_")
    assert (rotated.json()["secret"], served_after["public_key"]) == (None, new_key)
    assert new_key != old_key
    assert verify_v1a(old_key, before.body, before.headers)["type"] == "order.created"
    assert before.headers["webhook-signature"].startswith("v1a,")
    with pytest.raises(V1aVerificationError):
        verify_v1a(public_key(generate_secret_key()), before.body, before.headers)
    with pytest.raises(V1aVerificationError):
        verify_v1a(new_key, before.body, before.headers)  # signed before the rotation: only the old key
    with pytest.raises(WebhookVerificationError):  # no HMAC v1 signature to be found
        Webhook(generate_secret()).verify(before.body, before.headers)
    # During the grace period a receiver holding either public key accepts the delivery.
    assert verify_v1a(old_key, during.body, during.headers) == verify_v1a(new_key, during.body, during.headers)
    assert len(during.headers["webhook-signature"].split()) == 2


async def test_an_operator_endpoint_is_told_of_a_subscribers_exhausted_message_disabling_and_recovery(
    system: dict[str, ServiceProcess],
    stack: tuple[str, str],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    await wait_caught_up(stack)  # a backlog left on the shared stack would eat the test's patience
    order_id = new_order_id()
    with (
        WebhookReceiver() as operator,
        WebhookReceiver() as broken_operator,
        WebhookReceiver() as exhausting,
        WebhookReceiver() as failing,
    ):
        broken_operator.respond = lambda _: 410  # gone: disabled by its first operational webhook
        exhausting.respond = failing.respond = lambda _: 500
        async with endpoints(http, system["webhook_dispatcher"].url) as api:
            ops = await api.register(operator.url, operational=True)
            broken = await api.register(broken_operator.url, operational=True)
            exhausts = await api.register(exhausting.url, ["order.created"])
            fails = await api.register(failing.url, ["order.updated"])
            # Failing for longer than the dispatcher allows: its next failure disables it.
            await admin_db.execute(
                "UPDATE webhooks.endpoints SET failing_since = now() - interval '6 days' WHERE id = $1::uuid",
                fails["id"],
            )

            # The test schedule has 3 retries: the 4th failure exhausts the message.
            await publish(stack[1], [order_event(order_id, 1), order_event(order_id, 2, "order.updated")])
            [exhausted] = await eventually(
                lambda: asyncio.sleep(0, _about(operator, exhausts["id"])), lambda found: len(found) == 1
            )
            [disabled] = await eventually(
                lambda: asyncio.sleep(0, _about(operator, fails["id"])), lambda found: len(found) == 1
            )

            # Fixed and enabled again: the message that waited is delivered, and that is a recovery.
            failing.respond = lambda _: 204
            enabled = await api.call("POST", f"/webhooks/{fails['id']}/enable")
            _, recovered = await eventually(
                lambda: asyncio.sleep(0, _about(operator, fails["id"])), lambda found: len(found) == 2
            )

            # The broken operator endpoint was disabled by its first one: said on Kafka only.
            records = await read_records(
                stack[1], "webhooks.events", lambda r: header(r, "ce_subject") == broken["id"], expect=1
            )
            sent_to_ops = await api.get(f"/webhooks/{ops['id']}/messages?limit=500")

    assert enabled.status_code == 200, enabled.text
    assert [payload(r)["type"] for r in (exhausted, disabled, recovered)] == [
        "webhook.message.exhausted",
        "webhook.endpoint.disabled",
        "webhook.endpoint.recovered",
    ]
    assert all(r.headers["webhook-event-type"] == payload(r)["type"] for r in (exhausted, disabled, recovered))
    # Signed like any delivery, with the operator endpoint's own secret.
    [exhausted_data, disabled_data, recovered_data] = [
        body["data"] for body in verified(ops["secret"], [exhausted, disabled, recovered])
    ]
    assert (exhausted_data["url"], exhausted_data["attempts"], exhausted_data["last_response_status"]) == (
        exhausting.url,
        4,
        500,
    )
    assert (disabled_data["url"], disabled_data["reason"]) == (failing.url, "failing")
    assert recovered_data["url"] == failing.url
    assert (len(for_order(exhausting, order_id)), len(for_order(failing, order_id))) == (4, 2)
    # Nothing about the broken operator endpoint went to an operator endpoint: no loop.
    assert [header(record, "ce_type") for record in records] == ["webhook.endpoint.disabled"]
    assert [m for m in sent_to_ops if m["order_id"] == broken["id"]] == []
    assert _about(operator, broken["id"]) == []
