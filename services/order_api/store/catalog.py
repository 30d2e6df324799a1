"""The read models other services feed through orders.ingest: catalog variants and customers (and the
checkout records orders bring)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg

from shared.db import Connection
from shared.order_facts import CustomerDraft, CustomerFact, VariantFact
from shared.orders import CustomerSnapshot, OrderSnapshot


class VariantRows:
    """The catalog's product variants, through one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def upsert_variant(self, variant: VariantFact) -> None:
        await self.conn.execute(
            """INSERT INTO variants (id, product_id, title, variant_title, sku, vendor, price, currency, grams,
                   requires_shipping, taxable)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, title = excluded.title,
                   variant_title = excluded.variant_title, sku = excluded.sku, vendor = excluded.vendor,
                   price = excluded.price, currency = excluded.currency, grams = excluded.grams,
                   requires_shipping = excluded.requires_shipping, taxable = excluded.taxable,
                   updated_at = now()""",
            variant.id,
            variant.product_id,
            variant.title,
            variant.variant_title,
            variant.sku,
            variant.vendor,
            variant.price,
            variant.currency,
            variant.grams,
            variant.requires_shipping,
            variant.taxable,
        )

    async def fetch_variants(self, ids: Sequence[int]) -> dict[int, VariantFact]:
        if not ids:
            return {}
        rows = await self.conn.fetch(
            """SELECT id, product_id, title, variant_title, sku, vendor, price, currency, grams, requires_shipping,
                      taxable FROM variants WHERE id = ANY($1::bigint[])""",
            list(ids),
        )
        return {row["id"]: VariantFact.model_validate(dict(row)) for row in rows}


# A checkout record of an order's new-customer details ($1 to $6: `_record`), as INSERT ... SELECT so a
# WHERE can make it conditional.
_INSERT_RECORD: Final = """INSERT INTO customers (id, email, first_name, last_name, phone, accepts_marketing, state,
        created_at, updated_at)
    SELECT nextval('customer_id_seq'), $1, $2, $3, $4, $5, 'disabled', $6::timestamptz, $6::timestamptz"""


def _record(draft: CustomerDraft, now: datetime) -> tuple[object, ...]:
    return draft.email, draft.first_name, draft.last_name, draft.phone, bool(draft.accepts_marketing), now


CUSTOMER_COLUMNS: Final = """id, email, first_name, last_name, phone, accepts_marketing, state, note, tags,
    orders_count, total_spent, last_order_id, last_order_name, created_at, updated_at"""


def customer_of(row: asyncpg.Record | None) -> CustomerSnapshot:
    assert row is not None
    return CustomerSnapshot.model_validate(dict(row))


class CustomerRows:
    """Customers: registered accounts (`enabled`) and checkout records (`disabled`), through one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def fetch(self, customer_id: int, *, for_update: bool = False) -> CustomerSnapshot | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1{lock}", customer_id)
        return customer_of(row) if row else None

    async def upsert(self, fact: CustomerFact) -> None:
        """A registered account from the customer service: it is `enabled`."""
        await self.conn.execute(
            """INSERT INTO customers (id, email, first_name, last_name, phone, accepts_marketing, state, note, tags,
                   created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'enabled', $7, $8, now(), now())
               ON CONFLICT (id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
                   last_name = excluded.last_name, phone = excluded.phone,
                   accepts_marketing = excluded.accepts_marketing, state = 'enabled', note = excluded.note,
                   tags = excluded.tags, updated_at = now()""",
            fact.id,
            fact.email,
            fact.first_name,
            fact.last_name,
            fact.phone,
            fact.accepts_marketing,
            fact.note,
            fact.tags,
        )

    async def find_or_create(self, draft: CustomerDraft, now: datetime) -> CustomerSnapshot:
        """The checkout record an order's new-customer details describe: the one with that email, else a
        new one (a record, not an account: `disabled`). Registered accounts are never found here. One
        round trip: the lookup and the insert it may need are one statement."""
        if not draft.email:
            return customer_of(
                await self.conn.fetchrow(f"{_INSERT_RECORD} RETURNING {CUSTOMER_COLUMNS}", *_record(draft, now))
            )
        return customer_of(
            await self.conn.fetchrow(
                f"""WITH found AS (
                        SELECT {CUSTOMER_COLUMNS} FROM customers WHERE lower(email) = lower($1) AND state = 'disabled'
                        ORDER BY id LIMIT 1),
                    made AS ({_INSERT_RECORD} WHERE NOT EXISTS (SELECT FROM found) RETURNING {CUSTOMER_COLUMNS})
                    SELECT * FROM found UNION ALL SELECT * FROM made""",
                *_record(draft, now),
            )
        )

    async def record_order(self, customer_id: int, order: OrderSnapshot) -> CustomerSnapshot:
        """Count the order on its customer; returns the customer's record as it now stands."""
        return customer_of(
            await self.conn.fetchrow(
                f"""UPDATE customers SET orders_count = orders_count + 1, total_spent = total_spent + $2,
                        last_order_id = $3, last_order_name = $4, updated_at = $5
                    WHERE id = $1 RETURNING {CUSTOMER_COLUMNS}""",
                customer_id,
                order.total_price,
                order.id,
                order.name,
                order.updated_at,
            )
        )
