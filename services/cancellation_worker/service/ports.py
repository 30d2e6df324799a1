"""What the use cases need from outside, as Protocols: the pool (`Database`), the worker's tables
(`Store`: the store package) and the outbox (shared/outbox.py), so unit tests run them on in-memory
fakes (tests/support/cancellation_fakes.py)."""

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Unpack

from services.cancellation_worker.domain.ledger import LedgerEntry, LoyaltyCredit
from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import CancellationRequest
from services.cancellation_worker.settings import CancellationSettings
from services.cancellation_worker.store import RequestQuery
from shared.cancellations import BankAccount, CancellationReason, ShippingCompany
from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData, OrderSnapshot


class Row(Protocol):
    """A row read by column name: an asyncpg.Record, or a dict in tests."""

    def __getitem__(self, key: str, /) -> Any: ...


class Database(Protocol):
    def acquire(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...


class Store(Protocol):
    """The worker's tables: the store package's functions."""

    async def upsert_order(self, conn: Connection, data: OrderLifecycleData) -> bool: ...

    async def upsert_orders(self, conn: Connection, views: Sequence[OrderLifecycleData]) -> set[int]: ...

    async def fetch_order(self, conn: Connection, order_id: int, *, lock: bool = False) -> OrderSnapshot | None: ...

    async def insert_requests(
        self,
        conn: Connection,
        requests: Sequence[CancellationRequest],
        submission_id: uuid.UUID,
        account: BankAccount | None,
    ) -> bool: ...

    async def fetch_request(
        self, conn: Connection, request_id: int, *, lock: bool = False
    ) -> CancellationRequest | None: ...

    async def requests_of_order(self, conn: Connection, order_id: int) -> list[CancellationRequest]: ...

    async def save_request(self, conn: Connection, request: CancellationRequest) -> None: ...

    async def list_requests(self, conn: Connection, **query: Unpack[RequestQuery]) -> list[CancellationRequest]: ...

    async def bank_account_of(self, conn: Connection, request_id: int) -> BankAccount | None: ...

    async def ledger_of(self, conn: Connection, order_id: int) -> list[LedgerEntry]: ...

    async def orders_with_entries(self, conn: Connection, order_ids: Sequence[int]) -> set[int]: ...

    async def append_entry(self, conn: Connection, entry: LedgerEntry) -> None: ...

    async def credit_loyalty(self, conn: Connection, entry: LedgerEntry, customer_id: int) -> Decimal: ...

    async def loyalty_credits(self, conn: Connection, customer_id: int) -> list[LoyaltyCredit]: ...

    async def insert_notification(self, conn: Connection, notice: Notice) -> bool: ...

    async def mark_sending(self, conn: Connection, notification_id: int) -> None: ...

    async def record_failure(self, conn: Connection, notification_id: int, error: str) -> None: ...

    async def mark_sent(self, conn: Connection, notification_id: int) -> None: ...

    async def upsert_reason(self, conn: Connection, reason: CancellationReason) -> None: ...

    async def list_reasons(self, conn: Connection) -> list[CancellationReason]: ...

    async def upsert_company(self, conn: Connection, company: ShippingCompany) -> None: ...

    async def list_companies(self, conn: Connection) -> list[ShippingCompany]: ...

    async def erase_order(self, conn: Connection, order_id: int) -> dict[str, int]:
        """Delete or mask the order's personal data; rows touched per table."""


class Outbox(Protocol):
    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None: ...


@dataclass(frozen=True, slots=True)
class Ports:
    """What every use case runs on."""

    db: Database
    settings: CancellationSettings
    store: Store
    outbox: Outbox
