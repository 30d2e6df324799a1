"""A customer's erasure (design section 4): the records to mask (the customer's own and the checkout
records with its email), the masked values written back, and the erasures waiting for the customer's
orders. The masking itself is domain.anonymization's."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from services.order_api.store.catalog import CUSTOMER_COLUMNS, CustomerRows, customer_of
from shared.db import Statements
from shared.orders import CustomerSnapshot


class CustomerErasureRows:
    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def lock_customer(self, customer_id: int) -> CustomerSnapshot | None:
        """The customer's record, locked: the erasure and the anonymization of the customer's orders
        take this lock before they look at each other's rows."""
        return await CustomerRows(self.conn).fetch(customer_id, for_update=True)

    async def lock_checkout_records(self, email: str) -> list[CustomerSnapshot]:
        """The checkout records (`disabled`) with `email`, case-insensitively, locked, by id."""
        rows = await self.conn.fetch(
            f"""SELECT {CUSTOMER_COLUMNS} FROM customers WHERE state = 'disabled' AND lower(email) = lower($1)
                ORDER BY id FOR UPDATE""",
            email,
        )
        return [customer_of(row) for row in rows]

    async def save_masked(self, customers: Sequence[CustomerSnapshot]) -> int:
        """Write the customers' personal fields and `updated_at` back; how many rows."""
        await self.conn.executemany(
            """UPDATE customers SET email = $2, first_name = $3, last_name = $4, phone = $5, note = $6,
                   updated_at = $7 WHERE id = $1""",
            [(c.id, c.email, c.first_name, c.last_name, c.phone, c.note, c.updated_at) for c in customers],
        )
        return len(customers)

    async def has_orders_to_anonymize(self, customer_id: int) -> bool:
        """Whether an order of the customer is not anonymized yet."""
        found = await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = $1 AND NOT anonymized)", customer_id
        )
        return bool(found)

    async def wait(self, customer_id: int, request_id: uuid.UUID, now: datetime) -> None:
        """Record the request as waiting for the customer's orders (next to any request waiting already;
        the same request twice is kept once)."""
        await self.conn.execute(
            """INSERT INTO customer_erasures (customer_id, request_id, requested_at) VALUES ($1, $2, $3)
               ON CONFLICT (customer_id, request_id) DO NOTHING""",
            customer_id,
            request_id,
            now,
        )

    async def waiting(self, customer_id: int) -> list[uuid.UUID]:
        """The requests waiting for the customer's orders, oldest first."""
        rows = await self.conn.fetch(
            "SELECT request_id FROM customer_erasures WHERE customer_id = $1 ORDER BY requested_at, request_id",
            customer_id,
        )
        return [row["request_id"] for row in rows]

    async def forget_waiting(self, customer_id: int) -> list[uuid.UUID]:
        """Delete the customer's waiting requests; which they were."""
        rows = await self.conn.fetch(
            "DELETE FROM customer_erasures WHERE customer_id = $1 RETURNING request_id, requested_at", customer_id
        )
        return [row["request_id"] for row in sorted(rows, key=lambda row: (row["requested_at"], row["request_id"]))]
