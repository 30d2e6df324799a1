"""Placing, reading, listing and changing orders.

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
from dataclasses import dataclass
from datetime import datetime

from services.order_api.domain.building import NewOrderIds, build_order, object_ids_needed
from services.order_api.domain.changes import OrderChanges, check_deletable, close, reopen, update
from services.order_api.domain.customers import with_counted_customer
from services.order_api.domain.errors import OrderRuleError, ReadAccessRequired
from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.errors import OrderNotFound, UpstreamConflict
from services.order_api.service.lifecycle import (
    as_seen,
    enqueue_event,
    insert_order,
    lock_order,
    save_change,
    utc_now,
)
from services.order_api.service.ports import Database, NewIds, OrderCustomer, Tables, UpstreamIdTaken
from shared.fingerprints import fingerprint
from shared.order_facts import CustomerDraft, OrderDraft
from shared.orders import OrderSnapshot

# A change of an order at a moment, as the domain makes it.
Change = Callable[[OrderSnapshot, datetime], OrderSnapshot]


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """What a create made: the order with its version, and whether it is new (False: the create
    repeated a first one with the same upstream id and the same content, and this is that order)."""

    stored: StoredOrder
    created: bool


class OrderService:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    # ---- create -----------------------------------------------------------------------------------

    async def create_order(self, draft: OrderDraft, *, may_read: bool) -> PlacedOrder:
        """Place an order and emit `order.created`; the order as the caller may see it. A create repeated
        with the same upstream id and the same content returns the first order instead."""
        try:
            placed = await self.place_order(draft, may_read=may_read)
        except UpstreamConflict as conflict:
            if conflict.order_id:
                raise
            # A concurrent create with the same upstream id committed first (order_id 0: the insert
            # found the id taken). Now that it is visible, this request is its repeat (answered with its
            # order) or a clash.
            placed = await self.place_order(draft, may_read=may_read)
        return PlacedOrder(as_seen(placed.stored, may_read), placed.created)

    async def place_order(self, draft: OrderDraft, *, may_read: bool) -> PlacedOrder:
        """`create_order` without seeing it as the caller (also the ingest consumer's `order.placed`,
        inside the consumer's transaction)."""
        if draft.customer is not None and draft.customer.id is not None and not may_read:
            # Checked first, so that neither an unknown id (422) nor a repeated create tells such a caller
            # anything about the customers there are.
            raise ReadAccessRequired(
                "customer.id",
                "forbidden",
                "naming a customer by id attaches the order to that customer and shows their details",
            )
        # The draft's digest tells a repeated create (same upstream id, same content) from a clash. Only
        # a create with an upstream id can be repeated.
        digest = fingerprint(draft.model_dump(mode="json")) if draft.upstream_id is not None else None
        placed = await self._place(draft, digest, locked=draft.request_to_be_forgotten)
        if placed is None:
            # Another order was counted on the customer's record between its read and this order's
            # insert: build the order again on the record as it now stands, locked this time.
            placed = await self._place(draft, digest, locked=True)
        assert placed is not None, "an insert on a locked customer's record always writes"
        return placed

    async def _place(self, draft: OrderDraft, digest: str | None, *, locked: bool) -> PlacedOrder | None:
        """`place_order` once: in a transaction with the customer's record locked (`locked`, also needed
        to anonymize the order at once), else in single statements, no transaction: read the customer
        with the order's ids, then insert the order, count it on the record and publish its event in one
        statement (two round trips, not four). Ids taken from the sequences are never given back, in a
        transaction or not. None, writing nothing, when the customer's record changed between the two."""
        scope = self.database.transaction() if locked else self.database.statements()
        async with scope as tables:
            if draft.upstream_id is not None:
                existing = await tables.orders.fetch_by_upstream_id(draft.upstream_id)
                if existing is not None:
                    stored, first_digest = existing
                    if digest == first_digest:
                        return PlacedOrder(stored, created=False)
                    raise UpstreamConflict(draft.upstream_id, stored.order.id)
            order, customer_version = await self._build(tables, draft, lock=locked)
            try:
                # Anonymized at once when created eligible by a customer who asked to be forgotten.
                placed = await insert_order(tables, order, digest, self.max_event_bytes, customer_version)
            except UpstreamIdTaken as taken:  # a concurrent create with the same upstream id won
                raise UpstreamConflict(draft.upstream_id or "", 0) from taken
        return None if placed is None else PlacedOrder(placed, created=True)

    async def _build(self, tables: Tables, draft: OrderDraft, *, lock: bool) -> tuple[OrderSnapshot, str | None]:
        """The new order, and the version of its customer's record it was built from (`OrderCustomer`)."""
        now = self.clock()
        customer, (order_id, order_number, object_ids) = await _read_customer(
            tables, draft, now, object_ids_needed(draft), lock=lock
        )
        variants = await tables.catalog.fetch_variants(
            [item.variant_id for item in draft.line_items if item.variant_id is not None]
        )
        ids = NewOrderIds(order_id, order_number, secrets.token_hex(16), iter(object_ids))
        if customer is None:
            return build_order(draft, ids, now, variants, None), None
        order = build_order(draft, ids, now, variants, customer.record)
        # Counted on the customer's record by the order's own insert.
        return with_counted_customer(order, customer.record), customer.version

    # ---- read -------------------------------------------------------------------------------------

    async def get_order(self, order_id: int) -> StoredOrder:
        async with self.database.statements() as tables:
            stored = await tables.orders.fetch(order_id)
        if stored is None:
            raise OrderNotFound(order_id)
        return stored

    async def find_guest_order(self, order_number: int, email: str) -> OrderSnapshot | None:
        """A guest's own order, by its number and the exact email it was placed with; None for anything
        else, whatever the reason, after the same work."""
        async with self.database.statements() as tables:
            found = await tables.orders.fetch_guest(order_number, email)
        return found.order if found is not None else None

    async def list_orders(self, query: OrderQuery, page: Page) -> list[OrderSnapshot]:
        async with self.database.statements() as tables:
            return await tables.orders.list(query, page)

    async def count_orders(self, query: OrderQuery) -> int:
        async with self.database.statements() as tables:
            return await tables.orders.count(query)

    async def fold_counts(self) -> int:
        """Fold the order changes recorded since the last fold into the counts by status (workers.py),
        which keeps those counts fast; how many changes."""
        async with self.database.transaction() as tables:
            return await tables.orders.fold_counts()

    # ---- changes ----------------------------------------------------------------------------------

    async def update_order(
        self,
        order_id: int,
        changes: OrderChanges | Callable[[OrderSnapshot], OrderChanges | None],
        *,
        may_read: bool,
        if_match: int | None = None,
    ) -> StoredOrder:
        """Apply `changes`, or what `changes(order)` makes of the order as it stands under its lock
        (None: nothing, and then nothing is stored or published)."""

        def change(order: OrderSnapshot, now: datetime) -> OrderSnapshot:
            wanted = changes(order) if callable(changes) else changes
            return order if wanted is None else update(order, wanted, now)

        try:
            return await self._change(order_id, change, "order.updated", may_read=may_read, if_match=if_match)
        except UpstreamIdTaken as taken:  # the new upstream id already names another order
            upstream_id = changes.upstream_id if isinstance(changes, OrderChanges) else None
            raise UpstreamConflict(upstream_id or "", 0) from taken

    async def close_order(self, order_id: int, *, may_read: bool, if_match: int | None = None) -> StoredOrder:
        return await self._change(order_id, close, "order.closed", may_read=may_read, if_match=if_match)

    async def reopen_order(self, order_id: int, *, may_read: bool, if_match: int | None = None) -> StoredOrder:
        return await self._change(order_id, reopen, "order.reopened", may_read=may_read, if_match=if_match)

    async def delete_order(self, order_id: int, *, if_match: int | None = None) -> None:
        """Delete the order; `order.deleted` carries its last snapshot so consumers can drop their copies."""
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, order_id, if_match)
            check_deletable(stored.order)
            await tables.orders.delete(order_id)
            last = stored.order.model_copy(update={"updated_at": self.clock()})
            # The deleted order is gone: nothing is left to forget, so no forget-when-eligible step.
            await enqueue_event(tables, "order.deleted", StoredOrder(last, stored.sequence + 1), self.max_event_bytes)

    async def _change(
        self, order_id: int, change: Change, event_type: str, *, may_read: bool, if_match: int | None
    ) -> StoredOrder:
        """Apply `change` to the locked order, store it, emit the event; `if_match` guards against lost
        updates. Returns the changed order as the caller may see it (unstored when `change` returned it
        as it was)."""
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, order_id, if_match)
            order = change(stored.order, self.clock())
            if order is stored.order:  # nothing changes
                return as_seen(stored, may_read)
            changed = await save_change(tables, event_type, order, self.max_event_bytes)
        return as_seen(changed, may_read)


async def _read_customer(
    tables: Tables, draft: OrderDraft, now: datetime, objects: int, *, lock: bool
) -> tuple[OrderCustomer | None, NewIds]:
    """The order's customer (locked until the transaction ends with `lock`) with the order's new ids, in
    one round trip: an existing one named by id (unknown: 422), else the checkout record found by the
    new customer's details or the order's email, or a new one drawn from them; None when there is
    nothing to go on."""
    if draft.customer is not None and draft.customer.id is not None:
        read = await tables.customers.read_for_order(draft.customer.id, objects, lock=lock)
        if read is None:
            raise OrderRuleError("customer.id", "unknown_customer", f"there is no customer {draft.customer.id}")
        return read
    details = _new_customer_details(draft)
    if details is None:
        return None, await tables.orders.allocate_ids(objects)
    return await tables.customers.find_or_draw_for_order(details, now, objects, lock=lock)


def _new_customer_details(draft: OrderDraft) -> CustomerDraft | None:
    """What a checkout record is found or made from: the new customer's details, else the order's
    email; None when there is nothing to go on."""
    details = draft.customer
    if details is None and draft.email:
        details = draft.customer_from_email()
    if details is None or not (details.email or details.first_name or details.last_name or details.phone):
        return None
    return details
