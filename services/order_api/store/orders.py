"""The orders table: each order stored whole as its snapshot (`document`), with the fields lists filter
on copied into indexed columns. A new order's first event goes into the outbox in the order's own
INSERT statement (one round trip), written as `shared.outbox` writes every row."""

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

import asyncpg

from services.order_api.domain.payments import refunded_amount
from services.order_api.domain.queries import OrderQuery, Page
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.ports import NewIds, UpstreamIdTaken
from services.order_api.store.gathering import Gathering
from services.order_api.store.id_draws import IdDraws, draw_ids
from services.order_api.store.order_counts import OrderCountRows, counted
from services.order_api.store.order_filters import where
from shared.db import Statements
from shared.events import Event
from shared.orders import OrderSnapshot
from shared.outbox import OUTBOX_COLUMNS, outbox_values
from shared.topics import ORDERS_EVENTS

# The columns every change rewrites, in the order `_values` gives them. `state` (Digital River's view
# of the status) is computed by Postgres from these (migration 0008).
_COLUMNS: Final = (
    "email",
    "currency",
    "status",
    "financial_status",
    "fulfillment_status",
    "fraud_state",
    "customer_id",
    "guest",
    "upstream_id",
    "checkout_id",
    "application_id",
    "locale",
    "customer_type",
    "charge_type",
    "subscription_id",
    "browser_ip",
    "skus",
    "total_price",
    "refunded_amount",
    "request_to_be_forgotten",
    "anonymized",
    "updated_at",
    "processed_at",
    "document",
)
_UPSTREAM_ID_KEY: Final = "orders_upstream_id_key"
# The most creates one insert statement carries (34 or 41 parameters each).
_MOST_NEW_ORDERS: Final = 32


def _values(order: OrderSnapshot, document: str) -> list[Any]:
    derived = {
        "customer_id": order.customer.id if order.customer else None,
        "skus": sorted({item.sku for item in order.line_items if item.sku}),
        "refunded_amount": refunded_amount(order),
        "document": document,
    }
    return [derived[name] if name in derived else getattr(order, name) for name in _COLUMNS]


def _placeholder(name: str, number: int) -> str:
    return f"${number}::text::jsonb" if name == "document" else f"${number}"


# $1 is the order's id; the columns follow.
_SET: Final = ", ".join(f"{name} = {_placeholder(name, n)}" for n, name in enumerate(_COLUMNS, start=2))
_ORDER_TARGET: Final = (
    f"INSERT INTO orders (id, {', '.join(_COLUMNS)}, order_number, token, created_at, sequence, create_fingerprint)"
)


def _order_values(shift: int = 0) -> str:
    """An order's row of VALUES: its id, the columns, its number, token, creation time, first sequence and
    the create's fingerprint, from parameters numbered from `shift` + 1."""
    return (
        f"${shift + 1}, {', '.join(_placeholder(name, shift + n) for n, name in enumerate(_COLUMNS, start=2))}, "
        f"${shift + len(_COLUMNS) + 2}, ${shift + len(_COLUMNS) + 3}, ${shift + len(_COLUMNS) + 4}, 1, "
        f"${shift + len(_COLUMNS) + 5}"
    )


_ORDER_VALUES: Final = _order_values()
_INSERT_ORDER: Final = f"{_ORDER_TARGET} VALUES ({_ORDER_VALUES})"
# The new order's first event's outbox row follows the order's parameters.
_FIRST_OUTBOX_PARAMETER: Final = len(_COLUMNS) + 6


def _outbox_values(shift: int = 0) -> str:
    return ", ".join(f"${shift + n}" for n in range(_FIRST_OUTBOX_PARAMETER, _FIRST_OUTBOX_PARAMETER + 5))


_OUTBOX_VALUES: Final = _outbox_values()


def _parameter(name: str, shift: int = 0) -> str:
    return f"${shift + _COLUMNS.index(name) + 2}"


