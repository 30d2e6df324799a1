"""Gathering (services/order_api/store/gathering.py): a statement carries at most its limit of the creates
waiting, the rest go in the next; a shared statement that fails leaves each create it carried to send its
own, so only the create whose item fails gets an error."""

import asyncio
from typing import cast

import pytest

from services.order_api.store.gathering import Gathering
from shared.db import Statements

CONN = cast(Statements, object())


class DoublingStatement:
    """A statement that answers each item doubled, once its gate opens; any statement carrying a
    negative item fails whole."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.gate = asyncio.Event()

    async def __call__(self, _: Statements, items: list[int]) -> list[int]:
        self.sent.append(items)
        await self.gate.wait()
        if any(item < 0 for item in items):
            raise ValueError("a negative item")
        return [2 * item for item in items]


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_statement_carries_at_most_its_limit_and_the_rest_go_in_the_next() -> None:
    statements = DoublingStatement()
    gathering = Gathering(statements, most=2)
    sends = [asyncio.create_task(gathering.send(CONN, item)) for item in range(1, 6)]
    await _settle()
    statements.gate.set()
    assert await asyncio.wait_for(asyncio.gather(*sends), 5) == [2, 4, 6, 8, 10]
    assert statements.sent == [[1], [2, 3], [4, 5]]


async def test_a_failed_shared_statement_fails_only_the_create_whose_item_failed() -> None:
    statements = DoublingStatement()
    gathering = Gathering(statements)
    sends = [asyncio.create_task(gathering.send(CONN, item)) for item in (1, 2, -3, 4)]
    await _settle()
    statements.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 5)
    assert [results[0], results[1], results[3]] == [2, 4, 8]
    assert isinstance(results[2], ValueError)
    # [2, -3, 4] failed whole; each of them then sent its own.
    assert statements.sent[:2] == [[1], [2, -3, 4]]
    assert sorted(statements.sent[2:]) == [[-3], [2], [4]]


async def test_a_create_alone_that_fails_gets_its_error_without_a_second_try() -> None:
    statements = DoublingStatement()
    statements.gate.set()
    with pytest.raises(ValueError, match="a negative item"):
        await Gathering(statements).send(CONN, -1)
    assert statements.sent == [[-1]]
