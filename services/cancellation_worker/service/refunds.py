"""The money: from each order event, the refund ledger settles the attempts the payment service
answered and starts the payments the order asks for (each pending refund it has no attempt for, the
void of a cancelled order that was only authorized), all in the event's transaction. A command goes
out through the outbox in the transaction of the ledger entry that names its idempotency key, so a
crash can re-send a command but never make a second one for the same money."""

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from services.cancellation_worker.domain.ledger import (
    LedgerEntry,
    LedgerRefused,
    LoyaltyCredit,
    attempts,
    check_refund,
    check_retry,
)
from services.cancellation_worker.domain.notices import refund_notice, void_notice
from services.cancellation_worker.domain.plan import Payment, Settlement, UnknownRequest, asks_nothing, plan_order
from services.cancellation_worker.service.ports import Ports
from services.cancellation_worker.service.publishing import Publisher, refund_data
from services.cancellation_worker.service.requests import RequestService
from shared.cancellations import LoyaltyCreditedData, RestockRequestedData, payment_answer
from shared.consumer import Unprocessable
from shared.consumer_handlers import split_by_subject
from shared.db import Connection
from shared.events import Event
from shared.order_facts import PaymentFact
from shared.orders import OrderLifecycleData, OrderSnapshot

LOYALTY_GATEWAY = "loyalty_money"
RETURN_RECEIVED = "order.return_received"
CANCELLATION_REQUESTED = "order.cancellation_requested"
# The order events that also move the order's guest requests.
_REQUEST_EVENTS = frozenset({RETURN_RECEIVED, CANCELLATION_REQUESTED})


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"the worker knows no order {order_id}")


