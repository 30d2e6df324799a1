"""order_api's SQL. Nothing else touches its tables."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from services.order_api.domain.status_views import digital_river_state
from shared.db import Connection
from shared.orders import CustomerDraft, CustomerFact, CustomerSnapshot, OrderSnapshot, VariantFact


async def allocate_ids(conn: Connection, objects: int) -> tuple[int, int, list[int]]:
    """A new order id, order number, and `objects` ids for its nested objects, in one round trip."""
    row = await conn.fetchrow(
        """SELECT nextval('order_id_seq') AS id, nextval('order_number_seq') AS number,
                  ARRAY(SELECT nextval('object_id_seq') FROM generate_series(1, $1)) AS objects""",
        objects,
    )
    assert row is not None
    return row["id"], row["number"], list(row["objects"])


async def next_object_id(conn: Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('object_id_seq')")
    return value


def _columns(order: OrderSnapshot) -> list[Any]:
    refunded = sum((refund.amount for refund in order.refunds), Decimal(0))
    return [
        order.email,
        order.currency,
        order.status,
        order.financial_status,
        order.fulfillment_status,
        digital_river_state(order),
        order.fraud_state,
        order.customer.id if order.customer else None,
        order.guest,
        order.upstream_id,
        order.checkout_id,
        order.application_id,
        order.locale,
        order.customer_type,
        order.charge_type,
        order.subscription_id,
        order.browser_ip,
        sorted({item.sku for item in order.line_items if item.sku}),
        order.total_price,
        refunded,
        order.request_to_be_forgotten,
        order.anonymized,
        order.updated_at,
        order.processed_at,
        order.model_dump_json(),
    ]


_SET_COLUMNS = """email = $2, currency = $3, status = $4, financial_status = $5, fulfillment_status = $6,
    state = $7, fraud_state = $8, customer_id = $9, guest = $10, upstream_id = $11, checkout_id = $12,
    application_id = $13, locale = $14, customer_type = $15, charge_type = $16, subscription_id = $17,
    browser_ip = $18, skus = $19, total_price = $20, refunded_amount = $21, request_to_be_forgotten = $22,
    anonymized = $23, updated_at = $24, processed_at = $25, document = $26::text::jsonb"""


async def insert_order(conn: Connection, order: OrderSnapshot, fingerprint: str | None) -> None:
    await conn.execute(
        """INSERT INTO orders (id, email, currency, status, financial_status, fulfillment_status, state,
               fraud_state, customer_id, guest, upstream_id, checkout_id, application_id, locale, customer_type,
               charge_type, subscription_id, browser_ip, skus, total_price, refunded_amount,
               request_to_be_forgotten, anonymized, updated_at, processed_at, document,
               order_number, token, created_at, sequence, create_fingerprint)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                   $21, $22, $23, $24, $25, $26::text::jsonb, $27, $28, $29, 1, $30)""",
        order.id,
        *_columns(order),
        order.order_number,
        order.token,
        order.created_at,
        fingerprint,
    )


async def save_order(conn: Connection, order: OrderSnapshot) -> int:
    """Store a changed order; returns its new sequence."""
    sequence: int = await conn.fetchval(
        f"UPDATE orders SET {_SET_COLUMNS}, sequence = sequence + 1 WHERE id = $1 RETURNING sequence",
        order.id,
        *_columns(order),
    )
    return sequence


@dataclass(frozen=True, slots=True)
class StoredOrder:
    order: OrderSnapshot
    sequence: int


def _stored(row: asyncpg.Record) -> StoredOrder:
    return StoredOrder(OrderSnapshot.model_validate_json(row["document"]), row["sequence"])


async def fetch_order(conn: Connection, order_id: int, *, for_update: bool = False) -> StoredOrder | None:
    row = await conn.fetchrow(
        f"SELECT document::text AS document, sequence FROM orders WHERE id = $1{' FOR UPDATE' if for_update else ''}",
        order_id,
    )
    return _stored(row) if row else None


async def fetch_by_upstream_id(conn: Connection, upstream_id: str) -> tuple[StoredOrder, str | None] | None:
    row = await conn.fetchrow(
        "SELECT document::text AS document, sequence, create_fingerprint FROM orders WHERE upstream_id = $1",
        upstream_id,
    )
    return (_stored(row), row["create_fingerprint"]) if row else None


async def fetch_guest_order(conn: Connection, order_number: int, email: str) -> OrderSnapshot | None:
    """The guest order with this number and exactly this email. The match is made in SQL on the
    number's unique index, so a miss (no such number, another email, a registered customer's order)
    never reads or parses a document: only a full match does more work than a miss, and the time a
    miss takes says nothing about the order behind the number."""
    document = await conn.fetchval(
        "SELECT document::text FROM orders WHERE order_number = $1 AND email = $2 AND guest", order_number, email
    )
    return OrderSnapshot.model_validate_json(document) if document is not None else None


async def delete_order(conn: Connection, order_id: int) -> None:
    await conn.execute("DELETE FROM orders WHERE id = $1", order_id)


# ---- queries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters every dialect's list and count share; each is ANDed, None means no filter."""

    ids: Sequence[int] | None = None
    statuses: Sequence[str] | None = None
    financial_statuses: Sequence[str] | None = None
    fulfillment_statuses: Sequence[str | None] | None = None  # None inside: not fulfilled at all
    states: Sequence[str] | None = None
    upstream_ids: Sequence[str] | None = None
    customer_id: int | None = None
    checkout_id: str | None = None
    application_id: str | None = None
    email: str | None = None
    currency: str | None = None
    sku: str | None = None
    fraud_state: str | None = None
    browser_ip: str | None = None
    charge_type: str | None = None
    subscription_id: str | None = None
    refunded_amount: Decimal | None = None
    locale: str | None = None
    customer_type: str | None = None
    created_at_min: datetime | None = None
    created_at_max: datetime | None = None
    updated_at_min: datetime | None = None
    updated_at_max: datetime | None = None
    processed_at_min: datetime | None = None
    processed_at_max: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.replace("?", f"${len(args)}"))

        for column, values, cast in (
            ("id", self.ids, "bigint"),
            ("status", self.statuses, "text"),
            ("financial_status", self.financial_statuses, "text"),
            ("state", self.states, "text"),
            ("upstream_id", self.upstream_ids, "text"),
        ):
            if values is None:
                continue
            if len(values) == 1:  # plain equality lets an index on (column, ..., id) give the page in id order
                add(f"{column} = ?::{cast}", values[0])
            else:
                add(f"{column} = ANY(?::{cast}[])", list(values))
        if self.fulfillment_statuses is not None:
            named = [status for status in self.fulfillment_statuses if status is not None]
            unfulfilled = None in self.fulfillment_statuses
            args.append(named)
            clauses.append(
                f"(fulfillment_status = ANY(${len(args)}::text[])"
                + (" OR fulfillment_status IS NULL)" if unfulfilled else ")")
            )
        for column, value in (
            ("customer_id", self.customer_id),
            ("checkout_id", self.checkout_id),
            ("application_id", self.application_id),
            ("email", self.email),
            ("currency", self.currency),
            ("fraud_state", self.fraud_state),
            ("browser_ip", self.browser_ip),
            ("charge_type", self.charge_type),
            ("subscription_id", self.subscription_id),
            ("refunded_amount", self.refunded_amount),
            ("locale", self.locale),
            ("customer_type", self.customer_type),
        ):
            if value is not None:
                add(f"{column} = ?", value)
        if self.sku is not None:
            add("skus @> ARRAY[?::text]", self.sku)
        for column, low, high in (
            ("created_at", self.created_at_min, self.created_at_max),
            ("updated_at", self.updated_at_min, self.updated_at_max),
            ("processed_at", self.processed_at_min, self.processed_at_max),
        ):
            if low is not None:
                add(f"{column} >= ?", low)
            if high is not None:
                add(f"{column} <= ?", high)
        return (" AND ".join(clauses) or "true"), args


