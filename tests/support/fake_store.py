"""order_api's store in memory: the Protocols of services/order_api/service/ports.py on dicts, so the use
cases run in unit tests without Postgres (as cosmicpython's fake unit of work does).

A transaction that raises leaves every table as it was, as Postgres's rollback does; `outbox.events`
holds what committed transactions published. Only what the use cases need is modelled: the store's
integration tests hold the SQL itself.
"""

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Final, cast

from services.order_api.domain.customers import counted_on
from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.anonymization import AnonymizationService
from services.order_api.service.facts import FactService
from services.order_api.service.guest_requests import GuestRequests
from services.order_api.service.orders import OrderService
from services.order_api.service.ports import NewIds, OrderCustomer, UpstreamIdTaken
from services.order_api.service.refunds import RefundService
from shared.cancellations import CancellationReason, ShippingCompany
from shared.db import Connection
from shared.events import Event
from shared.order_facts import CustomerDraft, CustomerFact, VariantFact
from shared.orders import CustomerSnapshot, OrderSnapshot
from shared.topics import ORDERS_EVENTS
from tests.support.fake_erasures import FakeCustomerErasures, FakeErasures
from tests.support.fake_http_guards import FakeHttpGuardRecords
from tests.support.order_rules import LATER, NOW


@dataclass(frozen=True)
class _Row:
    order: OrderSnapshot
    sequence: int
    fingerprint: str | None


class FakeOrders:
    def __init__(self, outbox: "FakeOutbox", customers: "FakeCustomers") -> None:
        self.customers = customers
        self.outbox = outbox  # where a new order's first event goes, as the same statement writes it
        self.rows: dict[int, _Row] = {}
        self.ids = itertools.count(1_000_000_001)
        self.numbers = itertools.count(1001)
        self.object_ids = itertools.count(1_000_000_001)
        # Called with each order about to be inserted: a test's stand-in for a concurrent transaction.
        self.before_insert: Callable[[OrderSnapshot], None] | None = None

    async def allocate_ids(self, objects: int) -> NewIds:
        return next(self.ids), next(self.numbers), [next(self.object_ids) for _ in range(objects)]

    async def next_object_id(self) -> int:
        return next(self.object_ids)

    async def insert(
        self,
        order: OrderSnapshot,
        fingerprint: str | None,
        event: Callable[[StoredOrder], Event] | None = None,
        *,
        customer_version: str | None = None,
    ) -> StoredOrder | None:
        first = StoredOrder(order, 1, order.model_dump_json())
        outgoing = event(first) if event is not None else None
        if self.before_insert is not None:
            self.before_insert(order)
        self._check_upstream_id(order)
        customer = order.customer
        if outgoing is not None and customer is not None:
            if customer_version is None:  # a new record, made with the order counted
                self.customers.customers[customer.id] = customer
            else:
                record = self.customers.customers.get(customer.id)
                if record is None or version_of(record) != customer_version:
                    return None
                self.customers.customers[customer.id] = counted_on(record, order)
        self.rows[order.id] = _Row(order, 1, fingerprint)
        if outgoing is not None:
            await self.outbox.enqueue(ORDERS_EVENTS, outgoing)
        return first

    async def save(self, order: OrderSnapshot) -> StoredOrder:
        self._check_upstream_id(order)
        row = self.rows[order.id]
        self.rows[order.id] = replace(row, order=order, sequence=row.sequence + 1)
        return StoredOrder(order, row.sequence + 1)

    def _check_upstream_id(self, order: OrderSnapshot) -> None:
        if order.upstream_id is not None and any(
            row.order.upstream_id == order.upstream_id for id_, row in self.rows.items() if id_ != order.id
        ):
            raise UpstreamIdTaken(order.upstream_id)

    async def fetch(self, order_id: int, *, for_update: bool = False) -> StoredOrder | None:
        row = self.rows.get(order_id)
        return StoredOrder(row.order, row.sequence) if row else None

    async def lock_all(self, order_ids: Sequence[int]) -> dict[int, StoredOrder]:
        return {
            order_id: StoredOrder(row.order, row.sequence)
            for order_id in sorted(order_ids)
            if (row := self.rows.get(order_id)) is not None
        }

    async def fetch_for_change(self, order_id: int) -> tuple[StoredOrder, int] | None:
        stored = await self.fetch(order_id, for_update=True)
        return (stored, await self.next_object_id()) if stored is not None else None

    async def fetch_by_upstream_id(self, upstream_id: str) -> tuple[StoredOrder, str | None] | None:
        for row in self.rows.values():
            if row.order.upstream_id == upstream_id:
                return StoredOrder(row.order, row.sequence), row.fingerprint
        return None

    async def fetch_guest(self, order_number: int, email: str, *, for_update: bool = False) -> StoredOrder | None:
        return next(
            (
                StoredOrder(row.order, row.sequence)
                for row in self.rows.values()
                if row.order.order_number == order_number
                and row.order.email == email
                and row.order.guest
                and not row.order.anonymized
            ),
            None,
        )

    async def delete(self, order_id: int) -> None:
        del self.rows[order_id]

    async def list(self, query: OrderQuery, page: Page) -> list[OrderSnapshot]:
        found = sorted(
            (
                row.order
                for row in self.rows.values()
                if _matches(row.order, query)
                and (page.after_id is None or row.order.id > page.after_id)
                and (page.before_id is None or row.order.id < page.before_id)
            ),
            key=lambda order: order.id,
            reverse=page.direction == "desc",
        )
        return found[page.offset : page.offset + page.limit]

    async def count(self, query: OrderQuery) -> int:
        return sum(_matches(row.order, query) for row in self.rows.values())

    async def fold_counts(self) -> int:
        return 0  # its counts are counted afresh each time: no changes are recorded to fold


