"""One process's creates sending the same statement at the same moment share one round trip.

A create that finds such a statement under way waits for it to end, and one of the creates that waited
then sends it for all of them, through its own `Statements` (its transaction's connection, or a pool
connection taken for that statement alone, so that a create waiting here holds none), in the order
they came; with no other create at that moment a create sends its own at once, so nothing waits for
company. Under load a round trip serves several creates (bench/README.md): the client's CPU per
statement (~90 us on this VM, most of a lean create's insert) and Postgres' per-statement work are paid
once for all of them.

When the shared statement fails, each create it carried sends its own: the one whose row caused the
failure gets its own error, and the others are answered (a statement fails whole, so it wrote none of
them). A statement that was interrupted instead (the connection broke, the create sending it was
cancelled) may have taken effect all the same; sending again is safe for the statements gathered here:
a second draw only leaves ids unused, and a second insert of an order fails on the order's id (drawn
for that create alone) rather than writing it twice.
"""

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.db import Statements

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Turn(enum.Enum):
    LEAD = "lead"  # nobody sent it yet: this create sends the next statement, for all waiting then
    ALONE = "alone"  # the statement carrying it failed: it sends its own


@dataclass(frozen=True, slots=True)
class _Served(Generic[Result]):
    result: Result


@dataclass(eq=False)
class _Want(Generic[Item, Result]):
    item: Item
    answer: "asyncio.Future[_Served[Result] | _Turn]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Gathering(Generic[Item, Result]):
    """One statement's sends in one process: `statement(conn, items)` answers each item, in order, in one
    round trip; at most `most` items go in one."""

    def __init__(
        self, statement: Callable[[Statements, list[Item]], Awaitable[Sequence[Result]]], *, most: int | None = None
    ) -> None:
        self._statement = statement
        self._most = most
        self._waiting: list[_Want[Item, Result]] = []
        self._sending = False

    @property
    def waiting(self) -> int:
        """The sends waiting for the next statement (not those of the statement under way)."""
        return len(self._waiting)

    async def send(self, conn: Statements, item: Item) -> Result:
        """`item`'s answer, from a statement on `conn` or on another create's connection."""
        want: _Want[Item, Result] = _Want(item)
        self._waiting.append(want)
        if self._sending:
            try:
                answer = await want.answer
            except asyncio.CancelledError:
                self._withdraw(want)
                raise
            if isinstance(answer, _Served):
                return answer.result
            if answer is _Turn.ALONE:
                return (await self._statement(conn, [item]))[0]
        self._sending = True
        batch = self._waiting[: self._most]
        self._waiting = self._waiting[len(batch) :]
        try:
            results = await self._statement(conn, [one.item for one in batch])
        except BaseException as error:
            for one in batch:
                if one is not want and not one.answer.done():
                    one.answer.set_result(_Turn.ALONE)
            self._next_turn()
            if len(batch) == 1 or not isinstance(error, Exception):
                raise
            return (await self._statement(conn, [item]))[0]
        for one, result in zip(batch, results, strict=True):
            if one is not want and not one.answer.done():
                one.answer.set_result(_Served(result))
        self._next_turn()
        return results[batch.index(want)]

    def _withdraw(self, want: _Want[Item, Result]) -> None:
        """A create cancelled while it waited: out of the queue, and its turn, if it had it, passed on."""
        if want in self._waiting:
            self._waiting.remove(want)
        if want.answer.done() and not want.answer.cancelled() and want.answer.result() is _Turn.LEAD:
            self._next_turn()

    def _next_turn(self) -> None:
        """The first create still waiting sends next, for all waiting then; none: nothing is under way."""
        while self._waiting:
            first = self._waiting[0]
            if not first.answer.done():
                first.answer.set_result(_Turn.LEAD)
                return
            self._waiting.pop(0)
        self._sending = False
