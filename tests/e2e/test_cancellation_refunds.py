"""The cancellation worker's money, end to end on the real stack: the test publishes order events as
order_api would (pending refunds, a cancelled authorized order, the order once order_api applied the
payment service's answer); the worker keeps its ledger and commands the payments sandbox, which answers
on orders.ingest; customers' emails reach a real SMTP server, once."""

import uuid

import asyncpg
import httpx

from deploy.local.smtp_sink import Received, Sink
from tests.support.cancellations import answered, new_order_id, paid_order, refund, with_refunds
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.refund_flow import ADMIN, OrderApiStandIn, sandbox_saw

IBAN_FREE = (b"DE89", b"holder_name", b'bank_account": {')


async def test_a_refund_is_paid_once_settled_from_the_order_and_the_customer_emailed_once(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    mailbox: Sink,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    order_api: OrderApiStandIn,
) -> None:
    order_id = new_order_id()
    tea, pot = order_id * 10 + 1, order_id * 10 + 2
    email = f"refund-{order_id}@example.com"
    order = with_refunds(
        paid_order(order_id, email=email),
        refund(1, "50.00", lines=[(tea, 2, "cancel"), (pot, 1, "return")], notify=True),
        status="cancelled",
    )

    await order_api.order(order, "order.cancelled")
    [requested] = await order_api.ledger_until(order_id, 1)
    key = requested["idempotency_key"]
    [answer] = await order_api.answers(order_id, 1)
    assert (answer.type, answer.data["refund_id"], answer.data["ledger_entry_id"], answer.data["amount"]) == (
        "payment.refunded",
        1,
        str(key),
        "50.00",
    )
    await order_api.order(answered(order, 1, key, "50.00"), "order.refunded")  # order_api applied it
    await order_api.order(answered(order, 1, key, "50.00").model_copy(update={"note": "later"}))

    assert [(row["entry_type"], row["refund_id"], row["amount"]) for row in await order_api.ledger(order_id)] == [
        ("requested", 1, "50.0000"),
        ("succeeded", 1, "50.0000"),
    ]
    assert await sandbox_saw(http, payments_sandbox.url, key) == {
        "idempotency_key": str(key),
        "order_id": order_id,
        "count": 1,
        "answered": True,
        "answer": "payment.refunded",
    }
    events = await order_api.events(order_id, 4)
    assert [e.type for e in events] == [
        "refund.requested",
        "inventory.restock_requested",
        "inventory.restock_requested",
        "refund.succeeded",
    ]
    assert [(e.data["quantity"], e.data["reason"]) for e in events[1:3]] == [(2, "cancel"), (1, "return")]
    assert not [e for e in events if any(marker in e.raw for marker in IBAN_FREE)]
    message_id = f"<refund-{order_id}-1@cancellations.orders.local>"
    [mail] = await eventually(lambda: received(mailbox, message_id), lambda found: len(found) >= 1)
    assert mail.recipients == [email]
    assert "50.00 USD" in mail.message.get_content()
    await _settle_mail(admin_db, message_id)
    assert len(mailbox.with_message_id(message_id)) == 1


async def test_a_declined_refund_fails_and_an_operators_retry_with_a_new_key_succeeds(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
    order_api: OrderApiStandIn,
) -> None:
    worker = system["cancellation_worker"].url
    order_id = new_order_id()
    order = with_refunds(paid_order(order_id), refund(1, "13.13"))

    await order_api.order(order, "order.refund_requested")
    [declined] = await order_api.answers(order_id, 1)
    first = uuid.UUID(declined.data["ledger_entry_id"])
    assert (declined.type, declined.data["error"]) == (
        "payment.refund_failed",
        "declined: the sandbox declines amounts ending in 13",
    )
    failed = answered(order, 1, first, "13.13", ok=False)
    await order_api.order(failed)
    retry = await http.post(f"{worker}/orders/{order_id}/refunds/1/retry", headers=ADMIN)
    assert retry.status_code == 202, retry.text
    second = uuid.UUID(retry.json()["idempotency_key"])
    again = await http.post(f"{worker}/orders/{order_id}/refunds/1/retry", headers=ADMIN)
    assert (again.status_code, again.json()["code"]) == (409, "refund_not_failed")

    answers = await order_api.answers(order_id, 2)
    assert [(a.type, a.data["ledger_entry_id"]) for a in answers] == [
        ("payment.refund_failed", str(first)),
        ("payment.refunded", str(second)),
    ]
    await order_api.order(answered(failed, 1, second, "13.13"), "order.refunded")
    ledger = await http.get(f"{worker}/orders/{order_id}/ledger", headers=ADMIN)
    assert [(e["entry_type"], e["idempotency_key"], e["error"]) for e in ledger.json()["entries"]] == [
        ("requested", str(first), None),
        ("failed", str(first), "declined by the payment service"),
        ("requested", str(second), None),
        ("succeeded", str(second), None),
    ]
    events = await order_api.events(order_id, 4)
    assert [e.type for e in events] == ["refund.requested", "refund.failed", "refund.requested", "refund.succeeded"]


async def test_a_cancelled_order_that_was_only_authorized_is_voided_not_refunded(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    order_api: OrderApiStandIn,
) -> None:
    order_id = new_order_id()

    await order_api.order(paid_order(order_id, captured=False, status="cancelled"), "order.cancelled")

    [command] = await order_api.commands(order_id, 1)
    assert (command.type, command.data["kind"], command.data["refund_id"], command.data["amount"]) == (
        "void.requested",
        "void",
        None,
        "50.00",
    )
    [answer] = await order_api.answers(order_id, 1)
    assert (answer.type, answer.data["ledger_entry_id"]) == ("payment.voided", command.data["ledger_entry_id"])


async def received(mailbox: Sink, message_id: str) -> list[Received]:
    return mailbox.with_message_id(message_id)


async def _settle_mail(admin_db: asyncpg.Connection, message_id: str) -> None:
    """Until the sender recorded the email as sent."""
    await eventually(
        lambda: admin_db.fetchval("SELECT status FROM cancellation.notifications WHERE message_id = $1", message_id),
        lambda status: status == "done",
    )
