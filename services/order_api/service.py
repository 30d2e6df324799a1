"""order_api's use cases: one transaction each, the change and its outbox event together.

Every dialect's routes (api/) and the ingest handlers (handlers.py) call these, so an order placed or
changed through any door follows the same rules and emits the same events. Every change is refused
(`order_too_large`) when its event would be larger than `max_event_bytes` (the ORDER_API_MAX_EVENT_BYTES
setting), before anything of it is stored: an event Kafka cannot take would never be published.

Customers and callers that may not read orders (`may_read` false: an API key with orders:write only):
- An order is attached to an existing customer, a registered account or a checkout record, only when
  the create names it by id, and only for a caller that may read orders (else 403 on the id): the
  order then takes and shows that customer's details.
- An email never attaches an order to a registered account: it finds the checkout record with that
  email (case-insensitively), so that a guest's orders stay together, or records a new one.
- A caller that may not read is shown every order it creates or changes without its customer record,
  which holds what other orders or the account's owner gave, never only what this caller sent.
"""

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import asyncpg

from services.order_api import store
from services.order_api.domain.building import NewOrderIds, build_order, object_ids_needed
from services.order_api.domain.changes import OrderChanges, check_deletable, close, reopen, update
from services.order_api.domain.customers import as_seen_without_read
from services.order_api.domain.errors import OrderRuleError, ReadAccessRequired
from services.order_api.domain.fulfillments import cancel_fulfillment, fulfil, fulfillment_event
from services.order_api.domain.limits import check_event_size
from services.order_api.domain.money import money
from services.order_api.domain.payments import PaymentKind
from services.order_api.domain.payments import apply_payment as apply_payment_fact
from shared.db import Connection
from shared.events import Event
from shared.logging import current_correlation_id
from shared.orders import (
    CustomerSnapshot,
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    OrderDraft,
    OrderLifecycleData,
    OrderSnapshot,
    PaymentFact,
)
from shared.outbox import enqueue
from shared.services import ORDER_API
from shared.topics import ORDERS_EVENTS


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"there is no order {order_id}")
        self.order_id = order_id


class StaleVersion(Exception):
    """The caller's If-Match names a version the order has moved past (HTTP 412)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the order is at version {current}")
        self.current = current


class UpstreamConflict(Exception):
    """An order with this upstream id exists and was created from a different request (HTTP 409)."""

    def __init__(self, upstream_id: str, order_id: int) -> None:
        super().__init__(f"upstream id {upstream_id!r} already names order {order_id}")
        self.upstream_id = upstream_id
        self.order_id = order_id


def _now() -> datetime:
    return datetime.now(UTC)


def _as_seen(order: OrderSnapshot, may_read: bool) -> OrderSnapshot:
    return order if may_read else as_seen_without_read(order)


async def _publish(
    conn: Connection, event_type: str, order: OrderSnapshot, sequence: int, max_event_bytes: int
) -> None:
    """Add the change's event to the outbox, or refuse the change (rolling its transaction back)."""
    event = Event.new(
        event_type,
        ORDER_API.name,
        str(order.id),
        OrderLifecycleData(order_id=order.id, sequence=sequence, order=order),
        sequence=sequence,
        correlation_id=current_correlation_id(),
    )
    # Measured on the bytes the outbox stores and the relay publishes (Event.body serializes once).
    check_event_size(len(event.body()), max_event_bytes)
    await enqueue(conn, ORDERS_EVENTS, event)


# ---- create ---------------------------------------------------------------------------------------


