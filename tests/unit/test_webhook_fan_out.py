"""The fan-out of a consumer transaction's events (services/webhook_dispatcher/fan_out.py), as the
idempotent consumer drives it: every event's messages written in event order, and no more of them handed
to this instance's sender than it has room for."""

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

from services.webhook_dispatcher.domain import Delivery
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.events import Envelope
from shared.tracking import Tracking
from tests.support.webhook_fakes import FAKE_TRANSACTION, FakeDatabase, FakeStore, fake_dns


def _event(order_id: int) -> Envelope:
    data = b'{"order_id":%d}' % order_id
    return Envelope(uuid.uuid4(), "order.created", "order_api", str(order_id), datetime.now(UTC), 1, None, data)


async def test_a_transactions_events_are_written_in_order_and_handed_over_only_as_far_as_the_sender_has_room() -> None:
    store = FakeStore()
    orders = store.add_endpoint(event_types=["order.*"])
    refunds = store.add_endpoint(event_types=["refund.*"])
    settings = DispatcherSettings()
    sent: list[Delivery] = []
    handoff = Handoff(settings.lease)
    handoff.attach(lambda endpoint_id: 2, lambda: 50, sent.append)  # two more messages of any endpoint
    service = WebhookService(
        FakeDatabase(),
        settings,
        store=store,
        outbox=store,
        destinations=fake_dns(),
        erasures=ErasureService(store=store.erasure, outbox=store),
        handoff=handoff,
    )
    handler = service.fan_out_handler(200)
    events = [_event(order_id) for order_id in (1, 2, 3)]

    async with FakeDatabase().acquire() as conn:
        for event in await handler.bulk(conn, events):
            await handler.each(conn, event)

    messages = sorted(store.messages.values(), key=lambda message: message["id"])
    assert [(message["endpoint_id"], message["event_id"]) for message in messages] == [
        (orders["id"], event.id) for event in events
    ]
    assert refunds["id"] not in {message["endpoint_id"] for message in messages}
    assert sent == []  # not before the commit
    handoff.committed(FAKE_TRANSACTION)
    # The third waits for a claim: the sender had room for two.
    assert [delivery.event_id for delivery in sent] == [events[0].id, events[1].id]
    assert [message["attempts"] for message in messages] == [1, 1, 0]


async def test_an_endpoint_created_or_disabled_after_the_filters_were_read_is_taken_into_account() -> None:
    store = FakeStore()
    first = store.add_endpoint(event_types=["order.*"])
    service = WebhookService(FakeDatabase(), DispatcherSettings(), store=store, outbox=store, destinations=fake_dns())
    events = [_event(order_id) for order_id in (1, 2, 3)]

    async with FakeDatabase().acquire() as conn:
        await service.fan_out(conn, events[0])  # the filters are read, and kept
        second = store.add_endpoint(event_types=["order.*"])
        await service.fan_out(conn, events[1])
        store.endpoints[first["id"]]["enabled"] = False
        await service.fan_out(conn, events[2])

    messages = sorted(store.messages.values(), key=lambda message: message["id"])
    assert [(message["event_id"], message["endpoint_id"]) for message in messages] == [
        (events[0].id, first["id"]),
        (events[1].id, first["id"]),
        (events[1].id, second["id"]),
        (events[2].id, second["id"]),
    ]


async def test_order_events_fanned_out_in_one_statement_go_to_the_sender_at_once_and_only_once() -> None:
    store = FakeStore()
    store.add_endpoint(event_types=["order.*"])
    settings = DispatcherSettings()
    sent: list[Delivery] = []
    handoff = Handoff(settings.lease)
    handoff.attach(lambda endpoint_id: 10, lambda: 50, sent.append)
    service = WebhookService(
        FakeDatabase(), settings, store=store, outbox=store, destinations=fake_dns(), handoff=handoff
    )
    handler = service.fan_out_handler(200)
    assert handler.statement is not None
    statement = handler.statement
    events = [_event(order_id) for order_id in (1, 2)]
    anonymized = Envelope(uuid.uuid4(), "order.anonymized", "order_api", "3", datetime.now(UTC), 2, None, b"{}")
    tracking = Tracking([_Position(offset) for offset in (1, 2)], events)

    assert not statement.takes(events)  # the filters are read in a transaction first
    async with FakeDatabase().acquire() as conn:
        await handler.bulk(conn, [])
        assert statement.takes(events)
        assert not statement.takes([*events, anonymized])  # it keeps the order's masked snapshot first

        recorded = await statement.write(conn, [statement.prepare(event) for event in events], tracking)
        assert recorded == {event.id for event in events}
        # The statement committed as it returned: its messages went to the sender without a NOTIFY.
        assert [delivery.event_id for delivery in sent] == [event.id for event in events]

        # Delivered again: recorded before, so nothing written, nothing sent.
        assert await statement.write(conn, [statement.prepare(event) for event in events], tracking) == set()
    assert len(store.messages) == len(sent) == 2


class _Position(NamedTuple):
    offset: int
    topic: str = "orders.events"
    partition: int = 0
