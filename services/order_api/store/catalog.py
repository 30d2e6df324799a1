"""The read models other services feed through orders.ingest: catalog variants and customers (and the
checkout records orders bring)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg

from services.order_api.service.ports import NewIds, OrderCustomer
from services.order_api.store.id_draws import ids_in, new_ids
from shared.db import Statements
from shared.order_facts import CustomerDraft, CustomerFact, VariantFact
from shared.orders import CustomerSnapshot


class VariantRows:
    """The catalog's product variants, through `conn` (`shared.db.Statements`)."""

    def __init__(self, conn: Statements) -> None:
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


# The checkout record with the email $1 (the first: two concurrent first orders of one email may make two).
_BY_EMAIL: Final = "FROM customers WHERE lower(email) = lower($1) AND state = 'disabled' ORDER BY id LIMIT 1"
# A new checkout record from `_record`'s parameters as `CUSTOMER_COLUMNS` and its version (none: not
# written yet), for an order whose insert makes it (`OrderRows.insert`).
_NEW_RECORD: Final = """nextval('customer_id_seq'), $1::text, $2::text, $3::text, $4::text, $5::boolean, 'disabled',
    NULL::text, '', 0, 0::numeric, NULL::bigint, NULL::text, $6::timestamptz, $6::timestamptz, NULL::text"""


def _record(draft: CustomerDraft, now: datetime) -> tuple[object, ...]:
    return draft.email, draft.first_name, draft.last_name, draft.phone, bool(draft.accepts_marketing), now


CUSTOMER_COLUMNS: Final = """id, email, first_name, last_name, phone, accepts_marketing, state, note, tags,
    orders_count, total_spent, last_order_id, last_order_name, created_at, updated_at"""


def customer_of(row: asyncpg.Record | None) -> CustomerSnapshot:
    assert row is not None
    return CustomerSnapshot.model_validate(dict(row))


class CustomerRows:
    """Customers: registered accounts (`enabled`) and checkout records (`disabled`), through `conn`
    (`shared.db.Statements`)."""

    def __init__(self, conn: Statements) -> None:
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

    async def find_or_draw_for_order(
        self, draft: CustomerDraft, now: datetime, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds]:
        """The checkout record with the draft's email (the first, locked with `lock`), else a new one drawn
        from the draft and not yet written, with a new order's ids drawn once the lock is held: one round
        trip."""
        new_record = f"SELECT {_NEW_RECORD}"
        if draft.email:
            found = f"SELECT {CUSTOMER_COLUMNS}, xmin::text AS version {_BY_EMAIL}{' FOR UPDATE' if lock else ''}"
            chosen = f"""WITH found AS MATERIALIZED ({found}),
                chosen AS MATERIALIZED (
                    SELECT * FROM found UNION ALL {new_record} WHERE NOT EXISTS (SELECT FROM found))"""
        else:
            chosen = f"WITH chosen ({CUSTOMER_COLUMNS}, version) AS ({new_record})"
        row = await self.conn.fetchrow(
            f"{chosen} SELECT chosen.*, {new_ids('1', '$7')} FROM chosen", *_record(draft, now), objects
        )
        assert row is not None
        return _order_customer(row), ids_in(row, [objects])[0]

    async def read_for_order(
        self, customer_id: int, objects: int, *, lock: bool
    ) -> tuple[OrderCustomer, NewIds] | None:
        """The customer (locked until the transaction ends with `lock`) with a new order's ids, drawn once
        the lock is held (above the materialized lock, as `OrderRows.fetch_for_change` draws its id);
        None, drawing nothing, when there is no such customer. One round trip."""
        row = await self.conn.fetchrow(
            f"""WITH chosen AS MATERIALIZED (
                    SELECT {CUSTOMER_COLUMNS}, xmin::text AS version FROM customers
                    WHERE id = $1{" FOR UPDATE" if lock else ""})
                SELECT chosen.*, {new_ids("1", "$2")} FROM chosen""",
            customer_id,
            objects,
        )
        return (_order_customer(row), ids_in(row, [objects])[0]) if row else None


def _order_customer(row: asyncpg.Record) -> OrderCustomer:
    """The record as read, and its version: the row's xmin, which every update of the row changes."""
    return OrderCustomer(customer_of(row), row["version"])
