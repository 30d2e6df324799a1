"""IdDraws (services/order_api/store/id_draws.py): creates that want ids while a draw is under way are
served together by the next draw, in the order they asked; a create cancelled or failing meanwhile
leaves none of the others waiting (store/gathering.py, through its first user)."""

import asyncio
from typing import cast

import pytest

from services.order_api.service.ports import NewIds
from services.order_api.store.id_draws import IdDraws
from shared.db import Statements


class Sequences:
    """A connection whose draws (the one statement IdDraws sends) each wait for their gate to open,
    drawing from sequences as Postgres would; those in `failing` (by number) fail instead."""

    def __init__(self, *, open_gates: bool = False) -> None:
        self.order_id = 100
        self.number = 1000
        self.object_id = 5000
        self.draws: list[int] = []  # how many orders each draw served
        self.gates: list[asyncio.Event] = []
        self.open_gates = open_gates
        self.failing: set[int] = set()

    async def fetchrow(self, _: str, orders: int, objects: int) -> dict[str, list[int]]:
        self.draws.append(orders)
        gate = asyncio.Event()
        if self.open_gates:
            gate.set()
        self.gates.append(gate)
        await gate.wait()
        if len(self.draws) - 1 in self.failing:
            raise ConnectionResetError("the connection broke")
        order_ids = list(range(self.order_id + 1, self.order_id + orders + 1))
        numbers = list(range(self.number + 1, self.number + orders + 1))
        object_ids = list(range(self.object_id + 1, self.object_id + objects + 1))
        self.order_id, self.number, self.object_id = order_ids[-1], numbers[-1], self.object_id + objects
        return {"order_ids": order_ids, "order_numbers": numbers, "object_ids": object_ids}


def _asking(draws: IdDraws, conn: Sequences, objects: int = 1) -> "asyncio.Task[NewIds]":
    """A create asking `draws` for its ids on `conn`, under way."""
    return asyncio.create_task(draws.send(cast(Statements, conn), objects))


async def _answer(task: "asyncio.Task[NewIds]") -> NewIds:
    """The create's ids; a create left waiting fails the test instead of hanging it."""
    return await asyncio.wait_for(task, 5)


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_creates_waiting_for_a_draw_share_the_next_one_in_the_order_they_asked() -> None:
    conn, draws = Sequences(), IdDraws()
    first = _asking(draws, conn)
    await _settle()
    waiting = [_asking(draws, conn, objects) for objects in (2, 0, 1)]
    await _settle()
    conn.gates[0].set()
    await _settle()
    conn.gates[1].set()
    ids: list[NewIds] = [await _answer(first), *[await _answer(task) for task in waiting]]
    assert conn.draws == [1, 3]
    assert ids == [(101, 1001, [5001]), (102, 1002, [5002, 5003]), (103, 1003, []), (104, 1004, [5004])]


async def test_a_create_alone_draws_at_once() -> None:
    conn, draws = Sequences(open_gates=True), IdDraws()
    assert await _answer(_asking(draws, conn, 2)) == (101, 1001, [5001, 5002])
    assert await _answer(_asking(draws, conn, 0)) == (102, 1002, [])
    assert conn.draws == [1, 1]


async def test_a_cancelled_waiter_leaves_the_others_served() -> None:
    conn, draws = Sequences(), IdDraws()
    first = _asking(draws, conn)
    await _settle()
    gone, staying = (_asking(draws, conn) for _ in range(2))
    await _settle()
    gone.cancel()
    conn.gates[0].set()
    await _settle()
    conn.gates[1].set()
    assert (await _answer(first))[0] == 101
    assert (await _answer(staying))[0] == 102
    assert gone.cancelled()
    assert conn.draws == [1, 1]


async def test_a_waiter_cancelled_on_its_turn_passes_the_turn_on() -> None:
    conn, draws = Sequences(), IdDraws()
    first = _asking(draws, conn)
    await _settle()
    next_in_turn = _asking(draws, conn)
    await _settle()
    later = _asking(draws, conn)
    await _settle()
    conn.open_gates = True
    conn.gates[0].set()
    # Runs right after the first draw handed the turn on, before the next create takes it.
    asyncio.get_running_loop().call_soon(next_in_turn.cancel)
    assert (await _answer(first))[0] == 101
    assert (await _answer(later))[0] == 102  # drawn by itself: the turn went on
    assert next_in_turn.cancelled()
    assert conn.draws == [1, 1]


async def test_a_failed_shared_draw_leaves_each_create_to_draw_alone() -> None:
    conn, draws = Sequences(), IdDraws()
    first = _asking(draws, conn)
    await _settle()
    others = [_asking(draws, conn) for _ in range(2)]
    await _settle()
    # The second draw (the second create's, for both waiting) fails, and so does that create's own next.
    conn.failing.update({1, 2})
    conn.open_gates = True
    conn.gates[0].set()
    assert (await _answer(first))[0] == 101
    with pytest.raises(ConnectionResetError):
        await _answer(others[0])
    assert (await _answer(others[1]))[0] == 102
    assert conn.draws == [1, 2, 1, 1]
