"""A customer's erasure (`customer.erase_requested`, design section 4, as Shopify's customers/redact):
the customer's record and the checkout records with its email are masked (domain.anonymization's
`mask_customer`) in one transaction, once none of the customer's orders is still to be anonymized, and
every request that asked for it is answered in that transaction (`customer.erased` on
anonymization.events through the outbox, key = the customer id, with the records masked).

Choice (recorded in docs/issue10_design.md): the request waits while an order of the customer is not
anonymized (one waiting to become eligible, or one whose `order.anonymize_requested` is not applied
yet: the two facts travel on different keys, in no order between them), in `customer_erasures`, next
to any other request waiting on the same customer; the anonymization of the customer's last such order
(`finish_customer`, called by `lifecycle.anonymize`) masks the records and answers them all. Both sides
lock the customer's row first, so one of them always sees the other's work. A customer order_api does
not know, or one masked before, is answered at once with nothing erased (`{"customers": 0}`): nothing
of it is left, and the request can complete.

A checkout record (a guest's, made for its orders: domain.anonymization's `goes_with_last_order`) is
masked by the anonymization of its last order not yet anonymized, with no request: nothing but those
orders needs it, and an erased order would otherwise leave its guest's name, email and phone there.
No request waits on it, so nothing is answered.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from services.order_api.domain.anonymization import checkout_email, goes_with_last_order, left_to_mask, mask_customer
from services.order_api.service.ports import Database, Tables
from shared.erasure import CUSTOMER_ERASED, CustomerErased, CustomerEraseRequestedFact
from shared.events import Event
from shared.logging import get_logger
from shared.orders import CustomerSnapshot
from shared.services import ORDER_API
from shared.topics import ANONYMIZATION_EVENTS

# The table a customer's receipt counts its masked records in.
CUSTOMERS: Final = "customers"

log = get_logger(__name__)


async def _answer(
    tables: Tables, customer_id: int, request_ids: Sequence[uuid.UUID], rows: dict[str, int], now: datetime
) -> None:
    """`customer.erased` for the requests (none: nothing is published)."""
    if not request_ids:
        return
    erased = CustomerErased(customer_id=customer_id, request_ids=list(request_ids), rows=rows, erased_at=now)
    event = Event.new(CUSTOMER_ERASED, ORDER_API.name, str(customer_id), erased)
    await tables.outbox.enqueue(ANONYMIZATION_EVENTS, event)


async def _erase(
    tables: Tables,
    customer: CustomerSnapshot,
    now: datetime,
    *,
    asked: Sequence[uuid.UUID] = (),
    with_checkouts: bool = True,
) -> dict[str, int]:
    """Mask the (locked) customer's record and, `with_checkouts`, its email's checkout records (those
    not masked yet); answer the waiting requests and those `asked` now. The records masked, by table."""
    email = checkout_email(customer) if with_checkouts else None
    checkouts = await tables.customer_erasures.lock_checkout_records(email) if email is not None else []
    records = {record.id: record for record in [customer, *checkouts]}
    masked = [masked for record in records.values() if (masked := mask_customer(record)) not in (None, record)]
    count = await tables.customer_erasures.save_masked(
        [record.model_copy(update={"updated_at": now}) for record in masked]
    )
    rows = {CUSTOMERS: count}
    waited = await tables.customer_erasures.forget_waiting(customer.id)
    await _answer(tables, customer.id, list(dict.fromkeys([*waited, *asked])), rows, now)
    return rows


async def finish_customer(tables: Tables, customer_id: int, now: datetime) -> None:
    """After an order of the customer was anonymized in this transaction, once no other order of it is
    left to anonymize: mask the customer's records if erasures wait (and answer them), or the record
    alone if it is a checkout record."""
    customer = await tables.customer_erasures.lock_customer(customer_id)
    if customer is None:
        return
    waits = bool(await tables.customer_erasures.waiting(customer_id))
    if not goes_with_last_order(customer, erasure_waits=waits):
        return
    if await tables.customer_erasures.has_orders_to_anonymize(customer_id):
        return
    rows = await _erase(tables, customer, now, with_checkouts=waits)
    log.info("customer erased after its last order", customer_id=customer_id, rows=rows)


class CustomerErasureService:
    def __init__(self, database: Database, *, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock

    async def erase_customer(self, fact: CustomerEraseRequestedFact) -> dict[str, int] | None:
        """Mask the customer's records now and answer the request (the records masked, by table), or
        record the request as waiting for the customer's orders (None). A customer order_api does not
        know, or one masked before, is answered at once with 0 records."""
        now = self.clock()
        async with self.database.transaction() as tables:
            customer = await tables.customer_erasures.lock_customer(fact.customer_id)
            if customer is None:
                rows = {CUSTOMERS: 0}
                await _answer(tables, fact.customer_id, [fact.request_id], rows, now)
                log.info("customer to erase is unknown", customer_id=fact.customer_id)
                return rows
            if left_to_mask(customer) and await tables.customer_erasures.has_orders_to_anonymize(fact.customer_id):
                await tables.customer_erasures.wait(fact.customer_id, fact.request_id, now)
                log.info("customer erasure waits for its orders", customer_id=fact.customer_id)
                return None
            rows = await _erase(tables, customer, now, asked=[fact.request_id])
        log.info("customer erased", customer_id=fact.customer_id, rows=rows)
        return rows
