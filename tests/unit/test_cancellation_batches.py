"""The cancellation worker's batch of order events (RefundService.orders_changed) on in-memory fakes:
the events that only keep the order's copy are applied at once, and every event of an order that asks
more of the worker is left, in order, for the per-event path that runs the ledger."""

from services.cancellation_worker.service.refunds import RefundService
from shared.orders import OrderLifecycleData
from tests.support.cancellation_fakes import CONN, fake_ports
from tests.support.cancellations import lifecycle, paid_order, refund, with_refunds

PLAIN, REFUNDED, LEDGERED = 7101, 7102, 7103


async def test_copies_are_kept_at_once_and_an_order_asking_more_is_left_whole_and_in_order() -> None:
    ports, store, outbox = fake_ports()
    refunds = RefundService(ports)
    # An order the ledger already holds an entry of: any event of it may settle that entry.
    asked = lifecycle(with_refunds(paid_order(LEDGERED), refund(1, "5.00")), 1)
    assert isinstance(asked.data, OrderLifecycleData)
    await refunds.order_changed(CONN, asked, asked.data)
    assert [entry.order_id for entry in store.entries] == [LEDGERED]
    published = len(outbox.events)

    refunded = with_refunds(paid_order(REFUNDED), refund(2, "20.00"))
    events = [
        lifecycle(paid_order(PLAIN), 1, "order.created"),
        lifecycle(paid_order(REFUNDED), 1, "order.created"),  # plain alone, but its order asks more later
        lifecycle(paid_order(LEDGERED), 2, "order.paid"),
        lifecycle(paid_order(PLAIN), 2, "order.paid"),
        lifecycle(refunded, 2, "order.refund_requested"),
        lifecycle(paid_order(PLAIN + 10), 1, "order.cancellation_requested"),  # moves the order's requests
    ]

    left = await refunds.orders_changed(CONN, events)

    assert left == [events[1], events[2], events[4], events[5]]
    assert store.orders[PLAIN][0] == 2  # its newest copy, written at once
    assert {REFUNDED, PLAIN + 10}.isdisjoint(store.orders)  # left for the ledger's path
    assert len(outbox.events) == published  # keeping copies starts no payment
