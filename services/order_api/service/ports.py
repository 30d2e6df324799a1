"""What the use cases need from storage: one Protocol per table family, and the transaction that holds
them together. store/ implements them on Postgres; the unit tests on dicts (tests/support/fake_store.py).

Every method runs inside the transaction (or, for reads, on the connection) that `Database` opened,
so a use case's changes and its outbox event commit together or not at all.
"""

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.domain.stored import StoredOrder
from shared.cancellations import CancellationReason, ShippingCompany
from shared.events import Event
from shared.idempotency import KeyRecord
from shared.order_facts import CustomerDraft, CustomerFact, VariantFact
from shared.orders import CustomerSnapshot, OrderSnapshot
from shared.rate_limits import WindowCount


class UpstreamIdTaken(Exception):
    """The order's upstream id already names another order (the store's unique upstream ids)."""


# A new order's id, order number, and ids for its nested objects.
NewIds = tuple[int, int, list[int]]


@dataclass(frozen=True, slots=True)
class OrderCustomer:
    """The customer a new order is for, as read with the order's ids. `version` names the version of
    their record that was read (the order's insert counts the order there only if the record is still
    at that version); None for a new checkout record, which the order's insert makes."""

    record: CustomerSnapshot
    version: str | None


class Orders(Protocol):
    async def allocate_ids(self, objects: int) -> NewIds:
        """A new order id, order number, and `objects` ids for its nested objects."""

    async def next_object_id(self) -> int:
        """A new id for an object inside an order (a transaction, a fulfillment)."""

    async def insert(
        self,
        order: OrderSnapshot,
        fingerprint: str | None,
        event: Callable[[StoredOrder], Event] | None = None,
        *,
        customer_version: str | None = None,
    ) -> StoredOrder | None:
        """Store a new order (version 1), remembering the fingerprint of the request that made it, and with
        `event` add the event it makes of the order as stored to the outbox (orders.events), and count an
        order with a customer on that customer's record, as `with_counted_customer` shows it: the record
        at `customer_version` (`OrderCustomer`) counted, or, without a version, made with the order
        counted. All in one statement, all or nothing: None, storing nothing, when the customer's record
        is no longer at `customer_version`. An exception `event` raises stores nothing; UpstreamIdTaken
        when the order's upstream id names another order."""

    async def save(self, order: OrderSnapshot) -> StoredOrder:
        """Store a changed order as its next version; UpstreamIdTaken when its upstream id names another order."""

    async def fetch(self, order_id: int, *, for_update: bool = False) -> StoredOrder | None:
        """The order, locked for this transaction's change with `for_update`."""

    async def lock_all(self, order_ids: Sequence[int]) -> dict[int, StoredOrder]:
        """The orders of these ids that exist, by id, locked for this transaction's change in ascending
        id order, in one round trip."""

    async def fetch_for_change(self, order_id: int) -> tuple[StoredOrder, int] | None:
        """The order locked for this transaction's change, and a new object id drawn once it is locked
        (as `fetch(for_update=True)` then `next_object_id()`, in one round trip)."""

    async def fetch_by_upstream_id(self, upstream_id: str) -> tuple[StoredOrder, str | None] | None:
        """The order with this upstream id, and the fingerprint of the request that created it."""

    async def fetch_guest(self, order_number: int, email: str, *, for_update: bool = False) -> StoredOrder | None:
        """The guest order with this number and exactly this email, locked for this transaction's change
        with `for_update`; a miss reads no order."""

    async def delete(self, order_id: int) -> None: ...

    async def list(self, query: OrderQuery, page: Page) -> list[OrderSnapshot]:
        """The page of the orders matching `query`."""

    async def count(self, query: OrderQuery) -> int: ...

    async def fold_counts(self) -> int:
        """Fold the changes recorded since into the counts by status (in a transaction); how many."""


class Catalog(Protocol):
    async def fetch_variants(self, ids: Sequence[int]) -> dict[int, VariantFact]: ...

    async def upsert_variant(self, variant: VariantFact) -> None: ...


