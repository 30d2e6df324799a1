"""The cancellation worker's tables and outbox in memory, so its use cases run in unit tests without
I/O. `FakeStore` keeps what the store package keeps (with the ledger's uniqueness rules) and `FakeOutbox`
what was published, by topic."""

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Unpack, cast

from services.cancellation_worker.domain.ledger import LedgerEntry, LoyaltyCredit
from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import CancellationRequest
from services.cancellation_worker.service.ports import Ports
from services.cancellation_worker.settings import CancellationSettings
from services.cancellation_worker.store import RequestQuery
from shared.cancellations import BankAccount, CancellationReason, ShippingCompany
from shared.db import Connection
from shared.events import Event
from shared.orders import OrderLifecycleData, OrderSnapshot, Snapshot
from tests.support.webhook_fakes import FakeConnection, FakeDatabase


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None:
        self.events.append((topic, event))

    def on(self, topic: str, event_type: str | None = None) -> list[Snapshot]:
        """The data of what went to `topic` (of `event_type`), in order."""
        return [event.data for to, event in self.events if to == topic and event_type in (None, event.type)]

    def types(self, topic: str) -> list[str]:
        return [event.type for to, event in self.events if to == topic]


class FakeStore:
    def __init__(self) -> None:
        self.orders: dict[int, tuple[int, OrderSnapshot]] = {}
        self.requests: dict[int, CancellationRequest] = {}
        self.submissions: dict[int, uuid.UUID] = {}
        self.accounts: dict[uuid.UUID, BankAccount] = {}
        self.entries: list[LedgerEntry] = []
        self.balances: dict[tuple[int, str], Decimal] = {}
        self.credits: list[tuple[int, LoyaltyCredit]] = []
        self.notifications: dict[str, dict[str, Any]] = {}
        self.reasons: dict[int, CancellationReason] = {}
        self.companies: dict[int, ShippingCompany] = {}

    # ---- orders --------------------------------------------------------------------------------

    async def upsert_order(self, conn: Connection, data: OrderLifecycleData) -> bool:
        known = self.orders.get(data.order_id)
        if known is not None and known[0] >= data.sequence:
            return False
        self.orders[data.order_id] = (data.sequence, data.order)
        return True

    async def upsert_orders(self, conn: Connection, views: Sequence[OrderLifecycleData]) -> set[int]:
        return {data.order_id for data in views if await self.upsert_order(conn, data)}

    async def fetch_order(self, conn: Connection, order_id: int, *, lock: bool = False) -> OrderSnapshot | None:
        known = self.orders.get(order_id)
        return known[1] if known else None

    # ---- requests ------------------------------------------------------------------------------

    async def insert_requests(
        self,
        conn: Connection,
        requests: Sequence[CancellationRequest],
        submission_id: uuid.UUID,
        account: BankAccount | None,
    ) -> bool:
        if any(request.request_id in self.requests for request in requests):
            return False
        for request in requests:
            self.requests[request.request_id] = request
            self.submissions[request.request_id] = submission_id
        if account is not None:
            self.accounts[submission_id] = account
        return True

    async def fetch_request(
        self, conn: Connection, request_id: int, *, lock: bool = False
    ) -> CancellationRequest | None:
        return self.requests.get(request_id)

    async def requests_of_order(self, conn: Connection, order_id: int) -> list[CancellationRequest]:
        return sorted((r for r in self.requests.values() if r.order_id == order_id), key=lambda r: r.request_id)

    async def save_request(self, conn: Connection, request: CancellationRequest) -> None:
        self.requests[request.request_id] = request

    async def list_requests(self, conn: Connection, **query: Unpack[RequestQuery]) -> list[CancellationRequest]:
        def matches(request: CancellationRequest) -> bool:
            since, until, before = query.get("created_since"), query.get("created_until"), query.get("before")
            return (
                query.get("status") in (None, request.status)
                and query.get("order_id") in (None, request.order_id)
                and query.get("cancellation_type") in (None, request.cancellation_type)
                and (since is None or request.created_at >= since)
                and (until is None or request.created_at < until)
                and (before is None or (request.created_at, request.request_id) < before)
            )

        found = sorted(
            filter(matches, self.requests.values()), key=lambda r: (r.created_at, r.request_id), reverse=True
        )
        return found[: query.get("limit", 50)]

    async def bank_account_of(self, conn: Connection, request_id: int) -> BankAccount | None:
        submission = self.submissions.get(request_id)
        return self.accounts.get(submission) if submission else None

    # ---- the ledgers ---------------------------------------------------------------------------

    async def ledger_of(self, conn: Connection, order_id: int) -> list[LedgerEntry]:
        return [entry for entry in self.entries if entry.order_id == order_id]

    async def orders_with_entries(self, conn: Connection, order_ids: Sequence[int]) -> set[int]:
        return {entry.order_id for entry in self.entries if entry.order_id in order_ids}

    async def append_entry(self, conn: Connection, entry: LedgerEntry) -> None:
        """As the table's unique indexes: one request and one settlement per key."""
        settles = entry.entry_type != "requested"
        for kept in self.entries:
            if kept.idempotency_key == entry.idempotency_key and (kept.entry_type != "requested") == settles:
                raise AssertionError(f"a second {entry.entry_type} entry for key {entry.idempotency_key}")
        self.entries.append(entry)

    async def credit_loyalty(self, conn: Connection, entry: LedgerEntry, customer_id: int) -> Decimal:
        balance = self.balances.get((customer_id, entry.currency), Decimal(0)) + entry.amount
        self.balances[customer_id, entry.currency] = balance
        credit = LoyaltyCredit(
            entry.order_id, entry.idempotency_key, entry.amount, entry.currency, balance, datetime.now(UTC)
        )
        self.credits.append((customer_id, credit))
        return balance

    async def loyalty_credits(self, conn: Connection, customer_id: int) -> list[LoyaltyCredit]:
        return [credit for customer, credit in self.credits if customer == customer_id]

    # ---- notifications -------------------------------------------------------------------------

    async def insert_notification(self, conn: Connection, notice: Notice) -> bool:
        if notice.message_id in self.notifications:
            return False
        self.notifications[notice.message_id] = {
            "id": len(self.notifications) + 1,
            **dataclasses.asdict(notice),
            "status": "pending",
            "attempts": 0,
            "sending_since": None,
            "last_error": None,
            "sent_at": None,
        }
        return True

    def notification(self, notification_id: int) -> dict[str, Any]:
        return next(row for row in self.notifications.values() if row["id"] == notification_id)

    async def mark_sending(self, conn: Connection, notification_id: int) -> None:
        self.notification(notification_id).update(sending_since=datetime.now(UTC), last_error=None)

    async def record_failure(self, conn: Connection, notification_id: int, error: str) -> None:
        self.notification(notification_id).update(sending_since=None, last_error=error)

    async def mark_sent(self, conn: Connection, notification_id: int) -> None:
        self.notification(notification_id).update(sent_at=datetime.now(UTC))

    # ---- erasure -------------------------------------------------------------------------------

    async def erase_order(self, conn: Connection, order_id: int) -> dict[str, int]:
        """As store/erasure.py, without the outbox (this fake's outbox publishes nothing to erase)."""
        submissions = {self.submissions[id_] for id_, request in self.requests.items() if request.order_id == order_id}
        accounts = [submission for submission in submissions if self.accounts.pop(submission, None) is not None]
        requests = 0
        for id_, request in self.requests.items():
            masked = "*" if request.description is not None else None
            if request.order_id == order_id and (request.description, request.iban_last4) != (masked, None):
                self.requests[id_] = dataclasses.replace(request, description=masked, iban_last4=None)
                requests += 1
        notifications = 0
        for row in self.notifications.values():
            if row["order_id"] == order_id and (row["recipient"], row["subject"], row["body"]) != ("*", "*", "*"):
                status = "failed" if row["status"] == "pending" else row["status"]
                row.update(recipient="*", subject="*", body="*", last_error="erased", status=status)
                notifications += 1
        return {
            "bank_accounts": len(accounts),
            "cancellation_requests": requests,
            "notifications": notifications,
            "outbox": 0,
            "outbox_dead_letters": 0,
        }

    # ---- reference data ------------------------------------------------------------------------

    async def upsert_reason(self, conn: Connection, reason: CancellationReason) -> None:
        self.reasons[reason.id] = reason

    async def list_reasons(self, conn: Connection) -> list[CancellationReason]:
        return [self.reasons[key] for key in sorted(self.reasons)]

    async def upsert_company(self, conn: Connection, company: ShippingCompany) -> None:
        self.companies[company.id] = company

    async def list_companies(self, conn: Connection) -> list[ShippingCompany]:
        return [self.companies[key] for key in sorted(self.companies)]


def fake_ports(**settings: Any) -> tuple[Ports, FakeStore, FakeOutbox]:
    store, outbox = FakeStore(), FakeOutbox()
    return Ports(FakeDatabase(), CancellationSettings(**settings), store, outbox), store, outbox


# What a consumer's handler is given: the fakes keep no uncommitted state, so any stands in.
CONN: Final = cast(Connection, FakeConnection())