class RefundService:
    def __init__(self, ports: Ports, requests: RequestService | None = None) -> None:
        self._ports = ports
        self._store = ports.store
        self._publish = Publisher(ports)
        self._requests = requests or RequestService(ports)

    # ---- from orders.events -------------------------------------------------------------------

    async def orders_changed(self, conn: Connection, events: Sequence[Event]) -> Sequence[Event]:
        """The consumer transaction's events at once: the orders' copies kept in one statement for the
        events that change nothing else (of an order with no ledger entry, asking nothing of it; most
        events: an order created, paid, fulfilled); the others are returned, for `order_changed` one
        by one (every event of their order, so an order's events are applied in order)."""
        orders = [event.data.order_id for event in events if isinstance(event.data, OrderLifecycleData)]
        with_entries = await self._store.orders_with_entries(conn, orders) if orders else set()

        def copy_only(event: Event) -> bool:
            data = event.data
            return (
                isinstance(data, OrderLifecycleData)
                and event.type not in _REQUEST_EVENTS
                and data.order_id not in with_entries
                and asks_nothing(data.order)
            )

        plain, rest = split_by_subject(events, copy_only)
        views = [event.data for event in plain if isinstance(event.data, OrderLifecycleData)]
        if views:
            await self._store.upsert_orders(conn, views)
        return rest

    async def order_changed(self, conn: Connection, event: Event, data: OrderLifecycleData) -> None:
        """Keep the order's copy and do what its newest state asks; an older event changes nothing."""
        if not await self._store.upsert_order(conn, data):
            return
        order = data.order
        if event.type == RETURN_RECEIVED:
            await self._requests.return_received(conn, order)
        elif event.type == CANCELLATION_REQUESTED:
            await self._requests.order_known(conn, order)
        history = attempts(await self._store.ledger_of(conn, order.id))
        requests = {request.request_id: request for request in await self._store.requests_of_order(conn, order.id)}
        try:
            plan = plan_order(order, history, requests)
        except UnknownRequest as error:
            raise Unprocessable(str(error)) from error
        for settlement in plan.settlements:
            await self._settle(conn, order, settlement)
        for payment in plan.payments:
            await self._start(conn, order, payment)
        for restock in plan.restocks:
            units = RestockRequestedData(order_id=order.id, **dataclasses.asdict(restock))
            await self._publish.event(conn, "inventory.restock_requested", order.id, units)

    # ---- the operator's -----------------------------------------------------------------------

    async def retry(self, order_id: int, refund_id: int) -> LedgerEntry:
        """Try a failed refund again: a new attempt (a new idempotency key) for the same refund."""
        async with self._ports.db.acquire() as conn, conn.transaction():
            order = await self._store.fetch_order(conn, order_id, lock=True)
            if order is None:
                raise OrderNotFound(order_id)
            history = attempts(await self._store.ledger_of(conn, order_id))
            failed = check_retry(history, refund_id).requested
            refund = next((refund for refund in order.refunds if refund.id == refund_id), None)
            if refund is None:
                raise LedgerRefused("refund_id", "refund_not_found", f"order {order_id} has no refund {refund_id}")
            check_refund(order, history, refund_id, failed.amount)
            request_id = refund.cancellation_request_id
            request = await self._store.fetch_request(conn, request_id) if request_id is not None else None
            return await self._start(conn, order, Payment("refund", refund, failed.method, failed.amount, request))

    async def ledger(self, order_id: int) -> list[LedgerEntry]:
        """The order's ledger, oldest entry first."""
        async with self._ports.db.acquire() as conn:
            entries = await self._store.ledger_of(conn, order_id)
            if not entries and await self._store.fetch_order(conn, order_id) is None:
                raise OrderNotFound(order_id)
            return entries

    async def loyalty(self, customer_id: int) -> list[LoyaltyCredit]:
        async with self._ports.db.acquire() as conn:
            return await self._store.loyalty_credits(conn, customer_id)

    # ---- steps --------------------------------------------------------------------------------

    async def _start(self, conn: Connection, order: OrderSnapshot, payment: Payment) -> LedgerEntry:
        """Append the attempt and, in the same transaction, what carries it out: the command, or the
        loyalty credit; a payment the ledger refuses is failed at once and order_api told so."""
        key = uuid.uuid4()
        refund_id = payment.refund.id if payment.refund is not None else None
        entry = LedgerEntry(
            key, key, "requested", order.id, refund_id, payment.kind, payment.method, payment.amount,
            order.currency, None, datetime.now(UTC),
        )  # fmt: skip
        await self._store.append_entry(conn, entry)
        await self._publish.ledger(conn, "refund.requested", entry)
        if payment.refusal is not None:
            await self._refuse(conn, entry, payment.refusal.message)
        elif payment.method == "loyalty_money":
            await self._credit_loyalty(conn, order, entry)
        elif payment.method == "bank_transfer":
            account = None
            if payment.request is not None:
                account = await self._store.bank_account_of(conn, payment.request.request_id)
            if account is not None:
                await self._publish.command(conn, "refund.requested", refund_data(entry, account))
            else:
                await self._refuse(conn, entry, "no bank account to transfer the refund to")
        else:
            await self._publish.command(conn, f"{payment.kind}.requested", refund_data(entry))
        return entry

    async def _credit_loyalty(self, conn: Connection, order: OrderSnapshot, entry: LedgerEntry) -> None:
        """Loyalty money needs no payment service: credit the customer, and answer order_api as the
        payment service would."""
        if order.customer is None:
            await self._refuse(conn, entry, "the order has no customer to credit loyalty money to")
            return
        customer_id = order.customer.id
        balance = await self._store.credit_loyalty(conn, entry, customer_id)
        credited = LoyaltyCreditedData(
            order_id=order.id,
            customer_id=customer_id,
            ledger_entry_id=entry.idempotency_key,
            amount=entry.amount,
            currency=entry.currency,
            balance=balance,
        )
        await self._publish.event(conn, "loyalty.credited", order.id, credited)
        await self._publish.fact(conn, "payment.refunded", order.id, _answer(entry, LOYALTY_GATEWAY, None))

    async def _refuse(self, conn: Connection, entry: LedgerEntry, reason: str) -> None:
        """A payment the ledger may not make: settled as failed now, and order_api told so."""
        failed = dataclasses.replace(entry, entry_id=uuid.uuid4(), entry_type="failed", error=reason)
        await self._store.append_entry(conn, failed)
        await self._publish.ledger(conn, "refund.failed", failed)
        await self._publish.fact(conn, "payment.refund_failed", entry.order_id, _answer(entry, None, reason))

    async def _settle(self, conn: Connection, order: OrderSnapshot, settlement: Settlement) -> None:
        """Record the payment service's answer; a success is told to the customer when the refund asked,
        and completes the guest request it paid back."""
        requested = settlement.attempt.requested
        entry = dataclasses.replace(
            requested,
            entry_id=uuid.uuid4(),
            entry_type=settlement.outcome,
            error=settlement.error,
            created_at=datetime.now(UTC),
        )
        await self._store.append_entry(conn, entry)
        await self._publish.ledger(conn, f"refund.{settlement.outcome}", entry)
        refund = next((refund for refund in order.refunds if refund.id == requested.refund_id), None)
        if settlement.outcome != "succeeded" or refund is None:
            return
        if refund.notify:
            domain = self._ports.settings.message_id_domain
            notice = (
                refund_notice(order, refund.id, requested.amount, domain)
                if requested.kind == "refund"
                else void_notice(order, requested.amount, domain)
            )
            await self._publish.email(conn, notice)
        if refund.cancellation_request_id is not None:
            await self._requests.complete(conn, refund.cancellation_request_id, order)


def _answer(entry: LedgerEntry, gateway: str | None, error: str | None) -> PaymentFact:
    """The payment service's answer to `entry`, when the worker gives it itself."""
    return payment_answer(refund_data(entry), gateway, error)
