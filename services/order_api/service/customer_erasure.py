"""A customer's erasure (`customer.erase_requested`, design section 4, as Shopify's customers/redact):
the customer's record and the checkout records with its email are masked (domain.anonymization's
`mask_customer`) in one transaction, once none of the customer's orders is still to be anonymized.

Choice (recorded in docs/issue10_design.md): the request waits while an order of the customer is not
anonymized (one waiting to become eligible, or one whose `order.anonymize_requested` is not applied
yet: the two facts travel on different keys, in no order between them), in `customer_erasures`; the
anonymization of the customer's last such order (`finish_customer`, called by `lifecycle.anonymize`)
masks the records in its transaction. Both sides lock the customer's row first, so one of them always
sees the other's work.

A checkout record (a guest's, made for its orders: domain.anonymization's `goes_with_last_order`) is
masked by the anonymization of its last order not yet anonymized, with no request: nothing but those
orders needs it, and an erased order would otherwise leave its guest's name, email and phone there.
"""

from collections.abc import Callable
from datetime import datetime

from services.order_api.domain.anonymization import checkout_email, goes_with_last_order, mask_customer
from services.order_api.service.errors import CustomerNotFound
from services.order_api.service.ports import Database, Tables
from shared.erasure import CustomerEraseRequestedFact
from shared.logging import get_logger
from shared.orders import CustomerSnapshot

log = get_logger(__name__)


async def _mask_records(
    tables: Tables, customer: CustomerSnapshot, now: datetime, *, with_checkouts: bool = True
) -> int:
    """Mask the (locked) customer's record and, `with_checkouts`, its email's checkout records; forget a
    waiting erasure. How many records."""
    email = checkout_email(customer) if with_checkouts else None
    checkouts = await tables.customer_erasures.lock_checkout_records(email) if email is not None else []
    records = {record.id: record for record in [customer, *checkouts]}
    masked = [record for record in map(mask_customer, records.values()) if record is not None]
    rows = await tables.customer_erasures.save_masked(
        [record.model_copy(update={"updated_at": now}) for record in masked]
    )
    await tables.customer_erasures.forget_waiting(customer.id)
    return rows


async def finish_customer(tables: Tables, customer_id: int, now: datetime) -> None:
    """After an order of the customer was anonymized in this transaction, once no other order of it is
    left to anonymize: mask the customer's records if its erasure waits, or the record alone if it is a
    checkout record."""
    customer = await tables.customer_erasures.lock_customer(customer_id)
    if customer is None:
        return
    waits = await tables.customer_erasures.waiting(customer_id) is not None
    if not goes_with_last_order(customer, erasure_waits=waits):
        return
    if await tables.customer_erasures.has_orders_to_anonymize(customer_id):
        return
    rows = await _mask_records(tables, customer, now, with_checkouts=waits)
    log.info("customer erased after its last order", customer_id=customer_id, customers=rows)


class CustomerErasureService:
    def __init__(self, database: Database, *, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock

    async def erase_customer(self, fact: CustomerEraseRequestedFact) -> int | None:
        """Mask the customer's records now (how many), or record the erasure as waiting for its orders
        (None). CustomerNotFound for a customer order_api does not know."""
        async with self.database.transaction() as tables:
            customer = await tables.customer_erasures.lock_customer(fact.customer_id)
            if customer is None:
                raise CustomerNotFound(fact.customer_id)
            if await tables.customer_erasures.has_orders_to_anonymize(fact.customer_id):
                await tables.customer_erasures.wait(fact.customer_id, fact.request_id, self.clock())
                log.info("customer erasure waits for its orders", customer_id=fact.customer_id)
                return None
            rows = await _mask_records(tables, customer, self.clock())
        log.info("customer erased", customer_id=fact.customer_id, customers=rows)
        return rows