# An order with a customer is counted on the customer's record in its own insert, from the order's own
# parameters and its name after the outbox row's: the record the order shows (`with_counted_customer`)
# is the one written here. An existing record is counted only if it is still at the version the order
# was built from (`_VERSION_PARAMETER`: its xmin, which any update changes; else nothing is written at
# all); a new one is made with the order counted, from the customer's details after the name.
_NAME_PARAMETER: Final = _FIRST_OUTBOX_PARAMETER + 5
_VERSION_PARAMETER: Final = _NAME_PARAMETER + 1
_COUNT_ON_CUSTOMER: Final = (
    f"UPDATE customers SET orders_count = orders_count + 1, total_spent = total_spent + {_parameter('total_price')}, "
    f"last_order_id = $1, last_order_name = ${_NAME_PARAMETER}, updated_at = {_parameter('updated_at')} "
    f"WHERE id = {_parameter('customer_id')} AND xmin::text = ${_VERSION_PARAMETER} RETURNING id"
)
_INSERT_COUNTED_ORDER_AND_EVENT: Final = (
    f"WITH counted AS ({_COUNT_ON_CUSTOMER}), "
    f"new_order AS ({_ORDER_TARGET} SELECT {_ORDER_VALUES} FROM counted) "
    f"INSERT INTO outbox ({OUTBOX_COLUMNS}) SELECT {_OUTBOX_VALUES} FROM counted"
)
_CUSTOMER_TARGET: Final = (
    "INSERT INTO customers (id, email, first_name, last_name, phone, accepts_marketing, created_at, state, "
    "updated_at, orders_count, total_spent, last_order_id, last_order_name)"
)


def _made_customer(shift: int = 0) -> str:
    """A new checkout record's row of VALUES, its order counted: from the order's parameters and, after
    the order's name, the customer's details (numbered from `shift` + 1)."""
    name = shift + _NAME_PARAMETER
    return (
        f"{_parameter('customer_id', shift)}, {', '.join(f'${name + n}' for n in range(1, 7))}, 'disabled', "
        f"{_parameter('updated_at', shift)}, 1, {_parameter('total_price', shift)}, ${shift + 1}, ${name}"
    )


# A new order's parameters: its order's and its event's outbox row's; one making its customer's record
# has the order's name and the customer's details after them.
_NEW_ORDER_PARAMETERS: Final = _FIRST_OUTBOX_PARAMETER + 4
_MADE_CUSTOMER_PARAMETERS: Final = _NAME_PARAMETER + 6


@functools.cache
def _new_orders(creates: int, *, making_customers: bool) -> str:
    """The orders of `creates` creates with their events' outbox rows (and, `making_customers`, their
    customers' new records) in one statement, in order, each create's parameters after the previous
    one's."""
    size = _MADE_CUSTOMER_PARAMETERS if making_customers else _NEW_ORDER_PARAMETERS
    shifts = range(0, creates * size, size)

    def rows(values: Callable[[int], str]) -> str:
        return ", ".join(f"({values(shift)})" for shift in shifts)

    made = f"made AS ({_CUSTOMER_TARGET} VALUES {rows(_made_customer)}), " if making_customers else ""
    return (
        f"WITH {made}new_order AS ({_ORDER_TARGET} VALUES {rows(_order_values)}) "
        f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES {rows(_outbox_values)}"
    )


async def _insert_new_orders(conn: Statements, creates: list[list[Any]], *, making_customers: bool) -> list[None]:
    await conn.execute(_new_orders(len(creates), making_customers=making_customers), *itertools.chain(*creates))
    return [None] * len(creates)


class NewOrders(Gathering[list[Any], None]):
    """The inserts of one process's creates whose orders count on no existing customer record (none, or
    one made with the order): the order with its `order.created` outbox row (and the new record), those
    at the same moment in one statement (gathering.py), at most `_MOST_NEW_ORDERS` of them: a prepared
    statement per number of creates it has carried."""

    def __init__(self, *, making_customers: bool) -> None:
        async def insert(conn: Statements, creates: list[list[Any]]) -> list[None]:
            return await _insert_new_orders(conn, creates, making_customers=making_customers)

        super().__init__(insert, most=_MOST_NEW_ORDERS)