# The filters the use cases' tests use, each as what it reads of an order; any other is refused, not
# silently ignored.
_ANY_OF: Final[dict[str, Callable[[OrderSnapshot], object]]] = {
    "ids": lambda order: order.id,
    "statuses": lambda order: order.status,
    "financial_statuses": lambda order: order.financial_status,
    "upstream_ids": lambda order: order.upstream_id,
}
_EQUALS: Final[dict[str, Callable[[OrderSnapshot], object]]] = {
    "email": lambda order: order.email,
    "currency": lambda order: order.currency,
    "customer_id": lambda order: order.customer.id if order.customer else None,
}


def _matches(order: OrderSnapshot, query: OrderQuery) -> bool:
    for field in fields(query):
        wanted = getattr(query, field.name)
        if wanted is None:
            continue
        if field.name in _ANY_OF:
            if _ANY_OF[field.name](order) not in wanted:
                return False
        elif field.name in _EQUALS:
            if _EQUALS[field.name](order) != wanted:
                return False
        else:
            raise NotImplementedError(f"the fake store does not filter on {field.name}")
    return True


class FakeCatalog:
    def __init__(self) -> None:
        self.variants: dict[int, VariantFact] = {}

    async def fetch_variants(self, ids: Sequence[int]) -> dict[int, VariantFact]:
        return {variant_id: self.variants[variant_id] for variant_id in ids if variant_id in self.variants}

    async def upsert_variant(self, variant: VariantFact) -> None:
        self.variants[variant.id] = variant


class FakeCustomers:
    def __init__(self) -> None:
        # Set by FakeTables: a new order's ids come from its orders.
        self.orders: FakeOrders
        self.customers: dict[int, CustomerSnapshot] = {}
        self.ids = itertools.count(9_000_000_001)

    async def fetch(self, customer_id: int) -> CustomerSnapshot | None:
        return self.customers.get(customer_id)

    async def upsert(self, fact: CustomerFact) -> None:
        known = self.customers.get(fact.id)
        since = known.created_at if known else datetime.now(UTC)
        self.customers[fact.id] = CustomerSnapshot.model_validate(
            {
                **(known.model_dump() if known else {}),
                **fact.model_dump(),
                "state": "enabled",
                "created_at": since,
                "updated_at": since,
            }
        )

    async def read_for_order(
        self, customer_id: int, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds] | None:
        customer = self.customers.get(customer_id)
        if customer is None:
            return None
        return OrderCustomer(customer, version_of(customer)), await self.orders.allocate_ids(objects)

    async def find_or_draw_for_order(
        self, draft: CustomerDraft, now: datetime, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds]:
        if draft.email:
            for customer in sorted(self.customers.values(), key=lambda customer: customer.id):
                if customer.state == "disabled" and (customer.email or "").lower() == draft.email.lower():
                    return OrderCustomer(customer, version_of(customer)), await self.orders.allocate_ids(objects)
        drawn = CustomerSnapshot(
            id=next(self.ids),
            email=draft.email,
            first_name=draft.first_name,
            last_name=draft.last_name,
            phone=draft.phone,
            accepts_marketing=bool(draft.accepts_marketing),
            created_at=now,
            updated_at=now,
        )
        return OrderCustomer(drawn, None), await self.orders.allocate_ids(objects)


def version_of(customer: CustomerSnapshot) -> str:
    """A customer record's version in memory (Postgres: its row's xmin): any change makes another."""
    return customer.model_dump_json()