async def create_order(
    pool: asyncpg.Pool,
    draft: OrderDraft,
    fingerprint: str | None = None,
    *,
    may_read: bool,
    max_event_bytes: int,
) -> tuple[OrderSnapshot, bool]:
    """Place an order and emit `order.created`. Returns the order as the caller may see it and whether
    it is new: a create repeated with the same upstream id and the same request returns the first
    order instead."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            order, created = await place_order(
                conn, draft, fingerprint, may_read=may_read, max_event_bytes=max_event_bytes
            )
    except UpstreamConflict as conflict:
        if conflict.order_id:
            raise
        # A concurrent create with the same upstream id committed first (order_id 0: the insert's unique
        # violation). Now that it is visible, this request is its repeat (answered with its order) or a clash.
        async with pool.acquire() as conn, conn.transaction():
            order, created = await place_order(
                conn, draft, fingerprint, may_read=may_read, max_event_bytes=max_event_bytes
            )
    return _as_seen(order, may_read), created


async def place_order(
    conn: Connection, draft: OrderDraft, fingerprint: str | None = None, *, may_read: bool, max_event_bytes: int
) -> tuple[OrderSnapshot, bool]:
    """`create_order` inside the caller's transaction (the ingest consumer's, for `order.placed`)."""
    if draft.customer is not None and draft.customer.id is not None and not may_read:
        # Checked first, so that neither an unknown id (422) nor a repeated create tells such a caller
        # anything about the customers there are.
        raise ReadAccessRequired(
            "customer.id",
            "forbidden",
            "naming a customer by id attaches the order to that customer and shows their details",
        )
    if draft.upstream_id is not None:
        existing = await store.fetch_by_upstream_id(conn, draft.upstream_id)
        if existing is not None:
            stored, first_fingerprint = existing
            if fingerprint is not None and fingerprint == first_fingerprint:
                return stored.order, False
            raise UpstreamConflict(draft.upstream_id, stored.order.id)
    now = _now()
    customer = await _resolve_customer(conn, draft, now)
    variants = await store.fetch_variants(
        conn, [item.variant_id for item in draft.line_items if item.variant_id is not None]
    )
    order_id, order_number, object_ids = await store.allocate_ids(conn, object_ids_needed(draft))
    ids = NewOrderIds(order_id, order_number, secrets.token_hex(16), iter(object_ids))
    order = build_order(draft, ids, now, variants, customer)
    if customer is not None:
        counted = await store.record_customer_order(conn, customer.id, order)
        spent = money(counted.total_spent, order.currency)
        order = order.model_copy(update={"customer": counted.model_copy(update={"total_spent": spent})})
    try:
        await store.insert_order(conn, order, fingerprint)
    except asyncpg.UniqueViolationError as error:  # a concurrent create with the same upstream id won
        raise UpstreamConflict(draft.upstream_id or "", 0) from error
    await _publish(conn, "order.created", order, 1, max_event_bytes)
    return order, True


async def _resolve_customer(conn: Connection, draft: OrderDraft, now: datetime) -> CustomerSnapshot | None:
    """The order's customer: an existing one named by id (unknown: 422), else the checkout record
    found or made from the new customer's details or the order's email; None when there is nothing
    to go on."""
    if draft.customer is not None and draft.customer.id is not None:
        customer = await store.fetch_customer(conn, draft.customer.id)
        if customer is None:
            raise OrderRuleError("customer.id", "unknown_customer", f"there is no customer {draft.customer.id}")
        return customer
    details = draft.customer
    if details is None and draft.email:
        details = draft.customer_from_email()
    if details is None or not (details.email or details.first_name or details.last_name or details.phone):
        return None
    return await store.find_or_create_customer(conn, details, now)


# ---- read -----------------------------------------------------------------------------------------


async def get_order(pool: asyncpg.Pool, order_id: int) -> store.StoredOrder:
    async with pool.acquire() as conn:
        stored = await store.fetch_order(conn, order_id)
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


async def find_guest_order(pool: asyncpg.Pool, order_number: int, email: str) -> OrderSnapshot | None:
    """A guest's own order, by its number and the exact email it was placed with; None for anything
    else, whatever the reason, after the same work."""
    async with pool.acquire() as conn:
        return await store.fetch_guest_order(conn, order_number, email)


# ---- changes --------------------------------------------------------------------------------------

Change = Callable[[OrderSnapshot, datetime], OrderSnapshot]


async def _lock_order(conn: Connection, order_id: int, if_match: int | None = None) -> store.StoredOrder:
    """The order, locked for this transaction's change; `if_match` names the version the caller saw."""
    stored = await store.fetch_order(conn, order_id, for_update=True)
    if stored is None:
        raise OrderNotFound(order_id)
    if if_match is not None and if_match != stored.sequence:
        raise StaleVersion(stored.sequence)
    return stored