@dataclass(frozen=True, eq=False)
class Gatherings:
    """What one process's creates send together (one per app: its pool, its database)."""

    draws: IdDraws = field(default_factory=IdDraws)
    without_customers: NewOrders = field(default_factory=lambda: NewOrders(making_customers=False))
    making_customers: NewOrders = field(default_factory=lambda: NewOrders(making_customers=True))


def _stored(row: asyncpg.Record) -> StoredOrder:
    return StoredOrder(OrderSnapshot.model_validate_json(row["document"]), row["sequence"])


class OrderRows:
    """The orders table, through `conn` (one connection and whatever transaction it is in, or the pool's
    connections a statement at a time); a create's new ids
    drawn, and its order inserted when it counts on no existing customer record, with the process's
    other creates through `gatherings`, or alone."""

    def __init__(self, conn: Statements, gatherings: Gatherings | None = None) -> None:
        self.conn = conn
        self.gatherings = gatherings

    async def allocate_ids(self, objects: int) -> NewIds:
        """A new order id, order number, and `objects` ids for its nested objects, in one round trip
        (perhaps another create's)."""
        if self.gatherings is None:
            return (await draw_ids(self.conn, [objects]))[0]
        return await self.gatherings.draws.send(self.conn, objects)

    async def next_object_id(self) -> int:
        value: int = await self.conn.fetchval("SELECT nextval('object_id_seq')")
        return value

    async def insert(
        self,
        order: OrderSnapshot,
        fingerprint: str | None,
        event: Callable[[StoredOrder], Event] | None = None,
        *,
        customer_version: str | None = None,
    ) -> StoredOrder | None:
        document = order.model_dump_json()
        first = StoredOrder(order, 1, document)
        row = [order.id, *_values(order, document), order.order_number, order.token, order.created_at, fingerprint]
        customer = order.customer
        try:
            if event is None:
                await self.conn.execute(_INSERT_ORDER, *row)
                return first
            outbox_row = outbox_values(ORDERS_EVENTS, event(first))
            if customer is None:
                await self._insert_new([*row, *outbox_row], making_customer=False)
            elif customer_version is None:
                details = (customer.email, customer.first_name, customer.last_name, customer.phone)
                made = [order.name, *details, customer.accepts_marketing, customer.created_at]
                await self._insert_new([*row, *outbox_row, *made], making_customer=True)
            else:
                status = await self.conn.execute(
                    _INSERT_COUNTED_ORDER_AND_EVENT, *row, *outbox_row, order.name, customer_version
                )
                if status.endswith(" 0"):  # the record moved on: nothing was written
                    return None
        except asyncpg.UniqueViolationError as error:
            _raise_taken(error)
        return first

    async def _insert_new(self, values: list[Any], *, making_customer: bool) -> None:
        # Another create's statement writes it only outside a transaction: in one, it is written by this
        # connection's, with the rest of the transaction.
        if self.gatherings is None or self.conn.is_in_transaction():
            await _insert_new_orders(self.conn, [values], making_customers=making_customer)
            return
        gatherings = self.gatherings
        await (gatherings.making_customers if making_customer else gatherings.without_customers).send(self.conn, values)

    async def save(self, order: OrderSnapshot) -> StoredOrder:
        document = order.model_dump_json()
        try:
            sequence: int = await self.conn.fetchval(
                f"UPDATE orders SET {_SET}, sequence = sequence + 1 WHERE id = $1 RETURNING sequence",
                order.id,
                *_values(order, document),
            )
        except asyncpg.UniqueViolationError as error:
            _raise_taken(error)
        return StoredOrder(order, sequence, document)

    async def fetch(self, order_id: int, *, for_update: bool = False) -> StoredOrder | None:
        row = await self.conn.fetchrow(
            "SELECT document::text AS document, sequence FROM orders WHERE id = $1"
            + (" FOR UPDATE" if for_update else ""),
            order_id,
        )
        return _stored(row) if row else None

    async def lock_all(self, order_ids: Sequence[int]) -> dict[int, StoredOrder]:
        # Locked in ascending id order (the sort is below the lock), so two overlapping calls never deadlock.
        rows = await self.conn.fetch(
            """SELECT id, document::text AS document, sequence FROM orders
               WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE""",
            list(order_ids),
        )
        return {row["id"]: _stored(row) for row in rows}

    async def fetch_for_change(self, order_id: int) -> tuple[StoredOrder, int] | None:
        # The id is drawn above the locked row (materialized first), so after the lock: of two changes
        # of one order, the one that locks it second draws the higher id, as with two round trips.
        row = await self.conn.fetchrow(
            """WITH locked AS MATERIALIZED (
                   SELECT document::text AS document, sequence FROM orders WHERE id = $1 FOR UPDATE)
               SELECT document, sequence, nextval('object_id_seq') AS object_id FROM locked""",
            order_id,
        )
        return (_stored(row), row["object_id"]) if row else None

    async def fetch_by_upstream_id(self, upstream_id: str) -> tuple[StoredOrder, str | None] | None:
        row = await self.conn.fetchrow(
            "SELECT document::text AS document, sequence, create_fingerprint FROM orders WHERE upstream_id = $1",
            upstream_id,
        )
        return (_stored(row), row["create_fingerprint"]) if row else None

    async def fetch_guest(self, order_number: int, email: str, *, for_update: bool = False) -> StoredOrder | None:
        """The guest order with this number and exactly this email (locked for this transaction's change
        with `for_update`), never an anonymized one (its email is `*`, and its guest is gone). The match
        is made in SQL on the number's unique index, so a miss (no such number, another email, a
        registered customer's order, an anonymized order) never reads or parses a document: only a full
        match does more work than a miss, and the time a miss takes says nothing about the order behind
        the number."""
        row = await self.conn.fetchrow(
            "SELECT document::text AS document, sequence FROM orders"
            " WHERE order_number = $1 AND email = $2 AND guest AND NOT anonymized"
            + (" FOR UPDATE" if for_update else ""),
            order_number,
            email,
        )
        return _stored(row) if row is not None else None

    async def delete(self, order_id: int) -> None:
        await self.conn.execute("DELETE FROM orders WHERE id = $1", order_id)

    async def list(self, query: OrderQuery, page: Page) -> list[OrderSnapshot]:
        """The page of the orders matching `query`: keyset bounds and an offset, in id order."""
        clauses, args = where(query)
        for bound, op in ((page.after_id, ">"), (page.before_id, "<")):
            if bound is not None:
                args.append(bound)
                clauses += f" AND id {op} ${len(args)}"
        args.extend([page.limit, page.offset])
        direction = "asc" if page.direction == "asc" else "desc"
        # The page's ids first, from the filter's index alone where it covers the filter (an index-only
        # scan, also over an offset's skipped rows), then only those rows' documents from the table.
        rows = await self.conn.fetch(
            f"""SELECT document::text AS document, sequence FROM orders
                WHERE id = ANY(ARRAY(SELECT id FROM orders WHERE {clauses}
                                     ORDER BY id {direction} LIMIT ${len(args) - 1} OFFSET ${len(args)}))
                ORDER BY id {direction}""",
            *args,
        )
        return [_stored(row).order for row in rows]

    async def count(self, query: OrderQuery) -> int:
        """By status, financial and fulfillment status alone: the sum of the counters' buckets; by any
        other filter, counted in the filter's index."""
        if counted(query):
            return await OrderCountRows(self.conn).count(query)
        return await self.count_matching(query)

    async def count_matching(self, query: OrderQuery) -> int:
        """How many orders match `query`, counted in the orders themselves (the filter's index): `count`
        for a filter the counters do not cover (and bench/order_list.py's figure beside the counters')."""
        clauses, args = where(query)
        count: int = await self.conn.fetchval(f"SELECT count(*) FROM orders WHERE {clauses}", *args)
        return count

    async def fold_counts(self) -> int:
        return await OrderCountRows(self.conn).fold()


def _raise_taken(error: asyncpg.UniqueViolationError) -> NoReturn:
    if error.constraint_name == _UPSTREAM_ID_KEY:
        raise UpstreamIdTaken(error.detail or "the upstream id names another order") from error
    raise error