class Customers(Protocol):
    async def fetch(self, customer_id: int) -> CustomerSnapshot | None: ...

    async def upsert(self, fact: CustomerFact) -> None:
        """A registered account from the customer service."""

    async def read_for_order(
        self, customer_id: int, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds] | None:
        """The customer and the ids of a new order for them (`Orders.allocate_ids`), the record locked
        until the transaction ends with `lock`, the ids drawn once it is held; None, drawing nothing,
        when there is no such customer."""

    async def find_or_draw_for_order(
        self, draft: CustomerDraft, now: datetime, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds]:
        """The checkout record with the draft's email (case-insensitively), never an account, locked until
        the transaction ends with `lock`; else a new one drawn from the draft (its id taken, the record
        not yet written: the order's insert makes it); and the ids of a new order, drawn once the lock is
        held."""


class ReferenceData(Protocol):
    """The cancellation reference data other services publish: reasons, easy-return shipping companies."""

    async def upsert_reason(self, reason: CancellationReason) -> None: ...

    async def upsert_shipping_company(self, company: ShippingCompany) -> None: ...

    async def active_reasons(self, ids: Sequence[int]) -> set[int]:
        """Which of `ids` are active cancellation reasons."""

    async def return_companies(self, ids: Sequence[int]) -> set[int]:
        """Which of `ids` are active shipping companies that take easy returns."""


class HttpGuardRecords(Protocol):
    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        """Take `key` for a new request (None), or the record that holds it."""

    async def complete_key(
        self,
        principal: str,
        key: str,
        *,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        order_id: int | None = None,
    ) -> None:
        """Remember the answer, and the order it is about (its erasure deletes it)."""

    async def release_key(self, principal: str, key: str) -> None: ...

    async def count_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """Count one request in each bucket's current window, locking them in the order given."""

    async def peek_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """The hits so far in each bucket's current window (those with any), counting none."""

    async def purge(self, batch_rows: int) -> int:
        """Delete expired Idempotency-Key records, `batch_rows` per statement; how many."""


class Erasures(Protocol):
    """An anonymized order's copies outside its own row (design section 5)."""

    async def erase_order(self, order_id: int, number_buckets: str | None) -> dict[str, int]:
        """Delete the order's remembered Idempotency-Key answers, its guest-lookup rate-limit windows
        (buckets beginning with `number_buckets`) and its published or parked outbox rows; rows per
        table. UnsentEvents (shared.outbox) while an older event of it waits for the relay."""


class CustomerErasures(Protocol):
    """A customer's erasure: its records, masked, and the erasures waiting for its orders (design section 4)."""

    async def lock_customer(self, customer_id: int) -> CustomerSnapshot | None:
        """The customer's record, locked (the erasure and its orders' anonymizations meet on this lock)."""

    async def lock_checkout_records(self, email: str) -> list[CustomerSnapshot]:
        """The checkout records (`disabled`) with `email`, case-insensitively, locked, by id."""

    async def save_masked(self, customers: Sequence[CustomerSnapshot]) -> int:
        """Write the customers' personal fields and `updated_at` back; how many rows."""

    async def has_orders_to_anonymize(self, customer_id: int) -> bool:
        """Whether an order of the customer is not anonymized yet."""

    async def wait(self, customer_id: int, request_id: uuid.UUID, now: datetime) -> None:
        """Record the request as waiting for the customer's orders, next to any request waiting already."""

    async def waiting(self, customer_id: int) -> list[uuid.UUID]:
        """The requests waiting for the customer's orders, oldest first."""

    async def forget_waiting(self, customer_id: int) -> list[uuid.UUID]:
        """Delete the customer's waiting requests; which they were, oldest first."""


class Outbox(Protocol):
    async def enqueue(self, topic: str, event: Event) -> None:
        """Add `event` to the outbox, to be published once the transaction commits."""


class Tables(Protocol):
    """The store as one transaction (or connection) sees it."""

    @property
    def orders(self) -> Orders: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def customers(self) -> Customers: ...

    @property
    def http_guards(self) -> HttpGuardRecords: ...

    @property
    def reference_data(self) -> ReferenceData: ...

    @property
    def erasures(self) -> Erasures: ...

    @property
    def customer_erasures(self) -> CustomerErasures: ...

    @property
    def outbox(self) -> Outbox: ...


class Database(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Tables]:
        """The tables in one transaction: committed when the block ends, rolled back when it raises."""

    def statements(self) -> AbstractAsyncContextManager[Tables]:
        """The tables for statements that are each their own transaction (reads, single writes)."""
