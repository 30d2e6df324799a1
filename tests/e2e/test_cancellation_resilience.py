"""The cancellation worker under bad input and crashes, end to end: what can never be processed goes
to the DLQ and the worker moves on; killed with SIGKILL after a refund command went out but before it
was recorded as sent, it sends the same command again (same idempotency key), which the payment
service answers once, and never makes a second attempt for the same money."""

import asyncio
import uuid

import asyncpg
import httpx

from deploy.demo_catalog import publish as publish_records
from shared.events import Event
from shared.kafka import OutgoingRecord
from shared.topics import CANCELLATIONS_REQUESTS, ORDERS_EVENTS, dlq
from tests.support.cancellations import lifecycle, new_order_id, paid_order, refund, submission, with_refunds
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.refund_flow import OrderApiStandIn, sandbox_keys, sandbox_saw
from tests.support.webhooks import publish

WORKER = "cancellation_worker"


async def dead_letters(bootstrap: str, topic: str, events: list[Event]) -> dict[uuid.UUID, str]:
    """The worker's DLQ entries of `events`, by event id: the error."""
    ids = {str(event.id) for event in events}

    def wanted(record: object) -> bool:
        return header(record, "ce_id") in ids and header(record, "dlq_consumer") == WORKER

    records = await read_records(bootstrap, dlq(topic), wanted, expect=len(ids))
    return {uuid.UUID(header(record, "ce_id") or ""): header(record, "dlq_error") or "" for record in records}


def malformed(event: Event, topic: str) -> OutgoingRecord:
    """The event's envelope with a body its type's model refuses."""
    return OutgoingRecord(topic, event.key, b'{"order_id": "not a number"}', event.headers())


async def test_what_can_never_be_processed_goes_to_the_dlq_and_the_worker_moves_on(
    system: dict[str, ServiceProcess], admin_db: asyncpg.Connection, stack: tuple[str, str], order_api: OrderApiStandIn
) -> None:
    order_id = new_order_id()
    tea = order_id * 10 + 1
    first = order_id * 100
    taken = submission(order_id, (tea, 1, "refund"), first_request_id=first)
    clash = submission(order_id, (tea, 1, "cancel"), first_request_id=first)  # its request id exists
    bad_submission = submission(order_id, (tea, 1, "cancel"))
    unknown_request = lifecycle(with_refunds(paid_order(order_id), refund(1, "10.00", request_id=first + 99)), 1)
    bad_order = lifecycle(paid_order(order_id), 2)
    good = lifecycle(paid_order(order_id), 3)

    await publish(stack[1], [taken, clash], CANCELLATIONS_REQUESTS)
    await publish_records(stack[1], [malformed(bad_submission, CANCELLATIONS_REQUESTS)])
    await publish(stack[1], [unknown_request], ORDERS_EVENTS)
    await publish_records(stack[1], [malformed(bad_order, ORDERS_EVENTS)])
    await publish(stack[1], [good], ORDERS_EVENTS)
    await order_api.processed([taken, good])

    requests = await dead_letters(stack[1], CANCELLATIONS_REQUESTS, [clash, bad_submission])
    assert requests[clash.id] == f"Unprocessable: request id(s) {first} exist already"
    assert requests[bad_submission.id].startswith("InvalidEvent: cancellation.submitted data is invalid")
    orders = await dead_letters(stack[1], ORDERS_EVENTS, [unknown_request, bad_order])
    assert orders[unknown_request.id] == f"Unprocessable: refund 1 pays back request {first + 99}, unknown"
    assert orders[bad_order.id].startswith("InvalidEvent: order.updated data is invalid")
    assert await order_api.ledger(order_id) == []
    assert await admin_db.fetchval("SELECT last_sequence FROM cancellation.orders WHERE order_id = $1", order_id) == 3


async def test_killed_after_sending_a_command_and_before_recording_it_the_worker_refunds_nothing_twice(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    order_api: OrderApiStandIn,
) -> None:
    worker = system[WORKER]
    order_id = new_order_id()
    await order_api.order(with_refunds(paid_order(order_id), refund(1, "50.00")), "order.refund_requested")
    [requested] = await order_api.ledger_until(order_id, 1)
    key = requested["idempotency_key"]
    await eventually(lambda: sandbox_saw(http, payments_sandbox.url, key), lambda seen: seen["answered"])

    worker.kill()
    # The state a kill between the broker's ack and the relay's "sent" leaves: the row unsent.
    await admin_db.execute(
        "UPDATE cancellation.outbox SET sent_at = NULL WHERE topic = 'payments.commands' AND key = $1",
        str(order_id),
    )
    worker.start()

    seen = await eventually(lambda: sandbox_saw(http, payments_sandbox.url, key), lambda seen: seen["count"] == 2)
    assert (seen["answered"], seen["answer"]) == (True, "payment.refunded")
    await asyncio.sleep(0.5)  # time enough for a second answer, were one coming
    answers = await order_api.answers(order_id, 1)
    assert [a.data["ledger_entry_id"] for a in answers] == [str(key)]
    assert [row["entry_type"] for row in await order_api.ledger(order_id)] == ["requested"]
    assert [entry["idempotency_key"] for entry in await sandbox_keys(http, payments_sandbox.url, order_id)] == [
        str(key)
    ]


async def test_killed_in_the_middle_of_a_burst_every_refund_has_one_key_answered_once(
    system: dict[str, ServiceProcess],
    payments_sandbox: ServiceProcess,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    order_api: OrderApiStandIn,
) -> None:
    worker = system[WORKER]
    orders = [new_order_id() for _ in range(30)]
    events = [lifecycle(with_refunds(paid_order(order_id), refund(1, "20.00")), 1) for order_id in orders]

    await publish(stack[1], events, ORDERS_EVENTS)
    await eventually(
        lambda: admin_db.fetchval(
            "SELECT count(*) FROM cancellation.ledger_entries WHERE order_id = ANY($1::bigint[])", orders
        ),
        lambda count: count >= 5,
        interval=0.02,
    )
    worker.kill()
    worker.start()
    await order_api.processed(events)

    async def keys_seen() -> list[list[dict[str, object]]]:
        return [await sandbox_keys(http, payments_sandbox.url, order_id) for order_id in orders]

    seen = await eventually(keys_seen, lambda seen: all(len(keys) == 1 and keys[0]["answered"] for keys in seen))
    for order_id, [keys] in zip(orders, seen, strict=True):
        [requested] = await order_api.ledger(order_id)
        assert keys["idempotency_key"] == str(requested["idempotency_key"])