async def list_orders(
    conn: Connection,
    query: OrderQuery,
    *,
    limit: int,
    direction: Literal["asc", "desc"] = "desc",
    after_id: int | None = None,
    before_id: int | None = None,
    offset: int = 0,
) -> list[OrderSnapshot]:
    """Orders matching `query` by id: keyset bounds (`after_id`/`before_id`, exclusive) and an optional
    offset for page-numbered dialects."""
    where, args = query.where()
    for bound, op in ((after_id, ">"), (before_id, "<")):
        if bound is not None:
            args.append(bound)
            where += f" AND id {op} ${len(args)}"
    args.extend([limit, offset])
    # The page's ids first, from the filter's index alone where it covers the filter (an index-only
    # scan, also over an offset's skipped rows), then only those rows' documents from the table.
    rows = await conn.fetch(
        f"""SELECT document::text AS document, sequence FROM orders
            WHERE id = ANY(ARRAY(SELECT id FROM orders WHERE {where}
                                 ORDER BY id {direction} LIMIT ${len(args) - 1} OFFSET ${len(args)}))
            ORDER BY id {direction}""",
        *args,
    )
    return [_stored(row).order for row in rows]


async def count_orders(conn: Connection, query: OrderQuery) -> int:
    where, args = query.where()
    count: int = await conn.fetchval(f"SELECT count(*) FROM orders WHERE {where}", *args)
    return count


