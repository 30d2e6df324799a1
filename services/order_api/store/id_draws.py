"""New orders' ids drawn together: the creates of one process that want ids at the same moment share
one round trip (gathering.py).

A create without a customer draws its ids (order id, order number, its objects' ids) in a round trip
of its own before it builds the order: one of a lean create's two statements. Drawn together, every id
is still drawn when a create wants it (ids and numbers rise in the order creates asked, as from the
sequences directly), and none is drawn ahead or kept back. Under load a draw serves several creates
(bench/README.md).
"""

from typing import Final

import asyncpg

from services.order_api.service.ports import NewIds
from services.order_api.store.gathering import Gathering
from shared.db import Statements


def new_ids(orders: str, objects: str) -> str:
    """Select-list columns drawing `orders` new order ids and order numbers and `objects` ids for their
    nested objects (SQL expressions: a parameter, a literal), read back with `ids_in`."""
    return (
        f"ARRAY(SELECT nextval('order_id_seq') FROM generate_series(1, {orders})) AS order_ids, "
        f"ARRAY(SELECT nextval('order_number_seq') FROM generate_series(1, {orders})) AS order_numbers, "
        f"ARRAY(SELECT nextval('object_id_seq') FROM generate_series(1, {objects})) AS object_ids"
    )


def ids_in(row: asyncpg.Record, objects: list[int]) -> list[NewIds]:
    """The ids `new_ids` drew for as many orders as `objects` has entries, each with that many object
    ids, in order."""
    object_ids = iter(row["object_ids"])
    return [
        (order_id, number, [next(object_ids) for _ in range(count)])
        for order_id, number, count in zip(row["order_ids"], row["order_numbers"], objects, strict=True)
    ]


_DRAW: Final = f"SELECT {new_ids('$1', '$2')}"


async def draw_ids(conn: Statements, objects: list[int]) -> list[NewIds]:
    """Ids for as many new orders as `objects` has entries, each with that many object ids, in order."""
    row = await conn.fetchrow(_DRAW, len(objects), sum(objects))
    assert row is not None
    return ids_in(row, objects)


class IdDraws(Gathering[int, NewIds]):
    """The draws of one process's creates (one per app: its pool, its database's sequences): each create
    asks for a new order id, order number and as many object ids as it names (gathering.py)."""

    def __init__(self) -> None:
        super().__init__(draw_ids)
