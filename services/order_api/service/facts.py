"""What other services report on orders.ingest, applied: payments, refunds' answers, fulfilments, the
cancellation worker's decisions and returned goods change orders (and emit their events); catalog
variants, customer accounts and the cancellation reference data fill the read models orders are built
from and guest requests are checked against.

Each runs in the transaction its Database gives: the ingest consumer's, so the change, its event and
the fact's processed-event record commit together.
"""

from collections.abc import Callable
from datetime import datetime

from services.order_api.domain.cancellation import apply_decision, record_return
from services.order_api.domain.fulfillments import cancel_fulfillment, fulfil, fulfillment_event
from services.order_api.domain.payments import PaymentKind, apply_payment, is_recorded
from services.order_api.domain.refunds import settle_refund
from services.order_api.service.lifecycle import lock_order, lock_order_with_id, save_change, utc_now
from services.order_api.service.ports import Database
from shared.cancellations import CancellationDecision, CancellationReason, ReturnReceived, ShippingCompany
from shared.logging import get_logger
from shared.order_facts import CustomerFact, FulfillmentCancelledFact, FulfillmentCreatedFact, PaymentFact, VariantFact

log = get_logger(__name__)


class FactService:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    async def apply_payment(self, kind: PaymentKind, fact: PaymentFact) -> None:
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, fact.order_id)
            if is_recorded(stored.order, fact):
                log.info("payment answer recorded before", order_id=fact.order_id, ledger_entry=fact.ledger_entry_id)
                return
            transaction_id = await tables.orders.next_object_id()
            order, event_type = apply_payment(stored.order, kind, fact, transaction_id, self.clock())
            await save_change(tables, event_type, order, self.max_event_bytes)

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
            await save_change(tables, event_type, order, self.max_event_bytes)

    async def settle_refund(self, fact: PaymentFact, *, succeeded: bool) -> None:
        """The payment service's answer to a refund command: the refund succeeded or failed."""
        async with self.database.transaction() as tables:
            stored, transaction_id = await lock_order_with_id(tables, fact.order_id)
            settled = settle_refund(
                stored.order, fact, succeeded=succeeded, transaction_id=transaction_id, now=self.clock()
            )
            if settled is None:
                log.info("refund answer recorded before", order_id=fact.order_id, ledger_entry=fact.ledger_entry_id)
                return
            order, event_type = settled
            await save_change(tables, event_type, order, self.max_event_bytes)

    async def apply_decision(self, decision: CancellationDecision) -> None:
        """The cancellation worker approved or rejected a guest request."""
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, decision.order_id)
            refund_id = await tables.orders.next_object_id()
            order, event_type = apply_decision(stored.order, decision, refund_id, self.clock())
            await save_change(tables, event_type, order, self.max_event_bytes)

    async def record_return(self, received: ReturnReceived) -> None:
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, received.order_id)
            order = record_return(stored.order, received, self.clock())
            await save_change(tables, "order.return_received", order, self.max_event_bytes)

    async def record_reason(self, reason: CancellationReason) -> None:
        async with self.database.transaction() as tables:
            await tables.reference_data.upsert_reason(reason)

    async def record_shipping_company(self, company: ShippingCompany) -> None:
        async with self.database.transaction() as tables:
            await tables.reference_data.upsert_shipping_company(company)

    async def record_variant(self, variant: VariantFact) -> None:
        async with self.database.transaction() as tables:
            await tables.catalog.upsert_variant(variant)

    async def record_customer(self, customer: CustomerFact) -> None:
        async with self.database.transaction() as tables:
            await tables.customers.upsert(customer)
