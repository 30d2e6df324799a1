"""The anonymizer's tables in memory, so its use cases run in unit tests without I/O: `FakeStore`
keeps what the store package keeps (one erasure per order, one receipt per service, requests whose
status follows their orders' and customer records', the orders retention finds due), a settable clock
stands in for time."""

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.anonymizer.domain import (
    CustomerErasure,
    ErasureRequest,
    ErasureState,
    KnownOrder,
    OrderErasure,
    Receipt,
    RequestKind,
    RequestQuery,
    request_status,
)
from services.anonymizer.service.ports import Ports
from services.anonymizer.settings import AnonymizerSettings
from shared.db import Connection
from shared.events import Event
from tests.support.cancellation_fakes import FakeOutbox
from tests.support.webhook_fakes import FakeDatabase


@dataclasses.dataclass
class FakeRequest:
    id: uuid.UUID
    kind: RequestKind
    status: ErasureState
    created_at: datetime
    orders: set[int]
    completed_at: datetime | None = None
    customer_id: int | None = None
    email_hash: bytes | None = None
    customers: dict[int, CustomerErasure] = dataclasses.field(default_factory=dict)

    def stored(self) -> ErasureRequest:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del fields["orders"], fields["customers"]
        return ErasureRequest(**fields)


class FakeStore:
    def __init__(self) -> None:
        self.known: dict[int, KnownOrder] = {}
        self.audit: list[tuple[int, uuid.UUID, str, int]] = []
        self.erasures: dict[int, OrderErasure] = {}
        self.receipts: dict[tuple[uuid.UUID, str], Receipt] = {}
        self.requests: dict[uuid.UUID, FakeRequest] = {}
        self.sweeping_elsewhere = False  # another instance holds the retention sweep

    async def record_order(self, conn: Connection, event: Event, order: KnownOrder) -> None:
        kept = self.known.get(order.order_id)
        if kept is None or kept.sequence < order.sequence:
            self.known[order.order_id] = order
        self.audit.append((order.order_id, event.id, event.type, order.sequence))

    async def record_orders(self, conn: Connection, seen: Sequence[tuple[Event, KnownOrder]]) -> None:
        for event, order in seen:
            await self.record_order(conn, event, order)

    async def forget_order(self, conn: Connection, order_id: int) -> int:
        kept = self.known.get(order_id)
        if kept is None or (kept.email_hash is None and kept.customer_id is None):
            return 0
        self.known[order_id] = dataclasses.replace(kept, email_hash=None, customer_id=None, anonymized=True)
        return 1

    async def open_erasure(self, conn: Connection, erasure: OrderErasure) -> OrderErasure | None:
        kept = self.erasures.get(erasure.order_id)
        if kept is not None and kept.state != "waiting":
            return None
        opened = erasure if kept is None else dataclasses.replace(erasure, erasure_id=kept.erasure_id)
        self.erasures[erasure.order_id] = opened
        return opened

    async def fetch_erasure(
        self, conn: Connection, erasure_id: uuid.UUID, *, lock: bool = False
    ) -> OrderErasure | None:
        return next((e for e in self.erasures.values() if e.erasure_id == erasure_id), None)

    async def save_erasure(self, conn: Connection, erasure: OrderErasure) -> None:
        self.erasures[erasure.order_id] = erasure

    async def due_erasures(self, conn: Connection, now: datetime, limit: int) -> list[OrderErasure]:
        due = [
            e
            for e in self.erasures.values()
            if e.state in ("erasing", "overdue") and e.deadline_at is not None and e.deadline_at <= now
        ]
        return sorted(due, key=lambda e: e.deadline_at or now)[:limit]

    async def insert_receipt(self, conn: Connection, receipt: Receipt) -> list[Receipt] | None:
        if (receipt.erasure_id, receipt.service) in self.receipts:
            return None
        self.receipts[receipt.erasure_id, receipt.service] = receipt
        return await self.receipts_of(conn, receipt.erasure_id)

    async def receipts_of(self, conn: Connection, erasure_id: uuid.UUID) -> list[Receipt]:
        found = [r for (erasure, _), r in self.receipts.items() if erasure == erasure_id]
        return sorted(found, key=lambda r: (r.received_at, r.service))

    async def wait_for(self, conn: Connection, erasure: OrderErasure) -> OrderErasure:
        return self.erasures.setdefault(erasure.order_id, erasure)

    async def orders_of_person(
        self, conn: Connection, *, email_hash: bytes | None, customer_ids: Sequence[int]
    ) -> list[int]:
        return sorted(
            o.order_id
            for o in self.known.values()
            if not o.anonymized
            and (
                (email_hash is not None and o.email_hash == email_hash)
                or (o.customer_id is not None and o.customer_id in customer_ids)
            )
        )

    async def customers_of_person(
        self, conn: Connection, *, email_hash: bytes | None, customer_id: int | None
    ) -> list[int]:
        return sorted(
            {
                o.customer_id
                for o in self.known.values()
                if not o.anonymized
                and o.customer_id is not None
                and ((email_hash is not None and o.email_hash == email_hash) or o.customer_id == customer_id)
            }
        )

    async def insert_request(self, conn: Connection, request: ErasureRequest, order_ids: Sequence[int]) -> None:
        fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
        self.requests[request.id] = FakeRequest(**fields, orders=set(order_ids))

    async def insert_request_customers(
        self, conn: Connection, request_id: uuid.UUID, customer_ids: Sequence[int]
    ) -> None:
        self.requests[request_id].customers.update({c: CustomerErasure(c) for c in customer_ids})

    async def customer_erased(
        self,
        conn: Connection,
        request_id: uuid.UUID,
        customer_id: int,
        rows: Mapping[str, int],
        erased_at: datetime,
    ) -> bool:
        request = self.requests.get(request_id)
        if request is None or customer_id not in request.customers:
            return False
        if request.customers[customer_id].erased_at is None:
            request.customers[customer_id] = CustomerErasure(customer_id, erased_at, dict(rows))
        return True

    async def request_customers(self, conn: Connection, request_id: uuid.UUID) -> list[CustomerErasure]:
        return [c for _, c in sorted(self.requests[request_id].customers.items())]

    async def ensure_order_request(
        self, conn: Connection, erasure: OrderErasure, kind: RequestKind, now: datetime
    ) -> None:
        if not any(erasure.order_id in r.orders for r in self.requests.values()):
            request = FakeRequest(
                erasure.erasure_id, kind, erasure.state, now, {erasure.order_id}, customer_id=erasure.customer_id
            )
            self.requests[erasure.erasure_id] = request

    async def refresh_requests(self, conn: Connection, order_id: int, now: datetime) -> None:
        for request in self.requests.values():
            if order_id in request.orders:
                self._refresh(request, now)

    async def refresh_request(self, conn: Connection, request_id: uuid.UUID, now: datetime) -> None:
        request = self.requests[request_id]
        if request.orders or request.customers:
            self._refresh(request, now)

    def _refresh(self, request: FakeRequest, now: datetime) -> None:
        status = request_status(
            (self.erasures[o].state if o in self.erasures else "waiting" for o in request.orders),
            (c.state for c in request.customers.values()),
        )
        if status != request.status:
            request.status = status
            request.completed_at = (request.completed_at or now) if status == "complete" else None

    async def fetch_request(self, conn: Connection, request_id: uuid.UUID) -> ErasureRequest | None:
        found = self.requests.get(request_id)
        return found.stored() if found is not None else None

    async def request_erasures(self, conn: Connection, request_id: uuid.UUID) -> list[OrderErasure]:
        orders = sorted(self.requests[request_id].orders)
        return [self.erasures[o] for o in orders if o in self.erasures]

    async def request_receipts(self, conn: Connection, request_id: uuid.UUID) -> list[Receipt]:
        ids = {e.erasure_id for e in await self.request_erasures(conn, request_id)}
        found = [r for r in self.receipts.values() if r.erasure_id in ids]
        return sorted(found, key=lambda r: (r.received_at, r.order_id, r.service))

    async def list_requests(self, conn: Connection, query: RequestQuery) -> list[ErasureRequest]:
        found = sorted(
            (r.stored() for r in self.requests.values() if query.status in (None, r.status)),
            key=lambda r: (r.created_at, r.id),
            reverse=True,
        )
        if query.before is not None:
            before = query.before
            found = [r for r in found if (r.created_at, r.id) < before]
        return found[: query.limit]

    async def lock_retention_sweep(self, conn: Connection) -> bool:
        return not self.sweeping_elsewhere

    def _due(self, cutoff: datetime) -> list[KnownOrder]:
        due = [
            o
            for o in self.known.values()
            if not o.anonymized
            and o.eligible_since is not None
            and o.eligible_since <= cutoff
            and o.order_id not in self.erasures
        ]
        return sorted(due, key=lambda o: (o.eligible_since or cutoff, o.order_id))

    async def retention_due(self, conn: Connection, cutoff: datetime, limit: int) -> list[int]:
        return [o.order_id for o in self._due(cutoff)[:limit]]

    async def count_retention_due(self, conn: Connection, cutoff: datetime) -> int:
        return len(self._due(cutoff))


class Clock:
    def __init__(self, start: datetime = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fake_ports(**settings: Any) -> tuple[Ports, FakeStore, FakeOutbox, Clock]:
    store, outbox, clock = FakeStore(), FakeOutbox(), Clock()
    return Ports(FakeDatabase(), AnonymizerSettings(**settings), store, outbox, clock), store, outbox, clock
