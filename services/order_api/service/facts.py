"""What other services report on orders.ingest, applied: payments and fulfilments change orders (and
emit their events); catalog variants and customer accounts fill the read models orders are built from.

Each runs in the transaction its Database gives: the ingest consumer's, so the change, its event and
the fact's processed-event record commit together.
"""

from collections.abc import Callable
from datetime import datetime

from services.order_api.domain.fulfillments import cancel_fulfillment, fulfil, fulfillment_event
from services.order_api.domain.payments import PaymentKind, apply_payment
from services.order_api.service.lifecycle import lock_order, publish_change, utc_now
from services.order_api.service.ports import Database
from shared.orders import CustomerFact, FulfillmentCancelledFact, FulfillmentCreatedFact, PaymentFact, VariantFact


class FactService:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    async def apply_payment(self, kind: PaymentKind, fact: PaymentFact) -> None:
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, fact.order_id)
            transaction_id = await tables.orders.next_object_id()
            order, event_type = apply_payment(stored.order, kind, fact, transaction_id, self.clock())
            await publish_change(tables, event_type, await tables.orders.save(order), self.max_event_bytes)

    async def apply_fulfillment(self, fact: FulfillmentCreatedFact | FulfillmentCancelledFact) -> None:
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, fact.order_id)
            now = self.clock()
            if isinstance(fact, FulfillmentCreatedFact):
                order = fulfil(stored.order, fact, now)
                event_type = fulfillment_event(order)
            else:
                order = cancel_fulfillment(stored.order, fact.fulfillment_id, now)
                event_type = "order.updated"
            await publish_change(tables, event_type, await tables.orders.save(order), self.max_event_bytes)

    async def record_variant(self, variant: VariantFact) -> None:
        async with self.database.transaction() as tables:
            await tables.catalog.upsert_variant(variant)

    async def record_customer(self, customer: CustomerFact) -> None:
        async with self.database.transaction() as tables:
            await tables.customers.upsert(customer)
