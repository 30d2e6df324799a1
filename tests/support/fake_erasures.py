"""order_api's erasures in memory: an order's copies (idempotency keys, rate-limit windows, published
outbox rows) and a customer's records, on the other fake tables."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from shared.orders import CustomerSnapshot
from shared.outbox import UnsentEvents
from tests.support.fake_http_guards import FakeHttpGuardRecords

if TYPE_CHECKING:  # fake_store builds its tables from these
    from tests.support.fake_store import FakeCustomers, FakeOrders, FakeOutbox


class FakeErasures:
    """The erasure's deletes on the fake guards' keys and windows and the fake outbox's published events."""

    def __init__(self, guards: FakeHttpGuardRecords, outbox: "FakeOutbox") -> None:
        self.guards = guards
        self.outbox = outbox

    async def erase_order(self, order_id: int, number_buckets: str | None) -> dict[str, int]:
        key, outbox = str(order_id), self.outbox
        if any(event.subject == key for event in outbox.events[outbox.sent :]):
            raise UnsentEvents(f"events of {key} are not published yet")
        sent = [event for event in outbox.events[: outbox.sent] if event.subject == key]
        outbox.events = [event for event in outbox.events if event not in sent]
        outbox.sent -= len(sent)
        outbox.erased.extend(sent)
        keys = [name for name, held in self.guards.keys.items() if held.order_id == order_id]
        windows = [
            name for name in self.guards.windows if number_buckets is not None and name[0].startswith(number_buckets)
        ]
        for name in keys:
            del self.guards.keys[name]
        for window in windows:
            del self.guards.windows[window]
        return {
            "idempotency_keys": len(keys),
            "rate_windows": len(windows),
            "outbox": len(sent),
            "outbox_dead_letters": 0,
        }


class FakeCustomerErasures:
    """A customer's erasure on the fake customers and orders; `waiting_for` the requests waiting for
    each customer's orders, oldest first."""

    def __init__(self, customers: "FakeCustomers", orders: "FakeOrders") -> None:
        self.customers = customers
        self.orders = orders
        self.waiting_for: dict[int, list[uuid.UUID]] = {}

    async def lock_customer(self, customer_id: int) -> CustomerSnapshot | None:
        return self.customers.customers.get(customer_id)

    async def lock_checkout_records(self, email: str) -> list[CustomerSnapshot]:
        return [
            customer
            for _, customer in sorted(self.customers.customers.items())
            if customer.state == "disabled" and (customer.email or "").lower() == email.lower()
        ]

    async def save_masked(self, customers: Sequence[CustomerSnapshot]) -> int:
        for customer in customers:
            self.customers.customers[customer.id] = customer
        return len(customers)

    async def has_orders_to_anonymize(self, customer_id: int) -> bool:
        return any(
            row.order.customer is not None and row.order.customer.id == customer_id and not row.order.anonymized
            for row in self.orders.rows.values()
        )

    async def wait(self, customer_id: int, request_id: uuid.UUID, now: datetime) -> None:
        waiting = self.waiting_for.setdefault(customer_id, [])
        if request_id not in waiting:
            waiting.append(request_id)

    async def waiting(self, customer_id: int) -> list[uuid.UUID]:
        return list(self.waiting_for.get(customer_id, []))

    async def forget_waiting(self, customer_id: int) -> list[uuid.UUID]:
        return self.waiting_for.pop(customer_id, [])
