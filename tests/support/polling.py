"""Waiting for an asynchronous system to reach a state, with a deadline instead of sleeps."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout: float = 60.0, interval: float = 0.2
) -> T:
    """Call `probe` until `done(result)`; return that result, or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s; last result: {result!r}")
        await asyncio.sleep(interval)
