"""What every change of an order does: lock the order (checking the version the caller saw) and add its
lifecycle event to the outbox, or refuse the change when that event would be too large to publish.

Every change is stored through `save_change` (a new order: `insert_order`), which keeps the order's
`eligible_since` up to date (domain/anonymization.py), so each published snapshot says since when the
order may be anonymized.

An anonymized order stays so: a change that would put personal data back into it is refused.

Forget-when-eligible: a change that leaves an order whose customer asked to be forgotten
(`request_to_be_forgotten`) eligible for anonymization anonymizes it too, in the change's transaction,
after the change's own event (`anonymize`, the one step the anonymization use case takes as well).
Anonymizing the last order a waiting customer erasure waited for masks the customer's records too, and
the last order of a checkout record masks that record (service/customer_erasure.py).
"""

from datetime import UTC, datetime

from services.order_api.domain.anonymization import check_still_masked, mask_order, to_forget_now, with_eligible_since
from services.order_api.domain.customers import as_seen_without_read
from services.order_api.domain.limits import check_event_size
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.customer_erasure import finish_customer
from services.order_api.service.errors import OrderNotFound, StaleVersion
from services.order_api.service.ports import Tables
from shared.events import Event
from shared.logging import current_correlation_id
from shared.orders import ORDER_ANONYMIZED, OrderLifecycleData, OrderSnapshot
from shared.services import ORDER_API
from shared.topics import ORDERS_EVENTS


def as_seen(stored: StoredOrder, may_read: bool) -> StoredOrder:
    """The order as its caller may see it: without its customer record for one that may not read orders."""
    return stored if may_read else StoredOrder(as_seen_without_read(stored.order), stored.sequence)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def lock_order(tables: Tables, order_id: int, if_match: int | None = None) -> StoredOrder:
    """The order, locked for this transaction's change; `if_match` names the version the caller saw."""
    stored = await tables.orders.fetch(order_id, for_update=True)
    if stored is None:
        raise OrderNotFound(order_id)
    if if_match is not None and if_match != stored.sequence:
        raise StaleVersion(stored.sequence)
    return stored


def lifecycle_body(order_id: int, sequence: int, document: str) -> bytes:
    """An `order.*` event's body from the order's JSON: what `OrderLifecycleData.model_dump_json()` writes
    (its fields in their declared order, compact), without serializing the order again."""
    return f'{{"order_id":{order_id},"sequence":{sequence},"order":{document}}}'.encode()


async def lock_order_with_id(tables: Tables, order_id: int, if_match: int | None = None) -> tuple[StoredOrder, int]:
    """`lock_order`, and a new object id for the change (a refund, a transaction) in the same round trip."""
    locked = await tables.orders.fetch_for_change(order_id)
    if locked is None:
        raise OrderNotFound(order_id)
    stored, object_id = locked
    if if_match is not None and if_match != stored.sequence:
        raise StaleVersion(stored.sequence)
    return stored, object_id


async def insert_order(
    tables: Tables, order: OrderSnapshot, fingerprint: str | None, max_event_bytes: int, customer_version: str | None
) -> StoredOrder | None:
    """Store a new order (its first version, eligible since its creation when it is created so) with its
    `order.created` event, counted on its customer's record at `customer_version` (`Orders.insert`;
    None, storing nothing, when the record moved on), or refuse it when that event would be too large
    to publish; then anonymize it if its customer asked to be forgotten and it is eligible already (as
    `publish_change`)."""
    order = with_eligible_since(order)
    if order.anonymized:
        check_still_masked(order)

    def created(first: StoredOrder) -> Event:
        return order_event("order.created", first, max_event_bytes)

    first = await tables.orders.insert(order, fingerprint, created, customer_version=customer_version)
    if first is None or not to_forget_now(order):
        return first
    return await anonymize(tables, first, order.updated_at, max_event_bytes)


async def save_change(tables: Tables, event_type: str, order: OrderSnapshot, max_event_bytes: int) -> StoredOrder:
    """Store the changed (locked) order as its next version and publish the change (`publish_change`)."""
    return await publish_change(tables, event_type, await _save(tables, order), max_event_bytes)


async def _save(tables: Tables, order: OrderSnapshot) -> StoredOrder:
    return await tables.orders.save(with_eligible_since(order))


async def publish_change(tables: Tables, event_type: str, stored: StoredOrder, max_event_bytes: int) -> StoredOrder:
    """Add the change's event to the outbox, or refuse the change (rolling its transaction back); then
    anonymize the order if its customer asked to be forgotten and the change made it eligible. The order
    as it now stands (its anonymized version, when it was). A change that would put personal data back
    into an anonymized order is refused."""
    if stored.order.anonymized:
        check_still_masked(stored.order)
    await enqueue_event(tables, event_type, stored, max_event_bytes)
    if not to_forget_now(stored.order):
        return stored
    return await anonymize(tables, stored, stored.order.updated_at, max_event_bytes)


async def anonymize(tables: Tables, stored: StoredOrder, now: datetime, max_event_bytes: int) -> StoredOrder:
    """Mask the locked order (eligible: the caller checked), store it as its next version and publish
    `order.anonymized` with the masked snapshot; an anonymized order as it is, with no event."""
    if stored.order.anonymized:
        return stored
    changed = await _save(tables, mask_order(stored.order, now))
    await enqueue_event(tables, ORDER_ANONYMIZED, changed, max_event_bytes)
    if changed.order.customer is not None:  # its customer's record may go with its last order
        await finish_customer(tables, changed.order.customer.id, now)
    return changed


async def enqueue_event(tables: Tables, event_type: str, stored: StoredOrder, max_event_bytes: int) -> None:
    """Add the order's event to the outbox, or refuse the change when it would be too large to publish."""
    await tables.outbox.enqueue(ORDERS_EVENTS, order_event(event_type, stored, max_event_bytes))


def order_event(event_type: str, stored: StoredOrder, max_event_bytes: int) -> Event:
    """The order's lifecycle event, refused (422 order_too_large) when it would be too large to publish."""
    order: OrderSnapshot = stored.order
    event = Event.new(
        event_type,
        ORDER_API.name,
        str(order.id),
        OrderLifecycleData(order_id=order.id, sequence=stored.sequence, order=order),
        sequence=stored.sequence,
        correlation_id=current_correlation_id(),
        # The store has just serialized the order: the event reuses that text.
        body=lifecycle_body(order.id, stored.sequence, stored.document) if stored.document is not None else None,
    )
    # Measured on the bytes the outbox stores and the relay publishes (Event.body serializes once).
    check_event_size(len(event.body()), max_event_bytes)
    return event
