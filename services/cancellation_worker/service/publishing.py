"""What the worker publishes, always through the outbox in the caller's transaction: its events on
cancellations.events (PII-free), its commands on payments.commands, its facts on orders.ingest, and
the emails it queues. What it publishes about an order names the order's `source_name` (from its copy
of the order; None while it has none), so that the event carries the order's channel."""

import dataclasses

from services.cancellation_worker.domain.ledger import LedgerEntry
from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import CancellationRequest
from services.cancellation_worker.service.ports import Ports
from shared.cancellations import BankAccount, CancellationRequestData, RefundData
from shared.db import Connection
from shared.events import Event
from shared.logging import get_logger
from shared.orders import Snapshot
from shared.services import CANCELLATION_WORKER
from shared.topics import CANCELLATIONS_EVENTS, ORDERS_INGEST, PAYMENTS_COMMANDS

SOURCE = CANCELLATION_WORKER.name
log = get_logger(__name__)


def refund_data(entry: LedgerEntry, source_name: str | None, account: BankAccount | None = None) -> RefundData:
    """A ledger entry of an order from `source_name` as the contract shows it; only a bank-transfer
    command carries `account`."""
    return RefundData(
        source_name=source_name,
        order_id=entry.order_id,
        refund_id=entry.refund_id,
        ledger_entry_id=entry.idempotency_key,
        kind=entry.kind,
        method=entry.method,
        amount=entry.amount,
        currency=entry.currency,
        status=entry.entry_type,
        error=entry.error,
        bank_account=account,
    )


def request_data(request: CancellationRequest, source_name: str | None) -> CancellationRequestData:
    """A request of an order from `source_name` as the contract shows it: its fields, less the bank
    account's (only the last 4 shown)."""
    return CancellationRequestData.model_validate({**dataclasses.asdict(request), "source_name": source_name})


class Publisher:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    async def event(self, conn: Connection, event_type: str, subject: int, data: Snapshot) -> None:
        """An event for anyone (webhook subscribers too) on cancellations.events."""
        await self._send(conn, CANCELLATIONS_EVENTS, event_type, subject, data)

    async def fact(self, conn: Connection, event_type: str, subject: int, data: Snapshot) -> None:
        """A fact for order_api on orders.ingest."""
        await self._send(conn, ORDERS_INGEST, event_type, subject, data)

    async def command(self, conn: Connection, event_type: str, data: RefundData) -> None:
        """A command for the payment service on payments.commands."""
        await self._send(conn, PAYMENTS_COMMANDS, event_type, data.order_id, data)

    async def request(
        self, conn: Connection, event_type: str, request: CancellationRequest, source_name: str | None
    ) -> None:
        await self.event(conn, event_type, request.order_id, request_data(request, source_name))

    async def ledger(self, conn: Connection, event_type: str, entry: LedgerEntry, source_name: str | None) -> None:
        await self.event(conn, event_type, entry.order_id, refund_data(entry, source_name))

    async def email(self, conn: Connection, notice: Notice | None) -> None:
        """Queue the email (once per Message-ID); nothing when there is no address to send it to."""
        if notice is None:
            log.info("no email address to notify")
            return
        await self._ports.store.insert_notification(conn, notice)

    async def _send(self, conn: Connection, topic: str, event_type: str, subject: int, data: Snapshot) -> None:
        await self._ports.outbox.enqueue(conn, topic, Event.new(event_type, SOURCE, str(subject), data))