async def order_exists(conn: Connection, order_id: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)", order_id))


# ---- catalog and customers -------------------------------------------------------------------------


async def upsert_variant(conn: Connection, variant: VariantFact) -> None:
    await conn.execute(
        """INSERT INTO variants (id, product_id, title, variant_title, sku, vendor, price, currency, grams,
               requires_shipping, taxable)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, title = excluded.title,
               variant_title = excluded.variant_title, sku = excluded.sku, vendor = excluded.vendor,
               price = excluded.price, currency = excluded.currency, grams = excluded.grams,
               requires_shipping = excluded.requires_shipping, taxable = excluded.taxable, updated_at = now()""",
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


async def fetch_variants(conn: Connection, ids: Sequence[int]) -> dict[int, VariantFact]:
    if not ids:
        return {}
    rows = await conn.fetch(
        """SELECT id, product_id, title, variant_title, sku, vendor, price, currency, grams, requires_shipping,
                  taxable FROM variants WHERE id = ANY($1::bigint[])""",
        list(ids),
    )
    return {row["id"]: VariantFact.model_validate(dict(row)) for row in rows}


_CUSTOMER_COLUMNS = """id, email, first_name, last_name, phone, accepts_marketing, state, note, tags, orders_count,
    total_spent, last_order_id, last_order_name, created_at, updated_at"""


def _customer(row: asyncpg.Record) -> CustomerSnapshot:
    return CustomerSnapshot.model_validate(dict(row))


async def fetch_customer(conn: Connection, customer_id: int) -> CustomerSnapshot | None:
    row = await conn.fetchrow(f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE id = $1", customer_id)
    return _customer(row) if row else None


async def upsert_customer(conn: Connection, fact: CustomerFact) -> None:
    """A registered account from the customer service: it is `enabled`."""
    await conn.execute(
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


async def find_or_create_customer(conn: Connection, draft: CustomerDraft, now: datetime) -> CustomerSnapshot:
    """The checkout record an order's new-customer details describe: the one with that email, else a
    new one (a record, not an account: `disabled`). Registered accounts are never found here."""
    if draft.email:
        row = await conn.fetchrow(
            f"""SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE lower(email) = lower($1) AND state = 'disabled'
                ORDER BY id LIMIT 1""",
            draft.email,
        )
        if row is not None:
            return _customer(row)
    row = await conn.fetchrow(
        f"""INSERT INTO customers (id, email, first_name, last_name, phone, accepts_marketing, state,
                created_at, updated_at)
            VALUES (nextval('customer_id_seq'), $1, $2, $3, $4, $5, 'disabled', $6, $6)
            RETURNING {_CUSTOMER_COLUMNS}""",
        draft.email,
        draft.first_name,
        draft.last_name,
        draft.phone,
        bool(draft.accepts_marketing),
        now,
    )
    assert row is not None
    return _customer(row)


async def record_customer_order(conn: Connection, customer_id: int, order: OrderSnapshot) -> CustomerSnapshot:
    """Count the order on its customer; returns the customer as the order should show it."""
    row = await conn.fetchrow(
        f"""UPDATE customers SET orders_count = orders_count + 1, total_spent = total_spent + $2,
                last_order_id = $3, last_order_name = $4, updated_at = $5
            WHERE id = $1 RETURNING {_CUSTOMER_COLUMNS}""",
        customer_id,
        order.total_price,
        order.id,
        order.name,
        order.updated_at,
    )
    assert row is not None
    return _customer(row)


def fingerprint(body: Any) -> str:
    """A stable digest of a create request, to tell a retried create from a clashing one."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# ---- HTTP guards: Idempotency-Key records and rate-limit windows ------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What an Idempotency-Key holds: the first request's fingerprint and, once it finished, its answer."""

    fingerprint: str
    status: int | None  # None while the first request is still in flight
    headers: list[tuple[str, str]]
    body: bytes


async def claim_idempotency_key(
    conn: Connection, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
) -> KeyRecord | None:
    """Take `key` for a new request and return None, or return the record that holds it. An expired
    key is taken afresh; so is one whose in-flight holder outlived its lease (its instance died), but
    only by the same request, since the first may have had its effect."""
    while True:
        claimed = await conn.fetchval(
            """
            INSERT INTO idempotency_keys AS k (principal, key, fingerprint, locked_until, expires_at)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
            ON CONFLICT (principal, key) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = NULL, body = NULL,
                   locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
             WHERE k.expires_at <= now()
                OR (k.status IS NULL AND k.locked_until <= now() AND k.fingerprint = EXCLUDED.fingerprint)
            RETURNING true
            """,
            principal,
            key,
            fingerprint,
            lease_seconds,
            ttl_seconds,
        )
        if claimed:
            return None
        row = await conn.fetchrow(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
            principal,
            key,
        )
        if row is not None:  # else its holder released it just now: claim again
            headers = [(name, value) for name, value in row["headers"] or []]
            return KeyRecord(row["fingerprint"], row["status"], headers, row["body"] or b"")


async def complete_idempotency_key(
    conn: Connection, principal: str, key: str, *, status: int, headers: Sequence[tuple[str, str]], body: bytes
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE principal = $1 AND key = $2",
        principal,
        key,
        status,
        [list(header) for header in headers],
        body,
    )


async def release_idempotency_key(conn: Connection, principal: str, key: str) -> None:
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL", principal, key
    )


async def count_hits(conn: Connection, buckets: Sequence[str], window_seconds: int) -> list[tuple[str, int, float]]:
    """Count one request in each bucket's current fixed window; per bucket, the hits so far in the
    window and the seconds until it ends. Buckets are locked in the order given, so callers that
    list them in one consistent order cannot deadlock."""
    rows = await conn.fetch(
        """
        INSERT INTO rate_limit_windows AS w (bucket, window_start, window_end, hits)
        SELECT bucket, start, start + make_interval(secs => $2::integer), 1
          FROM unnest($1::text[]) WITH ORDINALITY AS b (bucket, position),
               (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer) AS start) AS s
         ORDER BY position
        ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
        RETURNING bucket, hits, extract(epoch FROM window_end - now())::float8 AS remaining
        """,
        list(buckets),
        window_seconds,
    )
    return [(row["bucket"], row["hits"], row["remaining"]) for row in rows]


async def purge_http_guards(conn: Connection) -> tuple[int, int]:
    """Delete expired Idempotency-Key records and ended rate-limit windows; how many of each."""
    keys = await conn.execute("DELETE FROM idempotency_keys WHERE expires_at <= now()")
    windows = await conn.execute("DELETE FROM rate_limit_windows WHERE window_end <= now()")
    return int(keys.split()[-1]), int(windows.split()[-1])
