"""The anonymizer's copy of orders: whose data each holds (a keyed hash of the email and the customer
id, never the email), and the audit log of what it saw; `order.anonymized` opens the order's erasure."""

from services.anonymizer.domain import KnownOrder, email_hash
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.ports import Ports
from shared.db import Connection
from shared.events import Event
from shared.orders import ORDER_ANONYMIZED, OrderLifecycleData

ORDER_DELETED = "order.deleted"


class OrderCopyService:
    def __init__(self, ports: Ports, erasures: ErasureService) -> None:
        self._ports = ports
        self._erasures = erasures
        self._key = ports.settings.email_hash_key.get_secret_value().encode()

    async def order_changed(self, conn: Connection, event: Event, data: OrderLifecycleData) -> None:
        """An order's lifecycle event (in the consumer's transaction): the copy keeps the newest
        sequence's subject, and an anonymized order keeps none; `order.anonymized` starts its erasure, and
        an order whose customer asked to be forgotten has one waiting until then. It keeps since when
        order_api says the order may be anonymized, for retention; a deleted order is gone from order_api,
        so nothing is left there for retention to anonymize."""
        order = data.order
        customer = order.customer
        anonymized = order.anonymized
        if event.type == ORDER_ANONYMIZED:
            await self._erasures.order_anonymized(conn, data)
        elif order.request_to_be_forgotten and not anonymized:
            await self._erasures.forget_requested(conn, data.order_id, customer.id if customer is not None else None)
        await self._ports.store.record_order(
            conn,
            event,
            KnownOrder(
                order_id=data.order_id,
                sequence=data.sequence,
                email_hash=None if anonymized else email_hash(self._key, order.email),
                customer_id=None if anonymized or customer is None else customer.id,
                anonymized=anonymized,
                eligible_since=None if event.type == ORDER_DELETED else order.eligible_since,
            ),
        )