async def change_order(
    pool: asyncpg.Pool,
    order_id: int,
    change: Change,
    event_type: str | Callable[[OrderSnapshot], str],
    *,
    may_read: bool,
    max_event_bytes: int,
    if_match: int | None = None,
) -> store.StoredOrder:
    """Apply `change` to the locked order, store it, emit the event; `if_match` guards against lost
    updates. Returns the changed order as the caller may see it."""
    async with pool.acquire() as conn, conn.transaction():
        stored = await _lock_order(conn, order_id, if_match)
        changed = change(stored.order, _now())
        sequence = await store.save_order(conn, changed)
        kind = event_type if isinstance(event_type, str) else event_type(changed)
        await _publish(conn, kind, changed, sequence, max_event_bytes)
    return store.StoredOrder(_as_seen(changed, may_read), sequence)


async def update_order(
    pool: asyncpg.Pool,
    order_id: int,
    changes: OrderChanges,
    *,
    may_read: bool,
    max_event_bytes: int,
    if_match: int | None = None,
) -> store.StoredOrder:
    try:
        return await change_order(
            pool,
            order_id,
            lambda order, now: update(order, changes, now),
            "order.updated",
            may_read=may_read,
            max_event_bytes=max_event_bytes,
            if_match=if_match,
        )
    except asyncpg.UniqueViolationError as error:  # the new upstream id already names another order
        raise UpstreamConflict(changes.upstream_id or "", 0) from error


async def close_order(
    pool: asyncpg.Pool, order_id: int, *, may_read: bool, max_event_bytes: int, if_match: int | None = None
) -> store.StoredOrder:
    return await change_order(
        pool,
        order_id,
        close,
        "order.closed",
        may_read=may_read,
        max_event_bytes=max_event_bytes,
        if_match=if_match,
    )


async def reopen_order(
    pool: asyncpg.Pool, order_id: int, *, may_read: bool, max_event_bytes: int, if_match: int | None = None
) -> store.StoredOrder:
    return await change_order(
        pool,
        order_id,
        reopen,
        "order.reopened",
        may_read=may_read,
        max_event_bytes=max_event_bytes,
        if_match=if_match,
    )


async def delete_order(pool: asyncpg.Pool, order_id: int, *, max_event_bytes: int, if_match: int | None = None) -> None:
    """Delete the order; `order.deleted` carries its last snapshot so consumers can drop their copies."""
    async with pool.acquire() as conn, conn.transaction():
        stored = await _lock_order(conn, order_id, if_match)
        check_deletable(stored.order)
        await store.delete_order(conn, order_id)
        last = stored.order.model_copy(update={"updated_at": _now()})
        await _publish(conn, "order.deleted", last, stored.sequence + 1, max_event_bytes)


# ---- facts from other services --------------------------------------------------------------------


async def apply_payment(conn: Connection, kind: PaymentKind, fact: PaymentFact, *, max_event_bytes: int) -> None:
    """Record a payment fact inside the caller's (the idempotent consumer's) transaction."""
    stored = await _lock_order(conn, fact.order_id)
    order, event_type = apply_payment_fact(stored.order, kind, fact, await store.next_object_id(conn), _now())
    await _publish(conn, event_type, order, await store.save_order(conn, order), max_event_bytes)


async def apply_fulfillment(
    conn: Connection, fact: FulfillmentCreatedFact | FulfillmentCancelledFact, *, max_event_bytes: int
) -> None:
    stored = await _lock_order(conn, fact.order_id)
    now = _now()
    if isinstance(fact, FulfillmentCreatedFact):
        order = fulfil(stored.order, fact, now)
        event_type = fulfillment_event(order)
    else:
        order = cancel_fulfillment(stored.order, fact.fulfillment_id, now)
        event_type = "order.updated"
    await _publish(conn, event_type, order, await store.save_order(conn, order), max_event_bytes)


async def list_orders(
    pool: asyncpg.Pool,
    query: store.OrderQuery,
    *,
    limit: int,
    direction: Literal["asc", "desc"] = "desc",
    after_id: int | None = None,
    before_id: int | None = None,
    offset: int = 0,
) -> list[OrderSnapshot]:
    async with pool.acquire() as conn:
        return await store.list_orders(
            conn, query, limit=limit, direction=direction, after_id=after_id, before_id=before_id, offset=offset
        )


async def count_orders(pool: asyncpg.Pool, query: store.OrderQuery) -> int:
    async with pool.acquire() as conn:
        return await store.count_orders(conn, query)