class FakeReferenceData:
    def __init__(self) -> None:
        self.reasons: dict[int, CancellationReason] = {}
        self.companies: dict[int, ShippingCompany] = {}

    async def upsert_reason(self, reason: CancellationReason) -> None:
        self.reasons[reason.id] = reason

    async def upsert_shipping_company(self, company: ShippingCompany) -> None:
        self.companies[company.id] = company

    async def active_reasons(self, ids: Sequence[int]) -> set[int]:
        return {id_ for id_ in ids if id_ in self.reasons and self.reasons[id_].active}

    async def return_companies(self, ids: Sequence[int]) -> set[int]:
        return {
            id_
            for id_ in ids
            if (company := self.companies.get(id_)) is not None and company.active and company.easy_return
        }


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.topics: dict[object, str] = {}  # event id -> the topic it went to
        self.sent = 0  # events[:sent] are published (`relay`)
        self.erased: list[Event] = []  # published events an order's erasure deleted

    def relay(self) -> None:
        """Publish every event enqueued so far."""
        self.sent = len(self.events)

    async def enqueue(self, topic: str, event: Event) -> None:
        self.events.append(event)
        self.topics[event.id] = topic


class FakeTables:
    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.customers = FakeCustomers()
        self.orders = FakeOrders(self.outbox, self.customers)
        self.customers.orders = self.orders
        self.catalog = FakeCatalog()
        self.http_guards = FakeHttpGuardRecords()
        self.reference_data = FakeReferenceData()
        self.erasures = FakeErasures(self.http_guards, self.outbox)
        self.customer_erasures = FakeCustomerErasures(self.customers, self.orders)


class FakeDatabase:
    """One set of tables for every transaction; a transaction that raises is rolled back."""

    def __init__(self) -> None:
        self.tables = FakeTables()
        self.transactions = 0  # how many committed
        self._concurrent: list[Callable[[FakeTables], None]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTables]:
        saved = self._state()
        try:
            yield self.tables
        except BaseException:
            self._restore(saved)
            for change in self._concurrent:
                change(self.tables)
            raise
        finally:
            self._concurrent.clear()
        self.transactions += 1

    def commit_concurrently(self, change: Callable[[FakeTables], None]) -> None:
        """Make `change` as another transaction committing now would: it stays whatever the open one does."""
        change(self.tables)
        self._concurrent.append(change)

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[FakeTables]:
        yield self.tables

    def _state(self) -> tuple[Any, ...]:
        tables = self.tables
        return (
            dict(tables.orders.rows),
            dict(tables.catalog.variants),
            dict(tables.customers.customers),
            list(tables.outbox.events),
            {customer: list(requests) for customer, requests in tables.customer_erasures.waiting_for.items()},
        )

    def _restore(self, saved: tuple[Any, ...]) -> None:
        tables = self.tables
        tables.orders.rows, tables.catalog.variants, tables.customers.customers, tables.outbox.events = saved[:4]
        tables.customer_erasures.waiting_for = saved[4]


# The ingest consumer's connection, in unit tests: the fake store stands in for what it reaches.
NO_CONNECTION: Final = cast(Connection, None)


def order_service(database: FakeDatabase, *, max_event_bytes: int = 1_000_000) -> OrderService:
    """The order use cases on `database`, at NOW (tests.support.order_rules)."""
    return OrderService(database, max_event_bytes=max_event_bytes, clock=lambda: NOW)


def fact_service(database: FakeDatabase, *, max_event_bytes: int = 1_000_000) -> FactService:
    """The ingest facts' use cases on `database`, at LATER (tests.support.order_rules)."""
    return FactService(database, max_event_bytes=max_event_bytes, clock=lambda: LATER)


def refund_service(database: FakeDatabase) -> RefundService:
    """The cancel and refund use cases on `database`, at LATER."""
    return RefundService(database, max_event_bytes=1_000_000, clock=lambda: LATER)


def guest_requests(database: FakeDatabase) -> GuestRequests:
    """The guest cancellation requests' use case on `database`, at LATER."""
    return GuestRequests(database, max_event_bytes=1_000_000, clock=lambda: LATER)


def published(database: FakeDatabase) -> list[tuple[str, int | None, int]]:
    """What committed transactions published: (event type, sequence, order id)."""
    return [(event.type, event.sequence, int(event.subject)) for event in database.tables.outbox.events]


def anonymization_service(database: FakeDatabase) -> AnonymizationService:
    """The anonymization use case on `database`, at LATER."""
    return AnonymizationService(database, max_event_bytes=1_000_000, clock=lambda: LATER)
