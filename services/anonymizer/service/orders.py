"""The anonymizer's copy of orders: whose data each holds (a keyed hash of the email and the customer
id, never the email), and the audit log of what it saw; `order.anonymized` opens the order's erasure."""

from collections.abc import Sequence

from services.anonymizer.domain import KnownOrder, email_hash
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.ports import Ports
from shared.consumer_handlers import split_by_subject
from shared.db import Connection
from shared.events import Event
from shared.orders import ORDER_ANONYMIZED, OrderLifecycleData

ORDER_DELETED = "order.deleted"


class OrderCopyService:
    def __init__(self, ports: Ports, erasures: ErasureService) -> None:
        self._ports = ports
        self._erasures = erasures
        self._key = ports.settings.email_hash_key.get_secret_value().encode()

    async def orders_changed(self, conn: Connection, events: Sequence[Event]) -> Sequence[Event]:
        """The consumer transaction's events at once: the copies and audit rows of the events that
        change nothing else in one statement; the others (`order.anonymized`, an order asking to be
        forgotten, and every event of their orders, so an order's events stay in order) are returned,
        for `order_changed` one by one."""

        def copy_only(event: Event) -> bool:
            data = event.data
            return not isinstance(data, OrderLifecycleData) or (
                event.type != ORDER_ANONYMIZED
                and not (data.order.request_to_be_forgotten and not data.order.anonymized)
            )

        plain, rest = split_by_subject(events, copy_only)
        seen = [(event, self._copy(event, event.data)) for event in plain if isinstance(event.data, OrderLifecycleData)]
        if seen:
            await self._ports.store.record_orders(conn, seen)
        return rest

    async def order_changed(self, conn: Connection, event: Event, data: OrderLifecycleData) -> None:
        """An order's lifecycle event (in the consumer's transaction): the copy keeps the newest
        sequence's subject, and an anonymized order keeps none; `order.anonymized` starts its erasure, and
        an order whose customer asked to be forgotten has one waiting until then. It keeps since when
        order_api says the order may be anonymized, for retention; a deleted order is gone from order_api,
        so nothing is left there for retention to anonymize."""
        order = data.order
        customer = order.customer
        if event.type == ORDER_ANONYMIZED:
            await self._erasures.order_anonymized(conn, data)
        elif order.request_to_be_forgotten and not order.anonymized:
            await self._erasures.forget_requested(conn, data.order_id, customer.id if customer is not None else None)
        await self._ports.store.record_order(conn, event, self._copy(event, data))

    def _copy(self, event: Event, data: OrderLifecycleData) -> KnownOrder:
        """What the copy keeps of the order as the event shows it."""
        order = data.order
        customer = order.customer
        anonymized = order.anonymized
        return KnownOrder(
            order_id=data.order_id,
            sequence=data.sequence,
            email_hash=None if anonymized else email_hash(self._key, order.email),
            customer_id=None if anonymized or customer is None else customer.id,
            anonymized=anonymized,
            eligible_since=None if event.type == ORDER_DELETED else order.eligible_since,
        )
