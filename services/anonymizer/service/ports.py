"""What the anonymizer's use cases need from outside, as Protocols: the pool (`Database`), its tables
(`Store`: the store package), the outbox (shared/outbox.py) and a clock, so unit tests run them on
in-memory fakes (tests/support/anonymizer_fakes.py)."""

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from services.anonymizer.domain import (
    CustomerErasure,
    ErasureRequest,
    KnownOrder,
    OrderErasure,
    Receipt,
    RequestKind,
    RequestQuery,
)
from services.anonymizer.settings import AnonymizerSettings
from shared.db import Connection
from shared.events import Event


class Database(Protocol):
    def acquire(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...


class Store(Protocol):
    """The anonymizer's tables: the store package's functions."""

    async def record_order(self, conn: Connection, event: Event, order: KnownOrder) -> None: ...

    async def record_orders(self, conn: Connection, seen: Sequence[tuple[Event, KnownOrder]]) -> None: ...

    async def forget_order(self, conn: Connection, order_id: int) -> int: ...

    async def open_erasure(self, conn: Connection, erasure: OrderErasure) -> OrderErasure | None: ...

    async def fetch_erasure(
        self, conn: Connection, erasure_id: uuid.UUID, *, lock: bool = False
    ) -> OrderErasure | None: ...

    async def save_erasure(self, conn: Connection, erasure: OrderErasure) -> None: ...

    async def due_erasures(self, conn: Connection, now: datetime, limit: int) -> list[OrderErasure]: ...

    async def insert_receipt(self, conn: Connection, receipt: Receipt) -> list[Receipt] | None: ...

    async def receipts_of(self, conn: Connection, erasure_id: uuid.UUID) -> list[Receipt]: ...

    async def wait_for(self, conn: Connection, erasure: OrderErasure) -> OrderErasure: ...

    async def orders_of_person(
        self, conn: Connection, *, email_hash: bytes | None, customer_ids: Sequence[int]
    ) -> list[int]: ...

    async def customers_of_person(
        self, conn: Connection, *, email_hash: bytes | None, customer_id: int | None
    ) -> list[int]: ...

    async def insert_request(self, conn: Connection, request: ErasureRequest, order_ids: Sequence[int]) -> None: ...

    async def insert_request_customers(
        self, conn: Connection, request_id: uuid.UUID, customer_ids: Sequence[int]
    ) -> None: ...

    async def customer_erased(
        self,
        conn: Connection,
        request_id: uuid.UUID,
        customer_id: int,
        rows: Mapping[str, int],
        erased_at: datetime,
    ) -> bool: ...

    async def request_customers(self, conn: Connection, request_id: uuid.UUID) -> list[CustomerErasure]: ...

    async def ensure_order_request(
        self, conn: Connection, erasure: OrderErasure, kind: RequestKind, now: datetime
    ) -> None: ...

    async def refresh_requests(self, conn: Connection, order_id: int, now: datetime) -> None: ...

    async def refresh_request(self, conn: Connection, request_id: uuid.UUID, now: datetime) -> None: ...

    async def fetch_request(self, conn: Connection, request_id: uuid.UUID) -> ErasureRequest | None: ...

    async def request_erasures(self, conn: Connection, request_id: uuid.UUID) -> list[OrderErasure]: ...

    async def request_receipts(self, conn: Connection, request_id: uuid.UUID) -> list[Receipt]: ...

    async def list_requests(self, conn: Connection, query: RequestQuery) -> list[ErasureRequest]: ...

    async def lock_retention_sweep(self, conn: Connection) -> bool: ...

    async def retention_due(self, conn: Connection, cutoff: datetime, limit: int) -> list[int]: ...

    async def count_retention_due(self, conn: Connection, cutoff: datetime) -> int: ...


class Outbox(Protocol):
    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Ports:
    """What every use case runs on."""

    db: Database
    settings: AnonymizerSettings
    store: Store
    outbox: Outbox
    clock: Callable[[], datetime] = field(default=utc_now)
