"""New orders' ids drawn together: the creates of one process that want ids at the same moment share
one round trip.

A create without a customer draws its ids (order id, order number, its objects' ids) in a round trip
of its own before it builds the order: one of a lean create's two statements. Here a create that finds
a draw under way waits for it to end, and one of the creates that waited then draws for all of them,
on its own connection, in the order they came; so every id is still drawn when a create wants it (ids
and numbers rise in the order creates asked, as from the sequences directly), none is drawn ahead or
kept back, and with no other create at that moment a create draws alone, at once. Under load a draw
serves two or three creates (bench/README.md).
"""

import asyncio
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from services.order_api.service.ports import NewIds
from shared.db import Connection


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


async def draw_ids(conn: Connection, objects: list[int]) -> list[NewIds]:
    """Ids for as many new orders as `objects` has entries, each with that many object ids, in order."""
    row = await conn.fetchrow(_DRAW, len(objects), sum(objects))
    assert row is not None
    return ids_in(row, objects)


@dataclass(eq=False)
class _Want:
    objects: int
    # Its ids once another create drew them; None when it is this create's turn to draw.
    answer: asyncio.Future[NewIds | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class IdDraws:
    """The draws of one process's creates (one per app: its pool, its database's sequences)."""

    def __init__(self) -> None:
        self._waiting: list[_Want] = []
        self._drawing = False

    async def draw(self, conn: Connection, objects: int) -> NewIds:
        """A new order id, order number and `objects` object ids, drawn on `conn` or by another create."""
        want = _Want(objects)
        self._waiting.append(want)
        if self._drawing:
            try:
                answer = await want.answer
            except asyncio.CancelledError:
                self._withdraw(want)
                raise
            if answer is not None:
                return answer
        self._drawing = True
        batch, self._waiting = self._waiting, []
        try:
            drawn = await draw_ids(conn, [one.objects for one in batch])
        except BaseException:
            # The others draw again, one of them for all (this one's error is its own connection's).
            self._waiting[:0] = [one for one in batch if one is not want and not one.answer.done()]
            self._next_turn()
            raise
        for one, ids in zip(batch, drawn, strict=True):
            if one is not want and not one.answer.done():
                one.answer.set_result(ids)
        self._next_turn()
        return drawn[batch.index(want)]

    def _withdraw(self, want: _Want) -> None:
        """A create cancelled while it waited: out of the queue, and its turn, if it had it, passed on."""
        if want in self._waiting:
            self._waiting.remove(want)
        if want.answer.done() and not want.answer.cancelled() and want.answer.result() is None:
            self._next_turn()

    def _next_turn(self) -> None:
        """The first create still waiting draws next, for all waiting then; none: no draw is under way."""
        while self._waiting:
            first = self._waiting[0]
            if not first.answer.done():
                first.answer.set_result(None)
                return
            self._waiting.pop(0)
        self._drawing = False
